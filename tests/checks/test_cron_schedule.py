"""Cron recency near midnight, with fixed clocks (no sleeping, no real time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from umbrella_checks.operations.cron import (
    CronRun,
    due_since,
    failed_run,
    missing_run,
    orphaned_rows,
    running_limit,
    stuck_runs,
)
from umbrella_checks.operations.migrations import naming_problems

DAILY = ["0 0 * * *"]
GRACE = timedelta(minutes=30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(start: str, status: str = "completed", took: float | None = None) -> CronRun:
    return CronRun(f"{start}-{status}", status, at(start), None, took)


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
    runs = [*YESTERDAYS, CronRun("r2", "failed", at("2026-11-26T00:00:02"), "boom")]
    assert failed_run(runs) == runs[1]
    assert failed_run(YESTERDAYS) is None


HOUR = timedelta(hours=1)
FOUR_SECOND_NIGHTS = [run(f"2026-11-2{d}T00:00:02", took=4.0) for d in (3, 4, 5)]


def test_at_0030_a_run_still_going_since_midnight_is_stuck() -> None:
    """The job takes 4 s; the nightly run at 00:30 must not wait for running_timeout (1 h)."""
    tonight = run("2026-11-26T00:00:02", "running")
    runs = [*FOUR_SECOND_NIGHTS, tonight]
    limit = running_limit(runs, HOUR)
    assert limit == timedelta(seconds=72)
    assert stuck_runs(runs, at("2026-11-26T00:30:00"), limit) == [tonight]


def test_the_limit_is_running_timeout_without_history_or_for_a_slow_job() -> None:
    assert running_limit([run("2026-11-26T00:00:02", "running")], HOUR) == HOUR
    assert running_limit([run("2026-11-25T00:00:02", took=7200.0)], HOUR) == HOUR


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_running_row_beside_its_own_finished_row_is_orphaned_at_once(status: str) -> None:
    finished = run("2026-11-26T00:00:02", status, took=4.0)
    running = run("2026-11-26T00:00:03", "running")
    runs = [*FOUR_SECOND_NIGHTS, finished, running]
    assert orphaned_rows(runs) == [(running, finished)]
    # Reported once, by its own check: not also "stuck", even hours later.
    assert stuck_runs(runs, at("2026-11-26T09:00:00"), running_limit(runs, HOUR)) == []


def test_a_running_row_of_another_run_is_not_orphaned() -> None:
    runs = [run("2026-11-25T00:00:02", took=4.0), run("2026-11-26T00:00:02", "running")]
    assert orphaned_rows(runs) == []


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
