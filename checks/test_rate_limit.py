"""Runbook › Weekly Review › Security Review: "Verify rate limiting is working (Violet: 50/day)".

A limit that quietly resets every minute, or lets the 51st prompt through, costs real money at
the AI provider. The read-only checks are safe against production; the ones that use up a
quota are destructive and run only on staging, preview or the sandbox.
"""

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from umbrella_checks.api import (
    Answer,
    ApiClient,
    CouldNotCheck,
    Exhaustion,
    Planner,
    Secret,
    Settings,
    TargetClock,
    Usage,
    cannot_judge,
    credential,
    exhaust,
    fail,
    next_utc_midnight,
    require_destructive,
    saw,
    sends,
    utc_text,
    window_seen,
)


def _the_usage_answer(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.violet.usage_path, who="user")


# The read-only checks share one usage answer (``usage``); destructive ones declare nothing.
pytestmark = [
    pytest.mark.weekly,
    pytest.mark.severity("SEV-2"),
    sends(_the_usage_answer, shared=True),
]


@pytest.fixture(scope="module")
def usage(pytestconfig: pytest.Config, api: ApiClient, settings: Settings) -> Answer:
    """One read of the test user's usage; the read-only checks share it."""
    answer = api.get(settings.config.violet.usage_path, token=credential(pytestconfig, "user"))
    answer.expect_status(200)
    return answer


def test_violet_limit_is_the_documented_one(usage: Answer, settings: Settings) -> None:
    """A limit above the documented 50 a day costs real money at the AI provider; one below it
    refuses users what they were promised."""
    violet = settings.config.violet
    seen = Usage.of(usage, violet)
    if seen.limit != violet.daily_limit:
        where = violet.headers.limit if seen.source == "header" else violet.limit_field
        usage.fail(f"{where}: {violet.daily_limit}", str(seen.limit))
    if seen.source == "header":
        usage.expect_field(violet.limit_field, violet.daily_limit)


def test_violet_remaining_matches_usage(usage: Answer, settings: Settings) -> None:
    """Clients show users what they have left; the counters must agree."""
    violet = settings.config.violet
    limit = violet.daily_limit
    seen = Usage.of(usage, violet)
    where = violet.headers.remaining if seen.source == "header" else violet.remaining_field
    body_remaining = usage.field(violet.remaining_field)
    if seen.remaining != limit - seen.used or seen.remaining != body_remaining:
        usage.fail(
            f"{where}: {limit - seen.used} (limit {limit} - used {seen.used} in the body)",
            str(seen.remaining),
            "the limiter and the usage counter disagree; check the KV/D1 counters",
        )
    saw(
        where,
        seen.remaining,
        f"expected limit {limit} - used {seen.used}, as {violet.remaining_field} says",
    )


def test_violet_window_is_daily(usage: Answer, settings: Settings) -> None:
    """A per-minute window lets a user send 50 prompts every minute instead of every day.
    Judged by the target's clock (its ``Date``), as every window here is."""
    violet = settings.config.violet
    seen = Usage.of(usage, violet)
    where = violet.headers.reset if seen.source == "header" else violet.reset_field
    now = TargetClock.of(usage)
    midnight = next_utc_midnight(now)
    slack = timedelta(seconds=violet.reset_slack)
    if seen.reset <= now or abs(seen.reset - midnight) > slack:
        usage.fail(
            f"{where} at the next 00:00 UTC ({utc_text(midnight)} ± {slack.seconds} s)",
            f"{utc_text(seen.reset)} ({window_seen(seen.reset - now)})",
            "the limit window is not one UTC day",
        )
    saw(
        where,
        f"{utc_text(seen.reset)} ({window_seen(seen.reset - now)})",
        f"expected the next 00:00 UTC ± {slack.seconds} s",
    )


@pytest.fixture(scope="module")
def exhaustion(pytestconfig: pytest.Config, api: ApiClient, settings: Settings) -> Exhaustion:
    """Use up the dedicated limit account's quota for today (guarded: never production)."""
    require_destructive(pytestconfig)
    return exhaust(api, settings.config.violet, credential(pytestconfig, "limit"))


@pytest.mark.destructive
def test_exactly_the_remaining_quota_is_accepted(exhaustion: Exhaustion) -> None:
    """X-RateLimit-Remaining is a promise: exactly that many more prompts, then 429."""
    last = exhaustion.last
    assert last is not None  # exhaust() always sends at least one prompt
    if exhaustion.refused is None:
        last.fail(
            f"429 for prompt {exhaustion.accepted} (X-RateLimit-Remaining promised "
            f"{exhaustion.promised - 1} after the first)",
            f"{last.status}: prompt {exhaustion.accepted} was accepted too",
            "the limiter lets prompts past the limit (off by one, or not enforced): every "
            "extra prompt costs money at the AI provider",
        )
    if exhaustion.accepted != exhaustion.promised:
        last.fail(
            f"{exhaustion.promised} prompts accepted before the 429 (X-RateLimit-Remaining "
            f"promised {exhaustion.promised - 1} after the first)",
            f"{exhaustion.accepted}",
        )
    countdown = list(range(exhaustion.promised - 1, -1, -1))
    if exhaustion.remaining_seen != countdown:
        seen = ", ".join(map(str, exhaustion.remaining_seen[:6]))
        last.fail(
            "X-RateLimit-Remaining counting down by one per accepted prompt "
            f"({', '.join(map(str, countdown[:6]))}, …)",
            f"{seen}, …",
            "the header does not track the usage counter",
        )


@pytest.fixture
def refused(exhaustion: Exhaustion) -> Answer:
    if exhaustion.refused is None:
        fail("no prompt was refused: see test_exactly_the_remaining_quota_is_accepted")
    return exhaustion.refused


