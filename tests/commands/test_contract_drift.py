"""The examples of docs/differences.md ("Recording a deliberate difference"), run: with the
recording the drifted sandbox is green and faults are still caught; without it the difference
is named."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO, RunChecks

EVERY_TIER = ("-m", "postdeploy or daily or weekly", "--umbrella-allow-destructive")


def _examples() -> list[tuple[list[str], str, str]]:
    readme = (REPO / "docs" / "differences.md").read_text(encoding="utf-8")
    section = readme.split("## Recording a deliberate difference", 1)[1].split("\n## ", 1)[0]
    found = []
    for block in re.findall(r"```toml\n(.*?)```", section, re.S):
        drift = re.search(r"^# drift: (.+)$", block, re.M)
        without = re.search(r"^# without it: (.+)$", block, re.M)
        assert drift, block
        assert without, block
        found.append((drift.group(1).split(), without.group(1).strip(), block))
    return found


EXAMPLES = [pytest.param(*example, id=example[0][0]) for example in _examples()]


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize(("faults", "without", "recording"), EXAMPLES)
def test_the_recorded_difference_is_green(
    run_checks: RunChecks, faults: list[str], without: str, recording: str
) -> None:
    # The recording alone: umbrella.toml only restates the built-in defaults.
    run = run_checks(*EVERY_TIER, faults=faults, config=recording)
    assert run.failed_names() == [], {n: run.message_of(n) for n in run.failed_names()}


@pytest.mark.parametrize(("faults", "without", "recording"), EXAMPLES)
def test_without_the_recording_the_difference_is_named(
    run_checks: RunChecks, faults: list[str], without: str, recording: str
) -> None:
    run = run_checks(*EVERY_TIER, faults=faults)
    if without == "nothing fails":
        assert run.failed_names() == []
        return
    assert run.failed_names(), "the drift went unnoticed"
    assert any(without in run.message_of(name) for name in run.failed_names())


@pytest.mark.parametrize(
    ("faults", "example", "failing"),
    [
        pytest.param(
            ["usage-in-body", "rate-limit-per-minute"],
            "usage-in-body",
            "test_quota_stays_closed_after_a_minute",
            id="per-minute-window-seen-from-the-prompts",
        ),
        pytest.param(
            ["envelope-missing=/v1/health", "wrong-environment"],
            "envelope-missing=/v1/health",
            "test_health_reports_the_expected_environment",
            id="wrong-environment-in-a-bare-health",
        ),
        pytest.param(
            ["ids-differ", "cors-origins-differ", "cors-missing"],
            "ids-differ",
            "test_cors_preflight_allows_each_configured_origin",
            id="cors-lost-with-per-environment-origins",
        ),
    ],
)
def test_faults_are_still_caught_in_the_recorded_shape(
    run_checks: RunChecks, faults: list[str], example: str, failing: str
) -> None:
    recording = next(block for drift, _, block in _examples() if drift[0] == example)
    run = run_checks(*EVERY_TIER, faults=faults, config=recording)
    assert failing in run.failed_names()
