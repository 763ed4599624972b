"""The start-of-run probe: one GET of the health route, sent with the tier's planned requests,
and what it learned — the target's version and environment, or that it is not the Umbrella
API, or the platform's own error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from umbrella_checks.errors import CheckFailed
from umbrella_checks.settings import Settings
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.exchange import Planned
from umbrella_checks.target.safety import Reported, read_reported

if TYPE_CHECKING:
    pass


if TYPE_CHECKING:
    from umbrella_checks.wiring.runstate import Run


@dataclass(frozen=True)
class Probe:
    """What the target said about itself when the run started (one GET of the health route).

    Sent with the tier's first requests, when collection ends (see ``probe_and_prefetch``): it
    costs no round trip of its own. An xdist controller, which collects nothing, asks it while
    configuring, so that its workers can be handed the answer.
    """

    status: int | None = None
    version: str | None = None
    # A known environment name the target reported, read as the health checks read it ...
    environment: str | None = None
    # ... or why it could not be read (the safety guard then treats the target as production).
    environment_unknown: str | None = "the start-of-run probe was not sent"
    error: str | None = None
    unresponsive: str | None = None
    # What came back when the answer is not in the recorded shape of the Umbrella API's health
    # route (see ``not_the_api``); None when it is, or when there was no answer (``error``).
    stranger: str | None = None
    # What came back when health answered a 5xx that is not JSON: the platform's own error
    # page (Cloudflare's, a dev server's), not the Worker's (see ``platform_page``).
    platform: str | None = None

    @property
    def reported(self) -> Reported:
        return Reported(self.environment, self.environment_unknown)


# The probe has not been sent yet: it goes out with the first requests, once collection ends.
PENDING = Probe(error="not asked yet")


def target_version(probe: Probe) -> str:
    """What the start-of-run probe learned, for the summary and the report."""
    if probe.version:
        return f"{probe.version} (environment {probe.environment})"
    return f"unknown ({probe.error or f'health answered {probe.status}'})"


def probe_and_prefetch(
    run: Run,
    plan: Sequence[tuple[Planned, set[str]]] = (),
    timed: Sequence[tuple[Planned, set[str]]] = (),
) -> None:
    """One GET of the health route — the version and environment for the report — sent
    together with the tier's planned requests, without waiting for it: the probe costs no round
    trip of its own, and checks start while it is in flight (``Run.settled_probe``)."""
    settings = run.settings
    if not settings.base_url:
        run.probe = Probe(error="no target", environment_unknown="no target")
        return
    client = run.target_client()
    # The probe first, then the checks' requests.
    run.probe_answer = client.probe(settings.config.health.path)
    client.prefetch(plan, timed)


def probe_of(answer: Future[Answer], settings: Settings) -> Probe:
    """What the probe learned. The version is for the report (read leniently); the environment
    guards destructive work, so it is read the way verdicts read: status 200, the configured
    field, a known name — anything else leaves it unknown, with the reason."""
    try:
        health = answer.result()
    except CheckFailed as exc:
        return Probe(error=exc.message, environment_unknown=f"no health answer: {exc.message}")
    rules = settings.config.health
    version = health.find(rules.version_field)
    reported = read_reported(health, rules.environment_field)
    return Probe(
        health.status,
        str(version) if version is not None else None,
        reported.environment,
        reported.unknown,
        stranger=not_the_api(health),
        platform=platform_page(health),
    )


def platform_page(health: Answer) -> str | None:
    """What came back, when health answered a 5xx that is no JSON: an error page of the
    platform in front of the Worker (Cloudflare's 5xx pages, a dev server's 503), which every
    route then answers — one root cause, not one failure per route."""
    if not health.is_platform_page:  # the rule is the answer's own (Answer.is_platform_page)
        return None
    return f"{health.what} answered {health.status} {health.describe_body()}"


def not_the_api(health: Answer) -> str | None:
    """What came back, when the health route's answer is not the Umbrella API's: no JSON
    object, or a 404 (no health route). None when it is one: a JSON object in another shape
    is a difference the health checks name ([health] fields, [envelope] bare_routes), and a
    5xx is the API failing, which they judge too."""
    if health.status >= 500:
        return None
    try:
        body = health.parsed()
    except ValueError:  # UnicodeDecodeError too
        body = None
    if isinstance(body, dict) and health.status != 404:
        return None
    return f"{health.what} answered {health.status} {health.describe_body()}"
