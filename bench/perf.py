"""Benchmarks for the release gate; prints figures, asserts nothing.

1. P95 accuracy: a sandbox route answering 90% at 100 ms and 10% at 600 ms (true P95: 600 ms);
   Locust's reported P95 beside the exact P95 of every raw sample.
2. Generator capacity: requests per second one Locust process (one core, FastHttpUser) drives
   against the sandbox's cheapest route, beside wrk (Debian package) on the same route.

Usage: ``python bench/perf.py [seconds]``. Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def start_sandbox(*faults: str) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "umbrella_checks.sandbox"]
    for fault in faults:
        args += ["--fault", fault]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["url"]


def run_locust(url: str, seconds: int, users: int, wait: float) -> dict[str, object]:
    env = {**os.environ, "BENCH_WAIT": str(wait)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(BENCH / "p95_locustfile.py"),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--stop-timeout",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
        check=False,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return dict(json.loads(line.removeprefix("BENCH ")))


def accuracy(seconds: int) -> None:
    sandbox, url = start_sandbox("slow=/v1/health:100,600@10")
    try:
        result = run_locust(url, seconds, users=20, wait=0)
    finally:
        sandbox.terminate()
    samples = sorted(float(s) for s in result["samples"])  # type: ignore[attr-defined]
    exact = statistics.quantiles(samples, n=100, method="inclusive")[94]
    reported = float(result["locust_p95"])  # type: ignore[arg-type]
    print(f"P95 accuracy ({len(samples)} requests, 90% at 100 ms / 10% at 600 ms):")
    print("  true P95 (by construction)   600 ms")
    print(f"  exact P95 of raw samples     {exact:.0f} ms")
    print(
        f"  Locust's reported P95        {reported:.0f} ms "
        f"({(reported - 600) / 600:+.1%} vs true, {(reported - exact) / exact:+.1%} vs exact)"
    )


def capacity(seconds: int) -> None:
    sandbox, url = start_sandbox()
    try:
        locust = run_locust(url, seconds, users=32, wait=0)
        print(
            "Generator capacity against the sandbox's GET /v1/health "
            f"({os.cpu_count()} cores; the sandbox is one Python process):"
        )
        print(f"  Locust, 1 process, FastHttpUser, 32 users   {float(locust['rps']):8.0f} req/s")  # type: ignore[arg-type]
        wrk = shutil.which("wrk")
        if wrk is None:
            print(
                "  wrk                                         not installed (apt-get install wrk)"
            )
            return
        out = subprocess.run(
            [wrk, "-t1", "-c32", f"-d{seconds}s", f"{url}/v1/health"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        print(
            f"  wrk, 1 thread, 32 connections               "
            f"{float(match.group(1)) if match else float('nan'):8.0f} req/s"
        )
    finally:
        sandbox.terminate()


if __name__ == "__main__":
    duration = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    accuracy(duration)
    capacity(max(5, duration // 2))
