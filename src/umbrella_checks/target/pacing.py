"""How many of the run's requests are in flight at the target at once: what it handles.

A tier's planned requests leave together, but a target that serves one request at a time (one
``wrangler dev`` workerd process) queues them, stalls, or sheds some with its own 503 — and a
request that waits in the target's queue shows that wait as the service's time. So the client
paces itself the way TCP Vegas paces a connection: it starts with a browser's handful
(``START``, in order of asking), grows by one for every answer that came back without queueing
(doubling each round trip against a distant target that serves in parallel, so a healthy
distant target still gets its verdict in a few round trips), shrinks by one when answers show a
queue building (their time to first byte grows past the least seen), and halves when the target
stalls or sheds load. A request waiting for its place waits in the run's own queue — measured,
reported (``Answer.queued``) and never counted as the service's time.

A request whose time is judged (a latency sample) leaves beside others only once answers have
shown the target serves in parallel (``parallel``: answers that had company came back as fast
as the fastest); until then it leaves alone, so a target that serves one request at a time never
shows its queue behind the run's own requests as the service's time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator

# Requests in flight when the run starts: a browser's per-host connection limit.
START = 6
# Vegas' bounds on the queue an answer suggests (requests waiting at the target): below ALPHA
# the window grows, above BETA it shrinks. A serial target settles with about one request
# waiting; a parallel one, however distant, never builds a queue.
ALPHA, BETA = 0.5, 1.5
# Time to first byte within this of the least seen is not queueing (scheduling noise on a near
# target would otherwise read as a queue).
TOLERANCE = 0.005


class _Turn(threading.Event):
    """A request's turn to leave, and how many were in flight once it left (itself included)."""

    company: int  # set by the pacer when it grants the turn, before the turn is read


class Pacer:
    """A window of requests in flight, granted in the order they asked (``slot``)."""

    def __init__(self, ceiling: int, start: int = START) -> None:
        self.ceiling = max(ceiling, 1)
        self.limit = float(min(start, self.ceiling))
        self.least: float | None = None  # the least time to first byte seen
        self._in_flight = 0
        self._waiting: deque[_Turn] = deque()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        # A request being sent alone (``alone``), and how many wait to: nothing else leaves; one
        # alone at a time.
        self._alone = 0
        self._one_alone = threading.Lock()
        # Answers that had company, by whether they came back as fast as the fastest.
        self._unqueued = 0
        self._queued = 0
        # Requests handed to the pool that have not yet asked for their place (``expect``).
        self._expected = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def expect(self) -> None:
        """A request was handed to the pool and will ask for its place (``slot(expected=True)``)
        soon: ``queue_left`` waits for it too."""
        with self._lock:
            self._expected += 1

    @contextlib.contextmanager
    def slot(self, expected: bool = False) -> Iterator[tuple[float, int]]:
        """A place among the requests in flight, in order of asking; yields the seconds waited
        for it, and how many were in flight once it had it (itself included)."""
        asked = time.perf_counter()
        turn = _Turn()
        with self._lock:
            self._expected -= expected
            self._waiting.append(turn)
            self._grant()
        turn.wait()
        try:
            yield time.perf_counter() - asked, turn.company
        finally:
            with self._lock:
                self._in_flight -= 1
                self._grant()
                self._drained.notify_all()

    @contextlib.contextmanager
    def alone(self, timeout: float) -> Iterator[None]:
        """Nothing else in flight while this request is (waiting at most ``timeout`` s for
        what is in flight to end): to confirm what the burst may have caused."""
        with self._lock:
            self._alone += 1
        try:
            with self._one_alone:
                with self._lock:
                    self._drained.wait_for(lambda: self._in_flight == 0, timeout=timeout)
                yield
        finally:
            with self._lock:
                self._alone -= 1
                self._grant()

    def queue_left(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every request that asked, or is expected to ask,
        for a place has it: a latency sample waits behind the rest of the burst without holding
        it back, and by then the pacer knows more of the target (``parallel``)."""
        with self._lock:
            self._drained.wait_for(
                lambda: not self._waiting and self._expected <= 0, timeout=timeout
            )

    @contextlib.contextmanager
    def timed_slot(self, timeout: float) -> Iterator[tuple[float, int]]:
        """A place for a request whose time is judged (a latency sample): once the requests
        that asked before it have theirs, beside others if answers have shown the target serves
        in parallel, else alone — a target that serves one at a time would otherwise show its
        queue behind the run's own requests as the service's time."""
        if not self.parallel:
            self.queue_left(timeout)
        if self.parallel:
            with self.slot() as turn:
                yield turn
            return
        asked = time.perf_counter()
        with self.alone(timeout=timeout):
            yield time.perf_counter() - asked, 1

    def _grant(self) -> None:
        """(Under the lock.) Let the next askers in while the window has room."""
        while self._waiting and not self._alone and self._in_flight < int(self.limit):
            self._in_flight += 1
            turn = self._waiting.popleft()
            turn.company = self._in_flight
            turn.set()

    @property
    def parallel(self) -> bool:
        """Have answers shown the target serves requests side by side (those that had company
        came back, mostly, as fast as the fastest)?"""
        return self._unqueued >= 2 and self._unqueued > self._queued

    def answered(self, first_byte: float, company: int) -> None:
        """An answer's time to first byte, and how many were in flight with it: grow the
        window, or shrink it when it shows a queue at the target."""
        with self._lock:
            self.least = first_byte if self.least is None else min(self.least, first_byte)
            if company >= 2:
                beside = first_byte - self.least <= max(TOLERANCE, 0.2 * self.least)
                self._unqueued += beside
                self._queued += not beside
            excess = max(first_byte - self.least - TOLERANCE, 0.0)
            queue = self.limit * excess / first_byte if first_byte > 0 else 0.0
            if queue < ALPHA:
                self.limit = min(self.limit + 1, self.ceiling)
            elif queue > BETA:
                self.limit = max(self.limit - 1, 1.0)
            self._grant()

    def overwhelmed(self, company: int) -> None:
        """The target stalled or shed a request sent with ``company`` in flight: it handles
        fewer, so the window never grows back to that many."""
        with self._lock:
            self.ceiling = max(min(self.ceiling, company - 1), 1)
            self.limit = min(self.limit, float(self.ceiling))
