"""The burst must not be what breaks the target: what is in flight follows what the target
handles (``target/pacing.py``), and a stall or a platform 503 seen only inside the burst is
asked again alone before it becomes a root cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, RunChecks

# A read timeout short enough that a stall costs the test two seconds, not ten.
QUICK = (REPO / "umbrella.toml").read_text() + '\n[env.development.http]\nread_timeout = "2s"\n'


@pytest.mark.parametrize(
    ("fault", "seen"),
    [
        pytest.param("burst-stall=3", "no answer within the read timeout", id="stall"),
        pytest.param("burst-503=3", "the platform's own 503 page", id="platform-503"),
    ],
)
def test_a_target_overwhelmed_by_the_burst_is_not_broken(
    run_checks: RunChecks, tmp_path: Path, fault: str, seen: str
) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks(
        "-m", "postdeploy", f"--umbrella-verdict-file={verdict}", faults=[fault], config=QUICK
    )
    assert verdict.read_text() == "healthy\n"
    assert run.failed_names() == []
    (line,) = [line for line in run.output.splitlines() if "among the tier's requests" in line]
    assert seen in line
    assert "the burst was more than the target handles at once" in line


def test_a_hang_alone_is_still_a_hang(run_checks: RunChecks, tmp_path: Path) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks(
        "checks/test_health.py", f"--umbrella-verdict-file={verdict}", faults=["hang"], config=QUICK
    )
    assert verdict.read_text() == "broken\n"
    assert "it accepts connections but hangs" in run.output
