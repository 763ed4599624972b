"""When the daily analytics cron must last have run, and what ``cron_logs`` says it did.

Schedules come from wrangler.toml and are evaluated with croniter, in UTC as Cloudflare does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from umbrella_checks.moments import utc_text


def parse_time(value: str) -> datetime:
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def due_since(crons: list[str], now: datetime, grace: timedelta) -> datetime:
    """The latest scheduled time whose run must have finished by ``now``.

    A run gets ``grace`` to finish: within that window after a scheduled time, the previous
    scheduled time is the one that counts.
    """
    from croniter import croniter  # here: the post-deploy tier imports this module, never runs it

    reference = now - grace
    return max(croniter(expr, reference).get_prev(datetime) for expr in crons)


def invalid_crons(crons: list[str]) -> list[str]:
    from croniter import croniter

    return [expr for expr in crons if not croniter.is_valid(expr)]


@dataclass(frozen=True)
class CronRun:
    """One row of ``cron_logs``."""

    id: str
    status: str
    start: datetime
    error_message: str | None
    # How long a finished run took (duration_ms, else end_time - start_time), in seconds.
    took: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CronRun:
        start = parse_time(str(row["start_time"]))
        took: float | None = None
        if row.get("duration_ms") is not None:
            took = float(row["duration_ms"]) / 1000
        elif row.get("end_time"):
            took = (parse_time(str(row["end_time"])) - start).total_seconds()
        return cls(str(row["id"]), str(row["status"]), start, row.get("error_message"), took)


def missing_run(runs: list[CronRun], due: datetime) -> str | None:
    """None when a completed run started at or after ``due``; else what is wrong."""
    if any(run.status == "completed" and run.start >= due for run in runs):
        return None
    completed = [run for run in runs if run.status == "completed"]
    last = (
        f"last completed run started {utc_text(max(r.start for r in completed))}"
        if completed
        else "no completed run on record"
    )
    return f"no completed run since {utc_text(due)}; {last}"


def failed_run(runs: list[CronRun]) -> CronRun | None:
    """The latest run, when it failed."""
    if not runs:
        return None
    latest = max(runs, key=lambda run: run.start)
    return latest if latest.status == "failed" else None


# Two rows of one scheduled run start together: Cloudflare fires the trigger once.
SAME_RUN = timedelta(seconds=60)
TERMINAL = ("completed", "failed")


def orphaned_rows(runs: list[CronRun]) -> list[tuple[CronRun, CronRun]]:
    """(running row, terminal row) pairs of one scheduled run: the job logged its end as a new
    row instead of updating the one it started, so a 'running' row stays forever."""
    finished = [run for run in runs if run.status in TERMINAL]
    pairs = []
    for run in runs:
        if run.status != "running":
            continue
        twin = next((f for f in finished if abs(f.start - run.start) <= SAME_RUN), None)
        if twin is not None:
            pairs.append((run, twin))
    return pairs


def running_limit(runs: list[CronRun], timeout: timedelta) -> timedelta:
    """How long a run may be 'running' before it is stuck: three times the longest completed
    run plus a minute (the job's own pace), never more than ``timeout`` ([cron]
    running_timeout, also the limit when no completed run says how long the job takes)."""
    took = [run.took for run in runs if run.status == "completed" and run.took is not None]
    if not took:
        return timeout
    return min(timeout, timedelta(seconds=3 * max(took) + 60))


def stuck_runs(runs: list[CronRun], now: datetime, limit: timedelta) -> list[CronRun]:
    """Rows 'running' for longer than ``limit`` that no terminal row of the same run explains
    (those are ``orphaned_rows``: a logging defect, reported once, by its own check)."""
    orphaned = {running.id for running, _ in orphaned_rows(runs)}
    return [
        run
        for run in runs
        if run.status == "running" and now - run.start > limit and run.id not in orphaned
    ]
