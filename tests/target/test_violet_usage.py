"""Reading Violet's quota: rate-limit headers and the usage body, each figure a whole number
and each reset a time in UTC; anything else is one failure naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from umbrella_checks.config.suite import RateLimitHeaders, Violet
from umbrella_checks.errors import CheckFailed
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.violet import RateHeaders, Usage

BODY = {"data": {"limit": 50, "used": 3, "remaining": 47, "resetAt": "2026-12-02T00:00:00"}}


def _answer(body: object = None, headers: dict[str, str] | None = None) -> Answer:
    return Answer(
        "GET", "http://t/v1/violet/usage", httpx.Response(200, json=body, headers=headers), 0.0
    )


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        pytest.param(
            {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49"},
            "X-RateLimit-Reset with a whole number, got no such header",
            id="missing",
        ),
        pytest.param(
            {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "x", "X-RateLimit-Reset": "1"},
            "X-RateLimit-Remaining with a whole number, got 'x'",
            id="not-a-number",
        ),
    ],
)
def test_a_rate_limit_header_missing_or_not_a_number_fails_naming_it(
    headers: dict[str, str], said: str
) -> None:
    with pytest.raises(CheckFailed) as failed:
        RateHeaders.of(_answer({}, headers), RateLimitHeaders())
    assert f"expected header {said}" in failed.value.message


def test_a_reset_without_a_zone_is_utc() -> None:
    usage = Usage.of(_answer(BODY), Violet(headers_on_usage=False))
    assert usage.reset == datetime(2026, 12, 2, tzinfo=UTC)
    assert (usage.limit, usage.remaining, usage.used, usage.source) == (50, 47, 3, "body")


@pytest.mark.parametrize(
    "used", [pytest.param("3", id="a-string"), pytest.param(True, id="a-boolean")]
)
def test_a_figure_that_is_not_a_whole_number_fails_naming_it(used: object) -> None:
    body = {"data": {**BODY["data"], "used": used}}
    with pytest.raises(CheckFailed) as failed:
        Usage.of(_answer(body), Violet(headers_on_usage=False))
    assert "data.used as a whole number" in failed.value.message


def test_a_reset_that_is_not_a_time_fails_naming_it() -> None:
    body = {"data": {**BODY["data"], "resetAt": "tomorrow"}}
    with pytest.raises(CheckFailed) as failed:
        Usage.of(_answer(body), Violet(headers_on_usage=False))
    assert "data.resetAt as a time, got 'tomorrow'" in failed.value.message
