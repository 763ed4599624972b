"""Latency readings in isolation: medians, milliseconds as shown and recorded, and the edges of
the budget and the ceiling. The checks that use them are proven on the sandbox
(test_latency.py); here each rule is pinned once."""

from __future__ import annotations

import httpx
import pytest

from umbrella_checks.errors import CheckFailed
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.latency import Latency, Limits


def _answer(server: float, wall: float, status: int = 200) -> Answer:
    return Answer("GET", "http://t/v1/artists", httpx.Response(status), wall, server_time=server)


def test_every_answer_must_be_a_200() -> None:
    with pytest.raises(CheckFailed):
        Latency.of([_answer(0.1, 0.1), _answer(0.1, 0.1, status=503)])


def test_milliseconds_are_the_median_to_a_tenth() -> None:
    reading = Latency.of([_answer(0.9, 2.0), _answer(0.12345678, 0.23456789), _answer(0.01, 0.01)])
    assert reading.ms == 123.5
    assert reading.wall_ms == 234.6


@pytest.mark.parametrize(
    ("server", "wall", "missed"),
    [
        pytest.param(0.25, 0.5, None, id="at-budget-and-ceiling-passes"),
        pytest.param(0.2501, 0.3, "median server time ≤ 250 ms over 1 requests", id="over-budget"),
        pytest.param(
            0.2, 0.5001, "median wall-clock time ≤ 0.5 s over 1 requests", id="over-ceiling"
        ),
    ],
)
def test_the_budget_and_the_ceiling_are_limits_a_reading_may_reach(
    server: float, wall: float, missed: str | None
) -> None:
    found = Latency.of([_answer(server, wall)]).misses(Limits(budget=0.25, ceiling=0.5))
    if missed is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(missed)


def test_a_budget_in_milliseconds_is_limits_in_seconds() -> None:
    assert Limits.of(300, 2.0) == Limits(budget=0.3, ceiling=2.0)
