"""Cron recency near midnight, with fixed clocks (no sleeping, no real time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from umbrella_checks.cron import Run, due_since, failed_run, missing_run, stuck_runs
from umbrella_checks.migrations import naming_problems

DAILY = ["0 0 * * *"]
GRACE = timedelta(minutes=30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(start: str, status: str = "completed") -> Run:
    return Run(start, status, at(start), None)


YESTERDAYS = [run("2026-11-25T00:00:02")]


@pytest.mark.parametrize(
    ("now", "due"),
    [
        pytest.param("2026-11-26T00:10:00", "2026-11-25T00:00:00", id="00:10-inside-grace"),
        pytest.param("2026-11-26T00:45:00", "2026-11-26T00:00:00", id="00:45-past-grace"),
        pytest.param("2026-11-26T23:59:59", "2026-11-26T00:00:00", id="23:59"),
        pytest.param("2026-11-26T00:30:00", "2026-11-25T00:00:00", id="exactly-grace"),
    ],
)
def test_due_time_respects_grace(now: str, due: str) -> None:
    assert due_since(DAILY, at(now), GRACE) == at(due)


def test_at_0010_with_only_yesterdays_run_is_fine() -> None:
    due = due_since(DAILY, at("2026-11-26T00:10:00"), GRACE)
    assert missing_run(YESTERDAYS, due) is None


def test_at_0045_with_no_run_since_midnight_fails() -> None:
    due = due_since(DAILY, at("2026-11-26T00:45:00"), GRACE)
    problem = missing_run(YESTERDAYS, due)
    assert problem == (
        "no completed run since 2026-11-26 00:00:00Z; "
        "last completed run started 2026-11-25 00:00:02Z"
    )


def test_several_schedules_take_the_latest() -> None:
    due = due_since(["0 0 * * *", "0 12 * * *"], at("2026-11-26T13:00:00"), GRACE)
    assert due == at("2026-11-26T12:00:00")


def test_a_failed_latest_run_is_reported() -> None:
    runs = [*YESTERDAYS, Run("r2", "failed", at("2026-11-26T00:00:02"), "boom")]
    assert failed_run(runs) == runs[1]
    assert failed_run(YESTERDAYS) is None


def test_running_too_long_is_stuck_but_a_fresh_run_is_not() -> None:
    runs = [run("2026-11-26T00:00:02", "running")]
    assert stuck_runs(runs, at("2026-11-26T00:20:00"), timedelta(hours=1)) == []
    assert stuck_runs(runs, at("2026-11-26T01:30:00"), timedelta(hours=1)) == runs


@pytest.mark.parametrize(
    ("files", "problems"),
    [
        pytest.param(["0001_a.sql", "0002_b.sql"], [], id="clean"),
        pytest.param(["0001_a.sql", "0003_c.sql"], ["0002: missing"], id="gap"),
        pytest.param(["0001_a.sql", "0001_b.sql"], ["0001: used by 2 files"], id="duplicate"),
        pytest.param(["0002_b.sql"], ["0001: missing"], id="not-from-0001"),
        pytest.param(["0001_a.sql", "2_b.sql"], ["2_b.sql: not named"], id="bad-name"),
    ],
)
def test_migration_naming(files: list[str], problems: list[str]) -> None:
    found = naming_problems(files)
    assert len(found) == len(problems)
    for fragment, problem in zip(problems, found, strict=True):
        assert problem.startswith(fragment)
