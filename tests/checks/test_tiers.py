"""Which checks run in which tier, and at which severity: the rules the markers must keep.

Which check is in which tier is written once, beside the check (its markers), and shown in
docs/checks.md's generated table: a marker lost in a refactor changes that page, and
``test_the_generated_parts_of_the_docs_are_current`` fails until it is regenerated and the diff
reviewed — the way a changed threshold shows in docs/keys.md. No list here to extend by hand;
these tests hold the rules every check must keep, whichever it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunChecks

TIERS = ("postdeploy", "daily", "weekly")


def _checks(pytester: pytest.Pytester) -> list[pytest.Item]:
    items, _ = pytester.inline_genitems("--base-url=http://127.0.0.1:9")
    assert len(items) > 20  # the suite's checks were collected
    return items


def test_every_check_runs_in_a_tier(pytester: pytest.Pytester, suite_dir: Path) -> None:
    """A check in no tier never runs after deploys, at night or on Sundays."""
    orphans = [
        item.nodeid
        for item in _checks(pytester)
        if not any(item.get_closest_marker(tier) for tier in TIERS)
    ]
    assert orphans == []


def test_the_gate_and_the_nightly_run_change_nothing_unasked(run_checks: RunChecks) -> None:
    """The post-deploy gate runs against production after every deploy, and the daily tier
    every night: a check in them that changes state or uses quota (a status-matrix row that
    posts) runs only when asked (``--umbrella-allow-destructive``), never by default."""
    run = run_checks("-m", "destructive and (postdeploy or daily)")
    assert run.outcomes  # such rows exist, and were selected
    assert run.passed_names() == []
    assert run.failed_names() == []
    for name in run.skipped_names():
        assert run.message_of(name).startswith("safety guard: destructive checks are off")


def test_the_gate_judges_health_and_the_schema(pytester: pytest.Pytester, suite_dir: Path) -> None:
    """The runbook's rollback triggers are judged right after a deploy: every health check and
    the migrations are in the post-deploy tier (and the morning health check's daily one)."""
    for item in _checks(pytester):
        if item.path.name == "test_health.py" or "migration" in item.name:
            assert item.get_closest_marker("postdeploy"), item.nodeid
            assert item.get_closest_marker("daily"), item.nodeid


def test_each_check_has_one_severity_and_matrix_rows_follow_their_status(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    """The SEV an incident draft and an alert carry when a check fails: every check says one
    (its own marker or its module's), and a status-matrix row takes it from its status — a route
    that should refuse (401, 403) is SEV-1, an auth hole; every other row SEV-2."""
    for item in _checks(pytester):
        marker = item.get_closest_marker("severity")
        assert marker is not None, f"{item.nodeid} has no severity"
        assert marker.args[0] in ("SEV-1", "SEV-2", "SEV-3"), item.nodeid
        if "test_route_answers_its_status[" in item.nodeid:
            refuses = "-> 401" in item.nodeid or "-> 403" in item.nodeid
            assert marker.args[0] == ("SEV-1" if refuses else "SEV-2"), item.nodeid
