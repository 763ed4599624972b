"""How ``cron_logs`` rows are read and judged, rule by rule: durations, the schedule's due
run, the same scheduled run logged twice, and when a running row is stuck. The cron checks
themselves are proven on the sandbox's database (test_database_checks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from umbrella_checks.operations.cron import (
    CronRun,
    missing_run,
    orphaned_rows,
    parse_time,
    running_limit,
    stuck_runs,
)

MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)


def _run(status: str, start: datetime, took: float | None = None, id: str = "r") -> CronRun:
    return CronRun(id, status, start, None, took)


@pytest.mark.parametrize(
    ("row", "took"),
    [
        pytest.param({"duration_ms": 1500}, 1.5, id="duration-ms"),
        pytest.param({"end_time": "2026-12-01T00:00:42Z"}, 42.0, id="end-minus-start"),
        pytest.param({"end_time": "2026-12-01 00:02:00"}, 120.0, id="sqlite-text-without-zone"),
        pytest.param({}, None, id="still-running"),
    ],
)
def test_a_rows_duration(row: dict[str, object], took: float | None) -> None:
    run = CronRun.from_row(
        {"id": 1, "status": "completed", "start_time": "2026-12-01T00:00:00Z", **row}
    )
    assert run.took == took


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        pytest.param("2026-12-01 00:00:00", MIDNIGHT, id="no-zone-is-utc"),
        pytest.param("2026-12-01T01:00:00+01:00", MIDNIGHT, id="a-zone-is-kept"),
    ],
)
def test_times_without_a_zone_are_utc(text: str, moment: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == moment
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize(
    ("start", "missing"),
    [
        pytest.param(MIDNIGHT, False, id="started-at-the-due-time-counts"),
        pytest.param(MIDNIGHT - timedelta(seconds=1), True, id="a-second-early-is-yesterdays"),
    ],
)
def test_the_due_run_may_start_exactly_at_its_time(start: datetime, missing: bool) -> None:
    found = missing_run([_run("completed", start)], MIDNIGHT)
    assert (found is not None) == missing


@pytest.mark.parametrize(
    ("apart", "paired"),
    [
        pytest.param(60, True, id="60s-apart-one-run"),
        pytest.param(61, False, id="61s-apart-two-runs"),
    ],
)
def test_two_rows_within_a_minute_are_one_scheduled_run(apart: int, paired: bool) -> None:
    running = _run("running", MIDNIGHT, id="a")
    done = _run("completed", MIDNIGHT + timedelta(seconds=apart), 5.0, id="b")
    assert (orphaned_rows([running, done]) == [(running, done)]) == paired


def test_only_completed_runs_set_the_pace() -> None:
    runs = [
        _run("completed", MIDNIGHT, 10.0),
        _run("failed", MIDNIGHT, 500.0),
        _run("completed", MIDNIGHT, None),
    ]
    assert running_limit(runs, timedelta(hours=1)) == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("running_for", "stuck"),
    [
        pytest.param(timedelta(minutes=30), False, id="at-the-limit-not-stuck"),
        pytest.param(timedelta(minutes=30, seconds=1), True, id="past-the-limit-stuck"),
    ],
)
def test_a_run_is_stuck_only_past_its_limit(running_for: timedelta, stuck: bool) -> None:
    run = _run("running", MIDNIGHT)
    found = stuck_runs([run], MIDNIGHT + running_for, timedelta(minutes=30))
    assert found == ([run] if stuck else [])
