"""The outcomes domain code can reach, as types: no pytest here (pytest's ``outcomes.py`` idea).

Domain modules and checks raise these; the plugin maps each type once (``hooks.py``):

- ``CheckFailed``: the check failed. Its whole report is the message — no traceback, so no
  locals — scrubbed of every known secret. A ``RootCause`` (the target hung, a route answers
  5xx or without its envelope) fails the first check that meets it; the later ones are
  stopped, naming it. ``CouldNotCheck`` (a service a check needs did not answer),
  ``Unreachable`` (no connection to the target) and ``NotTheApi`` (the target never answered
  as the Umbrella API) fail too, but are doubt about the run, not a verdict on the service:
  the gate does not roll back on them (``operations/verdict.py`` has the whole model).
- ``CannotJudge``: the data cannot support a verdict (no history, nothing to judge, a quantile
  the API does not offer). Never a pass: a skip that says why, a failure under
  --umbrella-strict-skips.
- ``MissingInput``: an input the check needs was not given (a credential, an API token): a
  skip naming what to set, a failure under --umbrella-strict-skips.
- ``NotApplicable``: the configuration says there is nothing of this kind to judge (no [tls]
  domain set, no rate limits documented, a plain-http target has no certificate): a skip that
  says how to turn it on, also under --umbrella-strict-skips — a choice, not doubt.
- ``Refused``: the safety guard refused to change state, burn quota or load this target. A
  skip, also under --umbrella-strict-skips: refusing is the point.

Reports, --umbrella-strict-skips, the run's notes, incident drafts and Slack read the type
(carried on the report as ``umbrella_outcome``), never a message prefix. Scripts print the message.
"""

from __future__ import annotations

import re
from typing import ClassVar, NoReturn

from umbrella_checks.evidence import saw
from umbrella_checks.secrets import scrub


class Outcome(Exception):
    """A verdict other than "passed", phrased for the on-call engineer (secrets scrubbed)."""

    # How reports, --umbrella-strict-skips and alerts know it: "failed", "cannot-judge", …
    kind: ClassVar[str] = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))

    @property
    def message(self) -> str:
        return str(self.args[0])


class CheckFailed(Outcome):
    """What the runbook demands did not hold, phrased as an on-call note."""

    kind = "failed"

    def __init__(
        self, message: str, *, route: str | None = None, expected: str | None = None
    ) -> None:
        super().__init__(message)
        # The request and the expectation it missed, when an answer failed it: failures with
        # one expectation missed on many routes are grouped by these, never by their wording.
        self.route = route
        self.expected = scrub(expected) if expected is not None else None

    @property
    def signature(self) -> str:
        """The reason for this failure, the same run after run (a baseline compares by it): the
        request and the expectation it missed, else the message without what changes between
        runs (hosts and ports, numbers)."""
        if self.route and self.expected:
            return f"{self.route} expected {self.expected}"
        return re.sub(r"\d+", "#", re.sub(r"https?://[^/\s]+", "", self.message))


class CouldNotCheck(CheckFailed):
    """A service the check needs did not answer usefully, or a number it needs is missing:
    a failure, never a pass (and never read as 0) — but no verdict on the service, so the
    gate does not roll back on it (``verdict.py``)."""

    kind = "could-not-check"

    def __init__(self, message: str, **rest: str | None) -> None:
        super().__init__(
            message if message.startswith("could not check") else f"could not check: {message}",
            **rest,
        )


class RootCause(CheckFailed):
    """A failure that makes other checks unable to judge: the target hung, it is not the
    Umbrella API, a route answers 5xx or without its envelope. The first check to meet a
    ``cause`` fails with the whole story (so the message must not depend on which check met
    it); every later one is stopped, naming it and where it failed (``wiring/controller.py``).
    One defect, one failure. ``severity``: the least severe level this defect can be, whichever
    check meets it first (a hung target is production down: SEV-1)."""

    def __init__(
        self,
        message: str,
        cause: str,
        summary: str,
        *,
        route: str | None = None,
        expected: str | None = None,
        severity: str | None = None,
        fixed: bool = False,
    ) -> None:
        super().__init__(message, route=route, expected=expected)
        self.cause = cause  # what identifies this defect within a run (and across runs)
        self.summary = scrub(summary)  # the defect in a few words, for the checks it stops
        self.severity = severity
        # ``severity`` is this defect's level whichever checks meet it (not a floor).
        self.fixed = fixed

    @property
    def signature(self) -> str:
        return f"cause:{self.cause}"


