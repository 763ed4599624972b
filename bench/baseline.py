"""Benchmark: the baseline comparison's false-alarm rate.

The same healthy sandbox measured twice — a baseline (``--umbrella-baseline-out``), then the
post-deploy gate compared with it (``--umbrella-baseline``) — N times (default 20), each pair in
processes of its own as CI runs them; counts the runs that named a route "slower than before
the deploy", and the gate's verdicts. A second pass does the same with one route really slower
after the baseline (``slow=/v1/gigs:150``, inside its 400 ms budget), to show the test still
sees a real shift. Usage: ``python bench/baseline.py [N]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from umbrella_checks.sandbox import Sandbox, parse_faults  # noqa: E402


def pytest_run(sandbox: Sandbox, scratch: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "UMBRELLA_USER_TOKEN": sandbox.accounts["user"].token,
        "UMBRELLA_ADMIN_TOKEN": sandbox.accounts["admin"].token,
    }
    command = [sys.executable, "-m", "pytest", "-m", "postdeploy", "-q", "-p", "no:cacheprovider"]
    command += [f"--base-url={sandbox.url}", "--umbrella-environment=development"]
    command += [f"--umbrella-reports-dir={scratch}", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def pair(slower_after: str | None) -> tuple[bool, str]:
    """One baseline and one gate on a fresh healthy sandbox: was anything named slower, and the
    gate's verdict."""
    sandbox = Sandbox().start()
    try:
        with tempfile.TemporaryDirectory() as scratch_dir:
            scratch = Path(scratch_dir)
            baseline = scratch / "baseline.json"
            pytest_run(sandbox, scratch, f"--umbrella-baseline-out={baseline}")
            if slower_after:
                sandbox.switch(parse_faults([slower_after]))
            verdict = scratch / "verdict"
            gate = pytest_run(
                sandbox,
                scratch,
                f"--umbrella-baseline={baseline}",
                f"--umbrella-verdict-file={verdict}",
            )
            word = verdict.read_text(encoding="utf-8").strip() if verdict.exists() else "none"
            return "slower than before the deploy" in gate.stdout, word
    finally:
        sandbox.stop()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for label, fault in (
        ("the same healthy sandbox twice", None),
        ("gigs 150 ms slower after", "slow=/v1/gigs:150"),
    ):
        named, verdicts = 0, Counter[str]()
        for _ in range(runs):
            slower, word = pair(fault)
            named += slower
            verdicts[word] += 1
        listed = ", ".join(f"{count} {word}" for word, count in sorted(verdicts.items()))
        print(f"{label}: named slower in {named} of {runs} runs; verdicts: {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
