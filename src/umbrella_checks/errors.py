"""The verdicts domain code can reach, as typed errors: no pytest here.

Domain modules (the API client, D1, Clerk, analytics, Sentry, Violet…) raise these; the pytest
plugin turns a ``CheckFailed`` into a failed check whose whole report is the message — no
traceback, so no locals, and the message was scrubbed of every known secret when it was made.
Scripts (monitor, perf) print the message instead.
"""

from __future__ import annotations

from typing import NoReturn

from umbrella_checks.secrets import scrub


class CheckFailed(Exception):
    """What the runbook demands did not hold, phrased as an on-call note."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))

    @property
    def message(self) -> str:
        return str(self.args[0])


class CouldNotCheck(CheckFailed):
    """A service the check needs did not answer usefully: a failure, never a pass."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message if message.startswith("could not check") else f"could not check: {message}"
        )


class EnvelopeMissing(CheckFailed):
    """An answer without the envelope the contract promises for its route: one difference,
    reported once per route; checks that cannot read their field because of it say so."""

    def __init__(self, message: str, route: str) -> None:
        super().__init__(message)
        self.route = route


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` alone (secrets scrubbed).

    ``from None``: when called while handling another error, that error is not the story.
    """
    raise CheckFailed(message) from None