class EnvelopeMissing(RootCause):
    """An answer without the envelope the contract promises for its route: one difference,
    reported once per route; checks that cannot read their field because of it say so. A
    difference from the contract, SEV-2 whichever check meets it (a person decides: drift to
    record, or a defect to fix), never the SEV-1 of the check it happened to land on."""

    def __init__(self, message: str, route: str) -> None:
        super().__init__(
            message,
            f"envelope {route}",
            f"{route} answers without the envelope",
            severity="SEV-2",
            fixed=True,
        )
        self.route = route


class Unreachable(RootCause):
    """No connection to the target at all (DNS, refused, TLS): the runner's network or the
    URL, not an answer from the service. A failure, but no verdict on the service: the gate
    alerts the CI owner instead of rolling back (a Worker behind Cloudflare always accepts
    connections; when it is broken, Cloudflare answers for it)."""

    kind = "unreachable"


class ServiceDown(RootCause, CouldNotCheck):
    """An outside service a check reads (Cloudflare's API, Sentry, D1's API) did not answer, or
    answered 5xx: could not check — no verdict on the Umbrella service — and one failure however
    many checks read it (the rest are stopped, naming it)."""

    kind = "could-not-check"

    def __init__(self, message: str, service: str) -> None:
        super().__init__(message, f"service {service}", f"{service} did not answer")


class NotTheApi(RootCause):
    """The target's health route did not answer as the Umbrella API does (no JSON object, a
    404): some other site at that URL, or a Worker that lost its routes. Without evidence that
    this URL was the Umbrella API before the deploy (``--umbrella-baseline``) the two look the
    same, so this is doubt about the run's URL, not a verdict on the service."""

    kind = "not-the-api"


class WouldTripLimit(RootCause):
    """The selected checks' own requests would exceed a documented rate limit from this
    runner: the run refuses before sending them (in an xdist worker, which cannot stop the run
    at collection, as the first check's failure). No verdict on the service."""

    kind = "would-trip-limit"


# The causes every check of the target shares (``RootCause.cause``).
UNRESPONSIVE = "target unresponsive"
UNREACHABLE = "target unreachable"
NOT_THE_API = "not the Umbrella API"
PLATFORM_PAGE = "platform error page"

# The outcome of a check stopped by a root cause another check already failed on: a skip that
# names it, never a failure of its own (not even under --umbrella-strict-skips).
STOPPED = "stopped"


class NotJudged(Outcome):
    """The check ran to a point where it could give no verdict: a skip, never a pass."""

    kind = "not-judged"


class CannotJudge(NotJudged):
    """The available data cannot support a verdict (nothing to judge, no history)."""

    kind = "cannot-judge"

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot judge: {reason}")
        self.reason = reason


class NotApplicable(NotJudged):
    """The configuration says there is nothing of this kind here; the message says how to
    turn the check on."""

    kind = "not-applicable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"not applicable: {reason}")


class MissingInput(NotJudged):
    """An input the check needs was not given; the message names what to set."""

    kind = "missing-input"


class Refused(NotJudged):
    """The safety guard refused to change state, burn quota or load this target."""

    kind = "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"safety guard: {reason}")
        self.reason = reason


def fail(message: str) -> NoReturn:
    """Fail the current check with ``message`` alone (secrets scrubbed).

    ``from None``: when called while handling another error, that error is not the story.
    """
    raise CheckFailed(message) from None


def cannot_judge(reason: str) -> NoReturn:
    """Give up on a verdict the available data cannot support, saying why."""
    raise CannotJudge(reason) from None


def not_applicable(reason: str) -> NoReturn:
    raise NotApplicable(reason) from None


def missing_input(message: str) -> NoReturn:
    raise MissingInput(message) from None


def judged(count: int, what: str) -> int:
    """``count`` things were judged; none is "cannot judge", never a pass. Returns ``count``."""
    if count <= 0:
        raise CannotJudge(f"no {what} to judge")
    saw(what, count, "judged each")
    return count
