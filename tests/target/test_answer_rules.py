"""Rules an Answer applies, pinned one by one: which failure a 5xx is, how a bare route's
answer reads, and the service's time when nothing reports it."""

from __future__ import annotations

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
