"""Secret values that cannot leak by accident.

pytest prints fixture values and locals in tracebacks, pytest-html copies metadata, and log
lines get pasted into incident channels. A ``Secret`` prints as a redaction everywhere; only
``reveal()`` hands out the value, and only the HTTP layer calls it. Every revealed value is also
registered with ``scrub`` so that a message that does contain it (an echoing server, say) is
cleaned before anyone sees it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

# Every form of every secret met, longest first (a secret that contains another is replaced
# whole): sorted when one is added, not on every scrub, which runs on every line of evidence.
_KNOWN: tuple[str, ...] = ()

# A control character (a line break pasted into a CI secret, a NUL) cannot travel in an HTTP
# header: the client would refuse it with an error that quotes the whole value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SecretError(ValueError):
    """A secret that cannot be used, said without the secret (one line, for the user)."""


def forms(value: str) -> set[str]:
    """How a value can appear in text: as is, escaped (repr, JSON) and URL-encoded."""
    found = {
        value,
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
    }
    return {form for form in found if len(form) >= 4}


@dataclass(frozen=True)
class Secret:
    """A credential and the name of the variable it came from."""

    source: str
    _value: str  # never printed: __repr__ below

    def __post_init__(self) -> None:
        global _KNOWN
        new = forms(self._value).difference(_KNOWN)
        if new:
            _KNOWN = tuple(sorted({*_KNOWN, *new}, key=len, reverse=True))

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source}=***)"

    __str__ = __repr__


def from_env(*names: str) -> Secret | None:
    """The first of ``names`` that is set and non-empty, as a Secret; ``SecretError`` (naming
    the variable, never the value) when it holds a control character."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            secret = Secret(name, value)  # known to scrub before anything can echo it
            if _CONTROL.search(value):
                raise SecretError(
                    f"{name} holds a control character (a line break or tab pasted with it?); "
                    "set it again to the value alone"
                )
            return secret
    return None


def scrub(text: str) -> str:
    """Replace every known secret value in ``text`` with ``***``."""
    for value in _KNOWN:
        text = text.replace(value, "***")
    return text
