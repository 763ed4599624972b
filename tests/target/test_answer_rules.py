"""Rules an Answer applies, pinned one by one: which failure a 5xx is, how a bare route's
answer reads, and the service's time when nothing reports it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from umbrella_checks.errors import CheckFailed, RootCause
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.timing import BY_BYTES, server_time


def _answer(status: int, enveloped: bool = True) -> Answer:
    return Answer(
        "GET",
        "http://t/v1/artists",
        httpx.Response(status, json={"error": "x"}),
        0.1,
        enveloped=enveloped,
    )


def test_a_5xx_where_a_5xx_was_expected_is_a_plain_failure() -> None:
    with pytest.raises(CheckFailed) as raised:
        _answer(502).expect_status(500)
    assert type(raised.value) is CheckFailed
    assert "expected status 500, got 502" in raised.value.message


def test_a_5xx_where_none_was_expected_is_the_routes_root_cause() -> None:
    with pytest.raises(RootCause):
        _answer(502).expect_status(200)


@pytest.mark.parametrize(
    ("status", "success"),
    [pytest.param(399, True, id="399-success"), pytest.param(400, False, id="400-an-error")],
)
def test_a_bare_routes_answer_reads_as_enveloped(status: int, success: bool) -> None:
    body = _answer(status, enveloped=False).body()
    assert body == {"success": success, "data": {"error": "x"}, "meta": {}}


def test_without_server_timing_or_a_round_trip_the_time_is_time_to_first_byte() -> None:
    assert server_time(httpx.Response(200), 0.5, None, ("total",)) == (0.5, BY_BYTES)
    assert server_time(httpx.Response(200), 0.5, 0.2, ("total",)) == (0.3, BY_BYTES)


@pytest.mark.parametrize(
    ("status", "body", "platform"),
    [
        pytest.param(500, b"<html>500</html>", True, id="500-page"),
        pytest.param(503, b"<html>503</html>", True, id="503-page"),
        pytest.param(500, b'{"success": false}', False, id="500-json-is-the-workers"),
        pytest.param(499, b"<html>499</html>", False, id="499-is-no-platform-error"),
    ],
)
def test_a_5xx_page_that_is_no_json_is_the_platforms(
    status: int, body: bytes, platform: bool
) -> None:
    answer = Answer("GET", "http://t/v1/health", httpx.Response(status, content=body), 0.1)
    assert answer.is_platform_page is platform


def _stamped(timestamp: str, date: str | None) -> Answer:
    headers = {"Date": date} if date else {}
    response = httpx.Response(200, json={"data": {"timestamp": timestamp}}, headers=headers)
    return Answer("GET", "http://t/v1/health", response, 0.1)


def test_without_a_date_header_a_timestamp_is_judged_by_this_runners_clock() -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _stamped(now, None).expect_fresh("data.timestamp", 60)
    with pytest.raises(CheckFailed, match="of this runner's clock"):
        _stamped("2020-01-01T00:00:00Z", None).expect_fresh("data.timestamp", 60)


def test_with_a_date_header_a_timestamp_is_judged_by_it_first() -> None:
    with pytest.raises(CheckFailed, match="of the answer's Date"):
        _stamped("2020-01-01T00:00:00Z", "Sun, 06 Dec 2026 12:00:00 GMT").expect_fresh(
            "data.timestamp", 60
        )
