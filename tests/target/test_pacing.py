"""The pacer's rules, one at a time, on the numbers that decide them: how many requests leave
at once, when answers show the target serves side by side, and how long a latency sample waits
for the rest of the burst, and in what order places are granted (``target/pacing.py``; the
burst itself is in ``test_burst.py``)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import eventually
from umbrella_checks.target.pacing import START, Pacer


@pytest.mark.parametrize(
    ("ceiling", "limit"),
    [
        pytest.param(1, 1.0, id="concurrency-1-one-at-a-time"),
        pytest.param(0, 1.0, id="never-less-than-one"),
        pytest.param(100, float(START), id="a-browsers-handful-first"),
    ],
)
def test_the_window_starts_within_the_ceiling(ceiling: int, limit: float) -> None:
    pacer = Pacer(ceiling)
    assert (pacer.ceiling, pacer.limit) == (max(ceiling, 1), limit)


def test_an_answer_without_queueing_grows_the_window_by_one() -> None:
    pacer = Pacer(10)
    pacer.answered(0.0, company=1)  # no time at all: nothing queued, and no division by it
    assert pacer.limit == START + 1


def test_an_answer_that_queued_shrinks_the_window_by_one() -> None:
    pacer = Pacer(10)
    pacer.answered(0.1, company=1)
    pacer.answered(0.5, company=1)  # 0.4 s over the least: about five requests waited ahead of it
    assert pacer.limit == START + 1 - 1


FASTEST, BESIDE, QUEUED = (0.1, 1), (0.1, 2), (1.0, 2)


@pytest.mark.parametrize(
    ("answers", "parallel"),
    [
        # 0.125 s over the least of 0.625 s is exactly a fifth of it: still beside the fastest.
        pytest.param([(0.625, 1), (0.75, 2), (0.75, 2)], True, id="a-fifth-slower-is-beside"),
        pytest.param([(0.625, 1), (0.8, 2), (0.8, 2)], False, id="more-than-a-fifth-queued"),
        pytest.param([(0.625, 1), (1.0, 2), (1.0, 2)], False, id="three-fifths-slower-queued"),
        # A fast answer sent alone says nothing of how the target serves two at once.
        pytest.param([FASTEST, FASTEST], False, id="answers-alone-show-nothing"),
        pytest.param([BESIDE, BESIDE], True, id="two-answered-side-by-side-show-it"),
        pytest.param([FASTEST, BESIDE], False, id="one-answer-beside-is-not-enough"),
        pytest.param([FASTEST, *[BESIDE] * 2, *[QUEUED] * 3], False, id="more-queued-than-beside"),
        pytest.param([FASTEST, *[BESIDE] * 2, *[QUEUED] * 2], False, id="as-many-queued-as-beside"),
        pytest.param([FASTEST, *[BESIDE] * 3, *[QUEUED] * 2], True, id="more-beside-than-queued"),
    ],
)
def test_parallel_service_takes_two_answers_with_company_beside_the_fastest_and_more_than_queued(
    answers: list[tuple[float, int]], parallel: bool
) -> None:
    pacer = Pacer(10)
    for first_byte, company in answers:
        pacer.answered(first_byte, company=company)
    assert pacer.parallel is parallel


def test_a_queue_seen_at_a_window_of_two_brings_it_back_to_one_at_a_time() -> None:
    pacer = Pacer(10, start=1)
    pacer.answered(0.1, company=1)  # the fastest: the window grows to two
    pacer.answered(1.0, company=1)  # then a queue at the target
    assert pacer.limit == 1


@pytest.mark.parametrize(
    ("company", "ceiling"),
    [
        pytest.param(4, 3, id="one-fewer-than-stalled-it"),
        pytest.param(1, 1, id="never-less-than-one"),
    ],
)
def test_a_stall_caps_the_window_below_what_caused_it(company: int, ceiling: int) -> None:
    pacer = Pacer(10)
    pacer.overwhelmed(company)
    assert (pacer.ceiling, pacer.limit) == (ceiling, float(ceiling))


def test_a_sample_waits_for_a_request_expected_but_not_yet_asking() -> None:
    pacer = Pacer(10)
    pacer.expect()
    started = time.monotonic()
    pacer.queue_left(timeout=0.2)
    assert time.monotonic() - started >= 0.2


def test_a_sample_does_not_wait_once_the_expected_request_had_its_place() -> None:
    # A request counted once as expected is no longer waited for once it asked: a latency sample
    # on a one-at-a-time target must not wait out its whole timeout behind nothing.
    pacer = Pacer(10)
    pacer.expect()
    with pacer.slot(expected=True):
        pass
    started = time.monotonic()
    pacer.queue_left(timeout=5)
    assert time.monotonic() - started < 2


def test_a_place_says_how_long_it_was_waited_for_and_its_company() -> None:
    pacer = Pacer(10)
    with pacer.slot() as (waited, company):
        assert 0 <= waited < 1
        assert company == 1


def test_a_sample_sent_alone_had_no_company() -> None:
    # Until answers show parallel service a sample leaves alone: counted as having had company,
    # its own fast answer would soon "show" a one-at-a-time target serving in parallel.
    pacer = Pacer(10)
    assert not pacer.parallel
    with pacer.timed_slot(timeout=1) as (waited, company):
        assert 0 <= waited < 1
        assert company == 1


def _answered(pacer: Pacer, seconds: float, times: int) -> None:
    for _ in range(times):
        with pacer.slot():
            pacer.answered(seconds, company=1)


def test_the_window_grows_while_answers_show_no_queue() -> None:
    pacer = Pacer(48)
    assert pacer.limit == START
    _answered(pacer, 0.2, 20)  # a distant target: every answer a round trip, none queued
    assert pacer.limit == START + 20


def test_the_window_shrinks_when_answers_show_a_queue() -> None:
    pacer = Pacer(48, start=10)
    _answered(pacer, 0.01, 1)  # the least seen: 10 ms
    _answered(pacer, 0.1, 5)  # ten times that: a queue at the target
    assert pacer.limit == 10 + 1 - 5


def test_a_stall_caps_the_window_below_its_company_for_good() -> None:
    pacer = Pacer(48, start=20)
    pacer.overwhelmed(company=5)
    assert pacer.limit == pacer.ceiling == 4
    _answered(pacer, 0.2, 10)
    assert pacer.limit == 4


def test_places_are_granted_in_order_of_asking() -> None:
    pacer = Pacer(4, start=1)
    order: list[int] = []
    hold = threading.Event()

    def ask(number: int) -> None:
        with pacer.slot():
            order.append(number)
            hold.wait()

    first = threading.Thread(target=ask, args=(0,), daemon=True)
    first.start()
    assert eventually(lambda: pacer.in_flight == 1, within=5)
    waiting = [threading.Thread(target=ask, args=(n,), daemon=True) for n in range(1, 4)]
    for asked, thread in enumerate(waiting, start=1):
        thread.start()
        # Asked in this order: each waits in the queue before the next starts (read at once).
        assert eventually(lambda: len(pacer._waiting) == asked, within=5)  # noqa: B023
    hold.set()
    for thread in [first, *waiting]:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3]


def test_alone_waits_for_what_is_in_flight_and_lets_nothing_else_leave() -> None:
    pacer = Pacer(4, start=4)
    events: list[str] = []
    release = threading.Event()

    def in_flight() -> None:
        with pacer.slot():
            release.wait()
            events.append("in flight ended")

    busy = threading.Thread(target=in_flight, daemon=True)
    busy.start()
    assert eventually(lambda: pacer.in_flight == 1, within=5)

    def alone() -> None:
        with pacer.alone(timeout=5):
            events.append("alone")
            time.sleep(0.05)
            events.append("alone ended")

    lone = threading.Thread(target=alone, daemon=True)
    lone.start()
    assert eventually(lambda: pacer._alone == 1, within=5)

    def later_request() -> None:
        _answered(pacer, 0.01, 1)
        events.append("later")

    later = threading.Thread(target=later_request, daemon=True)
    later.start()
    assert eventually(lambda: len(pacer._waiting) == 1, within=5)
    release.set()
    for thread in (busy, lone, later):
        thread.join(timeout=5)
    assert events == ["in flight ended", "alone", "alone ended", "later"]
