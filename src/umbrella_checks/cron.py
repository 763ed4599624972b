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
class Run:
    id: str
    status: str
    start: datetime
    error_message: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Run:
        return cls(
            str(row["id"]),
            str(row["status"]),
            parse_time(str(row["start_time"])),
            row.get("error_message"),
        )


def missing_run(runs: list[Run], due: datetime) -> str | None:
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


def failed_run(runs: list[Run]) -> Run | None:
    """The latest run, when it failed."""
    if not runs:
        return None
    latest = max(runs, key=lambda run: run.start)
    return latest if latest.status == "failed" else None


def stuck_runs(runs: list[Run], now: datetime, timeout: timedelta) -> list[Run]:
    return [run for run in runs if run.status == "running" and now - run.start > timeout]
