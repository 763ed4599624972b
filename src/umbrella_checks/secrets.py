"""Secret values that cannot leak by accident.

pytest prints fixture values and locals in tracebacks, pytest-html copies metadata, and log
lines get pasted into incident channels. A ``Secret`` prints as a redaction everywhere; only
``reveal()`` hands out the value, and only the HTTP layer calls it. Every revealed value is also
registered with ``scrub`` so that a message that does contain it (an echoing server, say) is
cleaned before anyone sees it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_KNOWN: set[str] = set()


@dataclass(frozen=True)
class Secret:
    """A credential and the name of the variable it came from."""

    source: str
    _value: str  # never printed: __repr__ below

    def __post_init__(self) -> None:
        if len(self._value) >= 4:
            _KNOWN.add(self._value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source}=***)"

    __str__ = __repr__


def from_env(*names: str) -> Secret | None:
    """The first of ``names`` that is set and non-empty, as a Secret."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return Secret(name, value)
    return None


def scrub(text: str) -> str:
    """Replace every known secret value in ``text`` with ``***``."""
    for value in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
