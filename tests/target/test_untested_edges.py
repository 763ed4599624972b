"""Edges a held-out mutation run found unpinned, one behaviour each: which certificate names cover
a host, what the guard reads from a health answer that is not a 200, and what a rate-limit
header must hold to be read at all. (The monitor's rule for "down" is in
``tests/commands/test_monitor.py``; the cron query's window in
``tests/checks/test_database_checks.py``.)"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from umbrella_checks.config.suite import RateLimitHeaders
from umbrella_checks.errors import CheckFailed
from umbrella_checks.services.tls import Certificate
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.safety import read_reported
from umbrella_checks.target.violet import RateHeaders

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _certificate(*names: str) -> Certificate:
    return Certificate("CN=x", "CN=ca", NOW, names)


@pytest.mark.parametrize(
    ("names", "host", "covered"),
    [
        pytest.param(("api.umbrella.app",), "api.umbrella.app", True, id="exact"),
        pytest.param(("API.Umbrella.app",), "api.umbrella.APP.", True, id="case-and-root-dot"),
        pytest.param(("*.umbrella.app",), "api.umbrella.app", True, id="wildcard-one-label"),
        pytest.param(("*.umbrella.app",), "a.b.umbrella.app", False, id="wildcard-not-two-labels"),
        pytest.param(("*.umbrella.app",), "umbrella.app", False, id="wildcard-not-the-apex"),
        pytest.param(("*.umbrella.app",), "evilumbrella.app", False, id="wildcard-not-a-suffix"),
        pytest.param(("other.app", "api.umbrella.app"), "api.umbrella.app", True, id="any-name"),
        pytest.param(("umbrella.app",), "api.umbrella.app", False, id="the-apex-not-a-sub"),
    ],
)
def test_which_certificate_names_cover_a_host(
    names: tuple[str, ...], host: str, covered: bool
) -> None:
    assert _certificate(*names).covers(host) is covered


def _health(status: int, body: object) -> Answer:
    return Answer("GET", "http://t/v1/health", httpx.Response(status, json=body), 0.01)


@pytest.mark.parametrize("status", [pytest.param(s, id=str(s)) for s in (201, 301, 404, 500, 503)])
def test_the_guard_reads_no_environment_from_a_health_answer_that_is_not_200(status: int) -> None:
    # A 503 saying "staging" in its body is no evidence the target is staging.
    body = {"success": True, "data": {"environment": "staging"}, "meta": {"timestamp": "x"}}
    reported = read_reported(_health(status, body), "data.environment")
    assert reported.environment is None
    assert f"expected status 200, got {status}" in (reported.unknown or "")


def test_the_guard_reads_the_environment_from_a_200() -> None:
    body = {"success": True, "data": {"environment": "staging"}, "meta": {"timestamp": "x"}}
    assert read_reported(_health(200, body), "data.environment").environment == "staging"


def _limited(**headers: str) -> Answer:
    return Answer(
        "GET", "http://t/v1/violet/usage", httpx.Response(200, json={}, headers=headers), 0.01
    )


NAMES = RateLimitHeaders()
GOOD = {NAMES.limit: "50", NAMES.remaining: "7", NAMES.reset: "1765065600"}


def test_rate_limit_headers_are_read_as_whole_numbers() -> None:
    read = RateHeaders.of(_limited(**GOOD), NAMES)
    assert (read.limit, read.remaining) == (50, 7)
    assert read.reset == datetime(2025, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param(NAMES.limit, None, id="limit-missing"),
        pytest.param(NAMES.remaining, "-1", id="remaining-negative"),
        pytest.param(NAMES.remaining, "7.0", id="remaining-not-whole"),
        pytest.param(NAMES.reset, "", id="reset-empty"),
        pytest.param(NAMES.reset, "tomorrow", id="reset-not-a-number"),
    ],
)
def test_a_rate_limit_header_that_is_no_whole_number_fails_naming_it(
    header: str, value: str | None
) -> None:
    given = {k: v for k, v in GOOD.items() if k != header}
    if value is not None:
        given[header] = value
    with pytest.raises(CheckFailed) as failed:
        RateHeaders.of(_limited(**given), NAMES)
    assert f"header {header} with a whole number" in failed.value.message
