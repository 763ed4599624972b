"""Latency readings: a route's samples, judged against a budget and a ceiling.

The service's own time is what a budget judges (``Answer.server_time``: its Server-Timing
total, else time to first byte less a round trip); the wall-clock ceiling judges what a user
waits, however the service times itself. The rules (docs/checks.md › Latency):

- a median over budget by the service's own Server-Timing, or a median over the ceiling, is
  final: no queue of the run's own is inside either;
- a median over budget timed by bytes may hold the target's queue behind the run's own burst,
  so the same request is sent again, alone, and **every** sample taken is judged together —
  never the later ones alone, which a route slow on every other request would pass.

No pytest import here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from umbrella_checks.evidence import saw
from umbrella_checks.target.answer import Answer


@dataclass(frozen=True)
class Limits:
    budget: float  # seconds of the service's own time (median)
    ceiling: float  # seconds of wall-clock time (median)

    @classmethod
    def of(cls, budget_ms: float, ceiling: float) -> Limits:
        """From a budget as ``[budgets.endpoints]`` writes it (ms) and the ceiling (s)."""
        return cls(budget_ms / 1000, ceiling)


@dataclass(frozen=True)
class Latency:
    """Answers to the same request, and their medians."""

    answers: tuple[Answer, ...]

    @classmethod
    def of(cls, answers: Sequence[Answer]) -> Latency:
        for answer in answers:
            answer.expect_status(200)
        return cls(tuple(answers))

    def __add__(self, other: Latency) -> Latency:
        return Latency(self.answers + other.answers)

    @property
    def server(self) -> float:
        return statistics.median(answer.server_time for answer in self.answers)

    @property
    def wall(self) -> float:
        return statistics.median(answer.elapsed for answer in self.answers)

    @property
    def milliseconds(self) -> list[float]:
        """Each sample's service time, in ms."""
        return [answer.server_time * 1000 for answer in self.answers]

    @property
    def ms(self) -> float:
        return round(self.server * 1000, 1)

    @property
    def wall_ms(self) -> float:
        return round(self.wall * 1000, 1)

    @property
    def timed_by(self) -> str:
        ways = sorted({answer.timed_by for answer in self.answers})
        return " / ".join(ways)

    @property
    def timed_by_service(self) -> bool:
        """Every sample timed by the service's own Server-Timing (no queue of ours in it)."""
        return all(answer.timed_by_service for answer in self.answers)

    def misses(self, limits: Limits) -> str | None:
        """What these answers were expected to show and did not; None when they are fine."""
        n = len(self.answers)
        if self.server > limits.budget:
            return (
                f"median server time ≤ {limits.budget * 1000:.0f} ms over {n} requests "
                f"(timed by {self.timed_by})"
            )
        return self.over_ceiling(limits)

    def over_ceiling(self, limits: Limits) -> str | None:
        if self.wall > limits.ceiling:
            return (
                f"median wall-clock time ≤ {limits.ceiling:g} s over {len(self.answers)} "
                "requests ([budgets] ceiling, whatever the service reports of its own time)"
            )
        return None

    def final(self, limits: Limits) -> str | None:
        """A miss no confirmation can set aside: the service's own Server-Timing over budget,
        or a ceiling breach."""
        if self.timed_by_service and self.server > limits.budget:
            return self.misses(limits)
        return self.over_ceiling(limits)

    def describe(self) -> str:
        listed = ", ".join(f"{answer.server_time * 1000:.0f}" for answer in self.answers)
        return f"{self.server * 1000:.0f} ms (samples: {listed} ms; {self.wall * 1000:.0f} ms wall)"


@dataclass(frozen=True)
class Miss:
    """A latency failure: what was expected, and what every sample judged showed."""

    expected: str
    got: str


def _held(latency: Latency, limits: Limits) -> None:
    """The evidence of a latency that held: both medians and what they were held to."""
    route = latency.answers[0].request_line if latency.answers else "no request"
    saw(
        f"{route} median server time",
        f"{latency.server * 1000:.0f} ms over {len(latency.answers)} requests "
        f"(timed by {latency.timed_by})",
        f"expected ≤ {limits.budget * 1000:.0f} ms",
    )
    saw(
        f"{route} median wall-clock time",
        f"{latency.wall * 1000:.0f} ms",
        f"expected ≤ {limits.ceiling:g} s ([budgets] ceiling)",
    )


def judge(burst: Latency, alone: Latency | None, limits: Limits) -> Miss | None:
    """The verdict on a route's latency; None when it holds. ``burst``: the samples sent among
    the tier's requests; ``alone``: the same request sent again one at a time (None when the
    burst's miss was final, or nothing missed)."""
    missed = burst.misses(limits)
    if missed is None:
        _held(burst, limits)
        return None
    if alone is None:
        return Miss(missed, burst.describe())
    every = burst + alone
    missed = every.misses(limits)
    if missed is None:
        _held(every, limits)
        return None
    if not alone.answers:
        return Miss(
            missed,
            f"{burst.describe()} among the tier's requests; no time was left to send them "
            "again alone (pytest-timeout's limit)",
        )
    return Miss(
        f"{missed} — every sample taken",
        f"{every.describe()}: among the tier's requests {burst.describe()}, sent again alone "
        f"{alone.describe()}",
    )
