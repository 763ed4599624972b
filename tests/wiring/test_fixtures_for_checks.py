"""The plugin's fixtures as a check of the team's own would use them: what the target said
about itself, and the destructive guard on any check that carries the marker."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunChecks

OWN_CHECKS = """
import pytest


def test_reads_what_the_target_said(target_probe):
    assert target_probe.reported.environment == "development"


@pytest.mark.destructive
def test_changes_state_without_asking():
    pass
"""


def test_a_check_of_our_own_reads_the_probe_and_is_guarded(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_own.py").write_text(OWN_CHECKS, encoding="utf-8")
    run = run_checks("checks/test_own.py")
    assert run.passed_names() == ["test_reads_what_the_target_said"]
    assert run.skipped_names() == ["test_changes_state_without_asking"]
    assert "--umbrella-allow-destructive" in run.message_of("test_changes_state_without_asking")
