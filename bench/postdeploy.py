"""Benchmark: the post-deploy tier's wall time and request count against the sandbox.

Runs ``pytest -m postdeploy --sandbox`` serially and with ``-n auto``, with no injected latency
and with 200 ms on every request, and prints one table. Usage: ``python bench/postdeploy.py``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUESTS = re.compile(r"umbrella: (\d+) requests sent to the target")


def run_tier(latency_ms: int, parallel: bool) -> tuple[float, int]:
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "postdeploy",
        "--sandbox",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if latency_ms:
        args.append(f"--sandbox-fault=slow=*:{latency_ms}")
    if parallel:
        args += ["-n", "auto"]
    with tempfile.TemporaryDirectory() as reports:
        args.append(f"--reports-dir={reports}")
        started = time.perf_counter()
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - started
    found = REQUESTS.search(done.stdout)
    return elapsed, int(found.group(1)) if found else -1


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"postdeploy tier against the sandbox, median of {repeats} runs, {os.cpu_count()} cores")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so every xdist worker recompiles the suite")
    print(f"{'latency':>8} {'mode':>9} {'wall s':>7} {'requests':>9} {'vs serial':>10}")
    for latency in (0, 200):
        serial = 0.0
        for parallel in (False, True):
            times, counts = [], []
            for _ in range(repeats):
                elapsed, count = run_tier(latency, parallel)
                times.append(elapsed)
                counts.append(count)
            wall = statistics.median(times)
            serial = serial or wall
            mode = "-n auto" if parallel else "serial"
            ratio = f"{wall / serial:.0%}" if parallel else ""
            print(f"{latency:>6}ms {mode:>9} {wall:>7.2f} {max(counts):>9} {ratio:>10}")


if __name__ == "__main__":
    main()
