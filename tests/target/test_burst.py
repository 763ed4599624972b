"""The burst must not be what breaks the target: what is in flight follows what the target
handles (``target/pacing.py``), and a stall or a platform 503 seen only inside the burst is
asked again alone before it becomes a root cause."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, RunChecks
from umbrella_checks.target.pacing import START, Pacer

# A read timeout short enough that a stall costs the test two seconds, not ten.
QUICK = (REPO / "umbrella.toml").read_text() + '\n[env.development.http]\nread_timeout = "2s"\n'


@pytest.mark.parametrize(
    ("fault", "seen"),
    [
        pytest.param("burst-stall=3", "no answer within the read timeout", id="stall"),
        pytest.param("burst-503=3", "the platform's own 503 page", id="platform-503"),
    ],
)
def test_a_target_overwhelmed_by_the_burst_is_not_broken(
    run_checks: RunChecks, tmp_path: Path, fault: str, seen: str
) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks(
        "-m", "postdeploy", f"--umbrella-verdict-file={verdict}", faults=[fault], config=QUICK
    )
    assert verdict.read_text() == "healthy\n"
    assert run.failed_names() == []
    (line,) = [line for line in run.output.splitlines() if "among the tier's requests" in line]
    assert seen in line
    assert "the burst was more than the target handles at once" in line


def test_a_hang_alone_is_still_a_hang(run_checks: RunChecks, tmp_path: Path) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks(
        "checks/test_health.py", f"--umbrella-verdict-file={verdict}", faults=["hang"], config=QUICK
    )
    assert verdict.read_text() == "broken\n"
    assert "it accepts connections but hangs" in run.output


def _answered(pacer: Pacer, seconds: float, times: int) -> None:
    for _ in range(times):
        with pacer.slot():
            pacer.answered(seconds)


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


@pytest.mark.parametrize(
    ("company", "parallel"),
    [
        pytest.param(1, False, id="answers-alone-show-nothing"),
        pytest.param(2, True, id="two-answered-side-by-side-show-it"),
    ],
)
def test_parallel_service_is_shown_only_by_answers_that_had_company(
    company: int, parallel: bool
) -> None:
    # A fast answer sent alone says nothing of how the target serves two at once; two sent
    # together and both as fast as the fastest do.
    pacer = Pacer(48)
    for _ in range(2):
        pacer.answered(0.01, company=company)
    assert pacer.parallel is parallel


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

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    time.sleep(0.05)
    waiting = [threading.Thread(target=ask, args=(n,)) for n in range(1, 4)]
    for thread in waiting:
        thread.start()
        time.sleep(0.02)  # asked in this order
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

    busy = threading.Thread(target=in_flight)
    busy.start()
    time.sleep(0.05)

    def alone() -> None:
        with pacer.alone(timeout=5):
            events.append("alone")
            time.sleep(0.05)
            events.append("alone ended")

    lone = threading.Thread(target=alone)
    lone.start()
    time.sleep(0.05)

    def later_request() -> None:
        _answered(pacer, 0.01, 1)
        events.append("later")

    later = threading.Thread(target=later_request)
    later.start()
    time.sleep(0.05)
    release.set()
    for thread in (busy, lone, later):
        thread.join(timeout=5)
    assert events == ["in flight ended", "alone", "alone ended", "later"]
