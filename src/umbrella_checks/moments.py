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
