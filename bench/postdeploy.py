"""Benchmark: the post-deploy tier's wall time, request count and import cost.

Runs ``pytest -m postdeploy --umbrella-sandbox`` serially, sending as checks ask (``[http]
concurrency = 1``, before) and with the tier's planned requests sent together (after), with no
injected latency and with every answer 200 ms away (the sandbox's ``distance`` fault); then the
plugin's import time; then, with ``--loaded N``, N repeats of a healthy run under full CPU load
(``-n auto`` plus a busy loop on every core) counting latency failures; and N runs
(``--one-at-a-time N``, default 20) against a healthy target that serves one request at a
time without Server-Timing, counting latency failures. With ``--runtime-venv
DIR`` the "after" runs are repeated in a virtualenv holding only ``pip install .`` — what the
shipped workflows install — built in DIR on first use, this checkout reinstalled each time.
Usage:
``python bench/postdeploy.py [repeats] [--loaded N] [--one-at-a-time N] [--runtime-venv DIR]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
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
FAILED = re.compile(r"(\d+) failed")
SERIAL_CONFIG = "\n[env.development.http]\nconcurrency = 1\n"


def run_tier(
    latency_ms: int, *extra: str, config: str | None = None, python: str = sys.executable
) -> tuple[float, int, str]:
    args = [python, "-m", "pytest", "-m", "postdeploy", "--umbrella-sandbox", "-q"]
    args += ["-p", "no:cacheprovider", *extra]
    if latency_ms:
        # Network distance (the sandbox's distance fault): a healthy target 200 ms away, whose
        # budgets still pass. (slow=*:MS would be the service's own time: checks would fail.)
        args.append(f"--umbrella-sandbox-fault=distance={latency_ms}")
    with tempfile.TemporaryDirectory() as scratch:
        args.append(f"--umbrella-reports-dir={scratch}")
        env = dict(os.environ)
        if config is not None:
            path = Path(scratch) / "umbrella.toml"
            path.write_text((REPO / "umbrella.toml").read_text() + config, encoding="utf-8")
            env["UMBRELLA_CONFIG"] = str(path)
        started = time.perf_counter()
        done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - started
    found = REQUESTS.search(done.stdout)
    return elapsed, int(found.group(1)) if found else -1, done.stdout


def runtime_python(folder: Path) -> str:
    """The Python of a virtualenv with only the suite's run-time dependencies installed, and
    this checkout's code (reinstalled: ``pip install .`` copies the code)."""
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", str(REPO)], check=True, timeout=900
        )
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--force-reinstall",
            str(REPO),
        ],
        check=True,
        timeout=900,
    )
    return str(python)


def import_time() -> tuple[float, list[str]]:
    """Microseconds to import the plugin and its run-time modules; heavy modules it pulled in."""
    code = (
        "import sys, umbrella_checks.plugin, umbrella_checks.wiring.hooks,"
        " umbrella_checks.wiring.fixtures;"
        "print(','.join(m for m in ('locust', 'gevent', 'flask', 'zmq') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    total = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].rstrip() in (
            " umbrella_checks.plugin",
            " umbrella_checks.wiring.hooks",
            " umbrella_checks.wiring.fixtures",
        ):
            total += int(parts[1])  # cumulative µs, children included
    heavy = [m for m in done.stdout.strip().split(",") if m]
    return total / 1000, heavy


def _busy() -> None:
    while True:
        pass


def loaded_runs(repeats: int) -> None:
    burners = [
        multiprocessing.Process(target=_busy, daemon=True) for _ in range(os.cpu_count() or 1)
    ]
    for burner in burners:
        burner.start()
    try:
        failures = 0
        for _ in range(repeats):
            _, _, output = run_tier(0, "-n", "auto")
            failures += len(re.findall(r"FAILED .*latency_budget", output))
    finally:
        for burner in burners:
            burner.terminate()
    print(
        f"under full CPU load (-n auto + a busy loop per core): {failures} latency failures "
        f"in {repeats} healthy runs"
    )


# A target like `wrangler dev --local`: one workerd process serving one request at a time, no
# Server-Timing, every answer taking 15 ms of the service's own time (inside every budget).
ONE_AT_A_TIME = (
    "--umbrella-sandbox-fault=one-at-a-time",
    "--umbrella-sandbox-fault=no-server-timing",
    "--umbrella-sandbox-fault=slow=*:15",
)


def one_at_a_time_runs(repeats: int) -> None:
    planned = run_tier(0)[1]  # what the tier plans, on a target that serves all at once
    failures, requests, took = 0, [], []
    for _ in range(repeats):
        elapsed, sent, output = run_tier(0, *ONE_AT_A_TIME)
        failures += len(re.findall(r"FAILED .*latency_budget", output))
        requests.append(sent)
        took.append(elapsed)
    print(
        f"healthy one-at-a-time target, no Server-Timing, 15 ms per answer: {failures} latency "
        f"failures in {repeats} runs; requests per run {min(requests)}-{max(requests)} (the "
        f"tier plans {planned}; the rest confirm misses one at a time); median run "
        f"{statistics.median(took):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repeats", nargs="?", type=int, default=3)
    parser.add_argument("--loaded", type=int, default=0, metavar="N")
    parser.add_argument("--one-at-a-time", type=int, default=20, metavar="N")
    parser.add_argument("--runtime-venv", type=Path, metavar="DIR")
    args = parser.parse_args()
    cache = "off (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(
        f"postdeploy tier against the sandbox, median of {args.repeats} runs, "
        f"{os.cpu_count()} cores, bytecode cache {cache}"
    )
    runtime = runtime_python(args.runtime_venv) if args.runtime_venv else None
    print(
        f"{'latency':>8} {'before s':>9} {'after s':>8} {'requests':>9}"
        + (f" {'after s, pip install . only':>28}" if runtime else "")
    )
    failed = 0
    for latency in (0, 50, 200):
        results = {}
        runs_of = {"before": {"config": SERIAL_CONFIG}, "after": {}}
        if runtime:
            runs_of["runtime"] = {"python": runtime}
        for label, options in runs_of.items():
            runs = [run_tier(latency, **options) for _ in range(args.repeats)]
            results[label] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
            failed += sum(int(m.group(1)) for r in runs for m in FAILED.finditer(r[2]))
        print(
            f"{latency:>6}ms {results['before'][0]:>9.2f} {results['after'][0]:>8.2f} "
            f"{results['after'][1]:>9}" + (f" {results['runtime'][0]:>28.2f}" if runtime else "")
        )
    print(f"checks failed in these runs (a healthy target: 0 expected): {failed}")
    millis, heavy = import_time()
    print(
        f"import of the plugin, its hooks and fixtures: {millis:.0f} ms; heavy modules "
        f"loaded: {', '.join(heavy) or 'none'}"
    )
    if args.one_at_a_time:
        one_at_a_time_runs(args.one_at_a_time)
    if args.loaded:
        loaded_runs(args.loaded)


if __name__ == "__main__":
    main()
