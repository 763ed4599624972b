"""Reading Violet's rate-limit headers and usage body, and exhausting a quota on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from umbrella_checks.config.suite import RateLimitHeaders, Violet
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.secrets import Secret
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.client import ApiClient


@dataclass(frozen=True)
class RateHeaders:
    limit: int
    remaining: int
    reset: datetime

    @classmethod
    def of(cls, answer: Answer, names: RateLimitHeaders) -> RateHeaders:
        values = []
        for name in (names.limit, names.remaining, names.reset):
            raw = answer.headers.get(name)
            if raw is None or not raw.strip().isdigit():
                answer.fail(
                    f"header {name} with a whole number",
                    "no such header" if raw is None else repr(raw),
                )
            values.append(int(raw))
        return cls(values[0], values[1], datetime.fromtimestamp(values[2], UTC))


@dataclass(frozen=True)
class Usage:
    """What the usage route says: from its headers where it carries them, else its body."""

    limit: int
    remaining: int
    reset: datetime
    used: int
    source: str  # how a message names where a figure came from

    @classmethod
    def of(cls, answer: Answer, violet: Violet) -> Usage:
        used = _whole(answer, violet.used_field)
        if violet.headers_on_usage:
            headers = RateHeaders.of(answer, violet.headers)
            return cls(headers.limit, headers.remaining, headers.reset, used, "header")
        reset = answer.field(violet.reset_field)
        try:
            stamp = (
                datetime.fromtimestamp(float(reset), UTC)
                if isinstance(reset, int | float)
                else datetime.fromisoformat(str(reset).replace("Z", "+00:00"))
            )
        except ValueError:
            answer.fail(f"{violet.reset_field} as a time", repr(reset))
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        limit = _whole(answer, violet.limit_field)
        remaining = _whole(answer, violet.remaining_field)
        return cls(limit, remaining, stamp, used, "body")


def _whole(answer: Answer, dotted: str) -> int:
    value = answer.field(dotted)
    if isinstance(value, bool) or not isinstance(value, int):
        answer.fail(f"{dotted} as a whole number", repr(value))
    return value


@dataclass
class Exhaustion:
    """What happened while using up one account's quota."""

    # How many prompts the service promised to accept: X-RateLimit-Remaining on the first
    # answer, plus that first prompt (capped at the limit, which also bounds the requests).
    promised: int = 0
    accepted: int = 0
    remaining_seen: list[int] = field(default_factory=list)
    refused: Answer | None = None
    last: Answer | None = None


def exhaust(api: ApiClient, violet: Violet, token: Secret) -> Exhaustion:
    """Send prompts until one is refused, or until the promised prompts plus one were sent —
    never more than the documented limit + 1, whatever the service's headers say.

    The first answer's X-RateLimit-Remaining says how many more the service promises to
    accept (no separate usage request is needed); it decides when to stop only while it stays
    within the documented limit: a service that promises 10,000 is held to 50.
    """
    result = Exhaustion()
    budget = 1
    while budget > 0 and result.accepted <= violet.daily_limit:
        budget -= 1
        answer = api.post(violet.prompt_path, token=token, json=violet.prompt("rate limit check"))
        result.last = answer
        if answer.status == 429 and result.accepted == 0:
            raise CouldNotCheck(
                f"the limit account in {token.source} was over its Violet quota before this "
                f"run ({answer.what} answered 429 to the first prompt), so the limit cannot be "
                "measured; use a fresh account, or run after 00:00 UTC (if the account is fresh, "
                "the quota is shared: see test_another_account_is_unaffected)"
            )
        if answer.status == 429:
            result.refused = answer
            return result
        answer.expect_status(200, hint="while using up the limit account's quota")
        remaining = RateHeaders.of(answer, violet.headers).remaining
        result.remaining_seen.append(remaining)
        if result.accepted == 0:
            result.promised = min(remaining + 1, violet.daily_limit)
            budget = result.promised
        result.accepted += 1
    return result
