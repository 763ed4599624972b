"""The small vocabularies every verdict uses: time windows as messages name them, and the
typed outcomes' own rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from umbrella_checks.errors import CannotJudge, CouldNotCheck, judged
from umbrella_checks.moments import next_utc_midnight, window_seen
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.clock import TargetClock


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        pytest.param(0, "a reset in the past", id="now"),
        pytest.param(-5, "a reset in the past", id="past"),
        pytest.param(55, "a reset 55 s away: a per-minute window", id="55s"),
        pytest.param(120, "a reset 120 s away: a per-minute window", id="2min-edge"),
        pytest.param(121, "a reset 2 min away", id="just-past-2min"),
        pytest.param(7200, "a reset 120 min away", id="2h-edge"),
        pytest.param(7201, "a reset 2.0 h away", id="just-past-2h"),
        pytest.param(3 * 3600 + 360, "a reset 3.1 h away", id="hours"),
    ],
)
def test_a_reset_names_the_window_it_shows(seconds: float, said: str) -> None:
    assert window_seen(timedelta(seconds=seconds)) == said


@pytest.mark.parametrize(
    ("count", "judges"),
    [
        pytest.param(0, False, id="none"),
        pytest.param(-1, False, id="negative"),
        pytest.param(1, True, id="one"),
    ],
)
def test_judged_nothing_is_cannot_judge(count: int, judges: bool) -> None:
    if judges:
        assert judged(count, "routes") == count
    else:
        with pytest.raises(CannotJudge, match="cannot judge: no routes to judge"):
            judged(count, "routes")


def test_could_not_check_says_so_once() -> None:
    assert CouldNotCheck("D1 down").message == "could not check: D1 down"
    assert CouldNotCheck("could not check: D1 down").message == "could not check: D1 down"


def test_the_next_utc_midnight_is_exactly_midnight() -> None:
    noon = datetime(2026, 11, 30, 12, 34, 56, 789, tzinfo=UTC)
    assert next_utc_midnight(noon) == datetime(2026, 12, 1, tzinfo=UTC)


def _answer(date: str | None, received_at: datetime) -> Answer:
    headers = {"Date": date} if date is not None else {}
    return Answer(
        "GET",
        "http://t/v1/health",
        httpx.Response(200, headers=headers),
        0.0,
        received_at=received_at,
    )


def test_the_targets_clock_is_its_date_header_else_this_machines() -> None:
    seen = datetime(2026, 11, 30, 12, 0, 58, 400000, tzinfo=UTC)
    dated = _answer("Mon, 30 Nov 2026 12:00:58 GMT", seen)
    assert TargetClock.of(dated) == datetime(2026, 11, 30, 12, 0, 58, tzinfo=UTC)
    assert TargetClock.of(_answer("not a date", seen)) == seen
    assert TargetClock.of(_answer(None, seen)) == seen


def test_the_next_minute_is_waited_for_by_the_targets_clock() -> None:
    """Date 12:00:58 (so at most 12:00:58.999): 2 s to 12:01:00, plus 0.2, less the 0.5 s
    since the answer came."""
    received = datetime(2026, 11, 30, 12, 0, 58, 700000, tzinfo=UTC)
    answer = _answer("Mon, 30 Nov 2026 12:00:58 GMT", received)
    wait = TargetClock.until_next_minute(answer, received + timedelta(seconds=0.5))
    assert round(wait, 3) == 1.7
