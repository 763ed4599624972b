"""Latency readings: the median of a few answers, judged against a budget and a ceiling.

The service's own time is what a budget judges (``Answer.server_time``: its Server-Timing
total, else time to first byte less a round trip); the wall-clock ceiling judges what a user
waits, however the service times itself. No pytest import here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from umbrella_checks.target.client import Answer


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
    """A few answers to the same request, and their medians."""

    answers: tuple[Answer, ...]

    @classmethod
    def of(cls, answers: Sequence[Answer]) -> Latency:
        for answer in answers:
            answer.expect_status(200)
        return cls(tuple(answers))

    @property
    def server(self) -> float:
        return statistics.median(answer.server_time for answer in self.answers)

    @property
    def wall(self) -> float:
        return statistics.median(answer.elapsed for answer in self.answers)

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

    def misses(self, limits: Limits) -> str | None:
        """What these answers were expected to show and did not; None when they are fine."""
        n = len(self.answers)
        if self.server > limits.budget:
            return (
                f"median server time ≤ {limits.budget * 1000:.0f} ms over {n} requests "
                f"(timed by {self.timed_by})"
            )
        if self.wall > limits.ceiling:
            return (
                f"median wall-clock time ≤ {limits.ceiling:g} s over {n} requests ([budgets] "
                "ceiling, whatever the service reports of its own time)"
            )
        return None

    def describe(self) -> str:
        listed = ", ".join(f"{answer.server_time * 1000:.0f}" for answer in self.answers)
        return f"{self.server * 1000:.0f} ms (samples: {listed} ms; {self.wall * 1000:.0f} ms wall)"
