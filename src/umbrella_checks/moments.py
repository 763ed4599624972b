"""Moments as the runbook speaks of them: UTC, to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_text(moment: datetime) -> str:
    """``2026-11-27 00:00:00Z``: how every message shows a time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def next_utc_midnight(now: datetime) -> datetime:
    """When a per-UTC-day window (Violet's quota, the analytics cron) next starts."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )


def window_seen(until: timedelta) -> str:
    """How far away a reset is, for messages about a reset that is not where the window says:
    within two minutes it can only be a per-minute window (a daily one resets at its day's
    end); further away, the distance alone names no window, so only the distance is said."""
    seconds = until.total_seconds()
    if seconds <= 0:
        return "a reset in the past"
    if seconds <= 120:
        return f"a reset {seconds:.0f} s away: a per-minute window"
    if seconds <= 7200:
        return f"a reset {seconds / 60:.0f} min away"
    return f"a reset {seconds / 3600:.1f} h away"
