"""What a check saw and what it held it to: the evidence of a pass.

A check that passes says why, in the same words a failure would use: "environment =
production, expected production"; "migrations applied = 19, expected the 19 in the
repository"; "P95 = 212 ms, expected ≤ 400 ms". Judgements made by the domain (``Answer``'s
``expect_*``, ``judged``, the latency judge) record themselves here; a check records a
judgement of its own with ``saw``. The plugin collects them per check (``collecting``) and puts
them in the HTML row, the JUnit properties and the step summary. No pytest here: the domain
raises outcomes and records evidence, the wiring decides where they go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from umbrella_checks.secrets import scrub

# Long values (a body, a list of routes) are cut: evidence is read at a glance.
LONGEST = 120


@dataclass(frozen=True)
class Seen:
    """One judgement: ``what`` was ``value``, held to ``held_to``."""

    what: str
    value: str
    held_to: str

    @property
    def line(self) -> str:
        return f"{self.what} = {self.value}, {self.held_to}"


_collected: ContextVar[list[Seen] | None] = ContextVar("umbrella_evidence", default=None)


def _text(value: object) -> str:
    text = scrub(value if isinstance(value, str) else repr(value))
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def saw(what: str, value: object, held_to: str) -> None:
    """Record a judgement that held: ``saw("environment", "production", "expected
    production")``. Outside a check (no collector) it is dropped. Secrets are scrubbed."""
    collected = _collected.get()
    if collected is None:
        return
    seen = Seen(_text(what), _text(value), _text(held_to))
    if seen not in collected:  # one judgement made twice (a shared answer) is said once
        collected.append(seen)


@contextlib.contextmanager
def collecting(into: list[Seen] | None = None) -> Iterator[list[Seen]]:
    """Collect what is seen while the block runs (into ``into``: one check's setup and call)."""
    collected: list[Seen] = [] if into is None else into
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Judgements made here are no check's evidence (the guard reading the probe's answer,
    whichever check first waits for it)."""
    token = _collected.set(None)
    try:
        yield
    finally:
        _collected.reset(token)