@pytest.fixture(scope="module")
def after_a_minute(
    pytestconfig: pytest.Config,
    exhaustion: Exhaustion,
    api: ApiClient,
    settings: Settings,
    target_clock: TargetClock,
) -> Answer:
    """One more prompt once the next minute has begun: a per-minute window (or a second,
    per-minute limiter) shows itself here."""
    if exhaustion.refused is None:
        fail("no prompt was refused: see test_exactly_the_remaining_quota_is_accepted")
    now = target_clock.of(exhaustion.refused)
    if next_utc_midnight(now) - now < timedelta(minutes=2):
        cannot_judge(
            "too close to 00:00 UTC to tell a minute window from a day window; "
            "run again after 00:02 UTC"
        )
    target_clock.pass_minute_boundary(exhaustion.refused)
    return api.post(
        settings.config.violet.prompt_path,
        token=credential(pytestconfig, "limit"),
        json=settings.config.violet.prompt("after a minute"),
    )


@pytest.mark.destructive
def test_the_prompt_past_the_limit_gets_429_envelope(refused: Answer) -> None:
    """Clients tell "over the limit" from other errors by the error code: without it a user
    sees a generic failure instead of when to come back."""
    refused.expect_error_code("RATE_LIMIT_EXCEEDED")


def _improper_429(answer: Answer, now: datetime, settings: Settings) -> str | None:
    """What this 429 lacks of the contract's (Retry-After, Remaining 0, the daily reset)."""
    midnight = next_utc_midnight(now)
    slack = timedelta(seconds=settings.config.violet.reset_slack)
    names = settings.config.violet.headers
    raw = answer.headers.get(names.retry_after)
    remaining = answer.headers.get(names.remaining)
    reset = answer.headers.get(names.reset, "")
    problems = []
    if raw is None or not raw.strip().isdigit():
        problems.append(
            f"no {names.retry_after} header" if raw is None else f"{names.retry_after} {raw!r}"
        )
    elif abs(now + timedelta(seconds=int(raw)) - midnight) > slack:
        wait = timedelta(seconds=int(raw))
        problems.append(f"{names.retry_after}: {raw} ({utc_text(now + wait)}, {window_seen(wait)})")
    if remaining != "0":
        problems.append(f"{names.remaining}: {remaining}")
    if not reset.strip().isdigit():
        # Without it a client cannot tell a day's window from a minute's.
        problems.append(f"no {names.reset} header" if not reset else f"{names.reset} {reset!r}")
    elif abs(datetime.fromtimestamp(int(reset), UTC) - midnight) > slack:
        at = datetime.fromtimestamp(int(reset), UTC)
        problems.append(f"{names.reset} {utc_text(at)} ({window_seen(at - now)})")
    return ", ".join(problems) or None


@pytest.mark.destructive
def test_every_429_is_a_proper_429(
    refused: Answer, after_a_minute: Answer, settings: Settings, target_clock: TargetClock
) -> None:
    """Clients back off by Retry-After and show Remaining; every 429 — the first and every
    later one, from whichever limiter answers — must say when the daily window ends."""
    midnight = utc_text(next_utc_midnight(target_clock.of(refused)))
    expected = f"Retry-After and X-RateLimit-Reset at the next 00:00 UTC ({midnight}), Remaining 0"
    # Every 429 judged, all problems said together: the first one never hides a later one.
    first = _improper_429(refused, target_clock.of(refused), settings)
    later = None
    if after_a_minute.status == 429:
        later = _improper_429(after_a_minute, target_clock.of(after_a_minute), settings)
    seen = [
        f"on the first 429 ({refused.what}): {first}" if first else "",
        f"on the 429 after the minute boundary ({after_a_minute.what}): {later}" if later else "",
    ]
    if first or later:
        hint = "clients cannot know when to retry"
        if later and not first:
            hint = (
                "two limiters disagree: the first 429 was right, a later one comes from a "
                "second limiter (edge or per-minute rule) with its own headers"
            )
        fail(f"expected {expected}, got " + "; ".join(s for s in seen if s) + f" ({hint})")
    judged_429s = 2 if after_a_minute.status == 429 else 1
    saw(
        f"{judged_429s} 429 answer(s)",
        "Retry-After, X-RateLimit-Reset, Remaining 0",
        f"expected {expected}",
    )


@pytest.mark.destructive
def test_another_account_is_unaffected(
    request: pytest.FixtureRequest, api: ApiClient, settings: Settings, user_token: Secret
) -> None:
    """The limit is per user: one heavy user must not lock everyone out."""
    # Already over the limit before the run is just as good a heavy user.
    with contextlib.suppress(CouldNotCheck):
        request.getfixturevalue("exhaustion")
    answer = api.get(settings.config.violet.usage_path, token=user_token)
    answer.expect_status(200)
    if Usage.of(answer, settings.config.violet).remaining == 0:
        answer.fail(
            "the test user's own quota (X-RateLimit-Remaining > 0)",
            "0",
            "the limit is shared between accounts instead of per user",
        )


@pytest.mark.destructive
def test_quota_stays_closed_after_a_minute(after_a_minute: Answer) -> None:
    """The window is a UTC day: crossing a minute boundary must not reopen it."""
    if after_a_minute.status != 429:
        after_a_minute.fail(
            "429 after the next minute boundary (the quota is per UTC day)",
            f"{after_a_minute.status}",
            "the limit window is a minute, not a day",
        )
    saw(
        f"{after_a_minute.request_line} after the next minute boundary",
        after_a_minute.status,
        "expected 429 (the quota is per UTC day)",
    )
