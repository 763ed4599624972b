"""Waiting for the target's next minute: a per-minute rate limit resets on the target's clock,
so even a wait under a second is waited (a check that skipped it would count two windows as
one)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from umbrella_checks.target.answer import Answer
from umbrella_checks.target.clock import TargetClock


def test_a_wait_under_a_second_is_still_waited() -> None:
    now = datetime.now(UTC)
    # The target said hh:mm:59 0.7 s ago: its next minute (+0.2 s) is about 0.5 s away.
    said = now.replace(second=59, microsecond=0)
    date = format_datetime(said, usegmt=True)
    seen = now - timedelta(seconds=0.7)
    answer = Answer(
        "GET",
        "http://t/v1/health",
        httpx.Response(200, headers={"Date": date}),
        0.0,
        received_at=seen,
    )
    planned = TargetClock.until_next_minute(answer, now)
    assert 0 < planned < 1
    started = time.monotonic()
    TargetClock().pass_minute_boundary(answer)
    assert time.monotonic() - started >= planned - 0.05
