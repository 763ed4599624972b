"""The hooks of an umbrella-checks run (registered by ``plugin.py`` only where the suite is
meant to run), on the controller and on xdist workers alike. Each hook says *when* something
happens; ``startup`` says how a run is set up, ``outcomes`` how a check's outcome is typed,
and ``controller`` — registered only where reports are made into a verdict — what they add
up to.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]

from umbrella_checks import __version__
from umbrella_checks.errors import (
    NOT_THE_API,
    PLATFORM_PAGE,
    UNREACHABLE,
    UNRESPONSIVE,
    EnvelopeMissing,
    NotTheApi,
    RootCause,
    Unreachable,
    WouldTripLimit,
)
from umbrella_checks.evidence import collecting
from umbrella_checks.operations.baseline import Baseline
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import NO_TARGET
from umbrella_checks.target.accounts import TOKEN_VARS
from umbrella_checks.target.exchange import Planned
from umbrella_checks.wiring.declared import MARKER as SENDS_MARKER
from umbrella_checks.wiring.declared import declared
from umbrella_checks.wiring.fixtures import PLUGINS
from umbrella_checks.wiring.fixtures.credentials import planning_token
from umbrella_checks.wiring.html import withdraw_html_report
from umbrella_checks.wiring.outcomes import (
    EVIDENCE_PROPERTY,
    mapped_outcomes,
    seen_key,
    severity_of,
)
from umbrella_checks.wiring.planning import over_documented_limits
from umbrella_checks.wiring.probe import PENDING, Probe, probe_and_prefetch
from umbrella_checks.wiring.reporting import rotate
from umbrella_checks.wiring.runstate import informational, is_worker, reports_dir, run_key, run_of
from umbrella_checks.wiring.startup import controller_run, worker_run, worker_share

MARKERS = {
    "postdeploy": "runs right after a deploy; CI decides on rollback from it (fast, read-only)",
    "daily": "the runbook's morning health check, run nightly by the scheduler",
    "weekly": "the runbook's weekly review, run on Sundays",
    "destructive": "changes state or uses quota; needs --umbrella-allow-destructive, never "
    "production",
    SENDS_MARKER: "sends(declare, shared=False): the requests a check sends, declared for "
    "prefetching (umbrella_checks.api.sends)",
    "on_demand": "on_demand(why): the check sends requests it cannot declare in advance (they "
    "drop what is prefetched)",
    "severity": "severity(level): the runbook's SEV level when this check fails (SEV-1 rolls "
    "back, SEV-2 and SEV-3 leave it to a person; default SEV-3), read by the verdict, the "
    "incident draft and the Slack alert",
}

# The fixtures the checks use, and the outcome mapping: registered with these hooks
# (``plugin.py``), never in other projects. Not ``pytest_plugins``: pytest scans every installed
# distribution's entry points once per name listed there, a fifth of a short run's own CPU.
COMPANIONS = (*PLUGINS, "umbrella_checks.wiring.outcomes")

# Fixtures that talk to the target: a selected check that uses one needs a base URL.
# (Not ``base_url``: pytest-base-url's autouse fixture puts it in every check's closure.)
TARGET_FIXTURES = frozenset({"api", "target_probe"})


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if getattr(config.option, "help", False) or getattr(config.option, "markers", False):
        return  # listing options or markers needs no settings, and must always work
    run = worker_run(config) if is_worker(config) else controller_run(config)
    config.stash[run_key] = run
    add_metadata(config)
    if not is_worker(config) and not informational(config):
        # Imported here: a worker never loads what only the controller does.
        from umbrella_checks.wiring.controller import Controller

        config.pluginmanager.register(Controller(config), "umbrella-controller")
        if config.pluginmanager.hasplugin("html"):
            from umbrella_checks.wiring.html import HtmlReport

            config.pluginmanager.register(HtmlReport(config), "umbrella-html")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A wrong severity marker is a usage error here, at collection (not a crash while a report
    is made). No target is a usage error only when a selected check needs one (listing never
    does)."""
    try:
        for item in items:
            severity_of(item)
        if run_key not in config.stash or informational(config):
            return
        _refuse_to_trip_documented_limits(config, items)
        if run_of(config).settings.base_url:
            return
        if any(TARGET_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in items):
            raise pytest.UsageError(NO_TARGET)
    except pytest.UsageError:
        # Nothing will be judged: no report of it, and no line about one (wiring/html.py).
        if run_key in config.stash:
            run_of(config).usage_error = True
        withdraw_html_report(config)
        raise


def _refuse_to_trip_documented_limits(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse at start when the selected checks' own requests would exceed a documented rate
    limit from this runner: the run would fail on 429s it caused itself."""
    settings = run_of(config).settings
    limits = settings.config.security.rate_limits
    if not limits or not settings.base_url:
        return

    # Who sends a request is all that counts here: a stand-in credential per account.
    def stand_in(who: str) -> Secret | None:
        return None if who == "anonymous" else Secret(who, f"stand-in for {who}")

    planned = declared(items, settings, stand_in).requests
    problems = over_documented_limits(planned, limits)
    if not problems:
        return
    message = (
        "; ".join(problems) + ": the run would trip the limit itself and fail on its own "
        "429s; select fewer checks (-k, --deselect), lower [budgets] samples, or record the "
        "limit the service really has"
    )
    if not is_worker(config):
        raise pytest.UsageError(message)
    # An xdist worker cannot end the run at collection (the controller takes it for a crash):
    # the first check of the target fails with this instead, the rest cannot judge.
    run_of(config).own_traffic = message


def pytest_collection_finish(session: pytest.Session) -> None:
    """The run's first requests: the start-of-run probe and the selected checks' planned
    requests, sent together; checks start while they are in flight. Not in an xdist worker,
    which does not know which checks it will be given: its checks send as they ask."""
    config = session.config
    run = config.stash.get(run_key, None)
    if run is None or run.probe is not PENDING or informational(config) or is_worker(config):
        return
    if run.usage_error:  # pytest calls this even when collection ended in a usage error
        return
    plan: list[tuple[Planned, set[str]]] = []
    timed: list[tuple[Planned, set[str]]] = []
    if run.settings.config.http.concurrency >= 2:
        planner = declared(session.items, run.settings, planning_token(config))
        plan, timed = planner.untimed, planner.timed
    probe_and_prefetch(run, plan, timed)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand every xdist worker the one sandbox, the start-of-run probe and the token file."""
    node.workerinput["umbrella"] = worker_share(run_of(node.config))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(run_key, None)
    if run is None:
        return
    run.close_client()
    if not is_worker(config):
        from umbrella_checks.wiring.aftermath import revoke_minted

        revoke_minted(run)  # normally done at session end; this catches aborted runs
    run.stop_sandbox()
    if run.reports is not None and run.usage_error:
        run.reports.discard()  # what junitxml wrote of a run that never ran
    elif run.reports is not None and not run.interrupted:
        # An interrupted run keeps its own (partial) report; "latest" stays the last whole one.
        run.reports.publish_latest()
        rotate(reports_dir(config), run.tier, run.settings.config.reports.keep)


def describe_run(config: pytest.Config) -> dict[str, str]:
    """The facts shown in the terminal header and the report's environment table (the target's
    version joins them at the end: the probe is answered while checks run)."""
    run = run_of(config)
    settings = run.settings
    target = settings.base_url or "none"
    facts = {
        "Target": f"{target} (from {settings.base_url_source})",
        "Expected environment": f"{settings.environment} (from {settings.environment_source})",
        "Suite version": f"umbrella-checks {__version__}",
        "Started (UTC)": run.started.strftime("%Y-%m-%d %H:%M:%S"),
        "Config file": str(settings.config_path or "none (built-in defaults)"),
        "Destructive checks": "allowed" if settings.allow_destructive else "off",
    }
    if settings.expected_version:
        facts["Expected version"] = settings.expected_version
    for account in TOKEN_VARS:
        facts[f"Credential: {account}"] = settings.token_source(account)
    return facts


def pytest_report_header(config: pytest.Config) -> list[str]:
    if run_key not in config.stash:
        return []
    return [f"umbrella: {key}: {value}" for key, value in describe_run(config).items()]


def add_metadata(config: pytest.Config, **more: str) -> None:
    """Put the run's facts in pytest-html's environment table (on workers too: xdist hands
    the controller a worker's table at the end)."""
    if metadata_key in config.stash:
        config.stash[metadata_key].update(describe_run(config), **more)


_requests_before = pytest.StashKey[int]()
_answered_before = pytest.StashKey[int]()
_violations_before = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # A wrapper runs before every plain implementation, so this counts from before any fixture
    # (session-scoped ones send requests in the first check's setup). Fixtures' outcomes are
    # mapped like a check's. (pytest registers only hook functions named pytest_*: a wrapper
    # under another name with specname= is silently never called.)
    run = run_of(item.config)
    item.stash[_requests_before] = run.counter.total
    item.stash[_answered_before] = run.counter.answered
    item.stash[_violations_before] = len(run.envelope_violations)
    run.start_check(
        item.nodeid,
        destructive=item.get_closest_marker("destructive") is not None,
        on_demand=item.get_closest_marker("on_demand") is not None,
    )
    with mapped_outcomes(), collecting(item.stash.setdefault(seen_key, [])):
        # A destructive check is refused by the safety guard first (a target that did not
        # answer, or not as the Umbrella API, reported no environment): refusing is the point.
        fixtures = getattr(item, "fixturenames", ())
        if TARGET_FIXTURES.intersection(fixtures) and run.own_traffic:
            raise WouldTripLimit(run.own_traffic, "own traffic", "the run would trip a limit")
        if TARGET_FIXTURES.intersection(fixtures) and not item.get_closest_marker("destructive"):
            refuse_a_stranger(run.settled_probe(), run.baseline)
        yield


def refuse_a_stranger(probe: Probe, baseline: Baseline | None = None) -> None:
    """Before a check of the target sets up: if the start-of-run probe got no answer, or one
    not in the Umbrella API's recorded shape, nothing the check could find means what its
    remedy says ("auth is not enforced: roll back" on some other site's 404 page). The first
    such check fails with what came back and both readings; the rest are stopped."""
    if probe.error is not None and probe.unresponsive is None:
        raise Unreachable(
            f"no connection for the start-of-run probe: {probe.error}",
            UNREACHABLE,
            "the target could not be reached (no connection)",
        )
    if probe.error is not None:
        raise RootCause(
            f"no answer to the start-of-run probe: {probe.error}",
            UNRESPONSIVE,
            "the target did not answer the start-of-run probe",
            severity="SEV-1",
        )
    if probe.platform is not None:
        raise RootCause(
            f"{probe.platform}: the platform in front of the Worker answers its own error page "
            "instead of the Worker (production down: runbook › Common Issues › Issue 1 — check "
            "Cloudflare status, `wrangler tail`, and roll back if this is a recent deploy)",
            PLATFORM_PAGE,
            "the platform answers its own error page instead of the Worker",
            severity="SEV-1",
        )
    if probe.stranger is not None and baseline is not None and baseline.identity.umbrella:
        raise RootCause(
            f"{probe.stranger}: the health route ([health] path) does not answer as the "
            f"Umbrella API does, and {baseline.described} showed this URL answering as the "
            "Umbrella API: the deploy lost its routes; roll back (Emergency Commands)",
            NOT_THE_API,
            "the target no longer answers as the Umbrella API",
            severity="SEV-1",
        )
    if probe.stranger is not None:
        raise NotTheApi(
            f"{probe.stranger}: the health route ([health] path) does not answer as the "
            "Umbrella API does, with a JSON object. Either this is not the Umbrella "
            "API — is API_URL / --base-url right? — or the Worker lost its routes: check "
            "`wrangler deployments list` and roll back (Emergency Commands). A baseline taken "
            "before the deploy (--umbrella-baseline) tells the two apart",
            NOT_THE_API,
            "the target does not answer as the Umbrella API",
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    seen = item.stash.setdefault(seen_key, [])
    try:
        with mapped_outcomes(), collecting(seen):
            yield
            _judge_envelope_rule(item)
    finally:
        # JUnit reads a check's properties from its teardown report: recorded now, they are there.
        item.user_properties.extend((EVIDENCE_PROPERTY, each.line) for each in seen)


def _judge_envelope_rule(item: pytest.Item) -> None:
    """The envelope rule, judged in the call phase of the check whose request (or whose
    fixture's request) broke it; a check that already failed keeps its own failure. Once per
    route: the controller stops a later check meeting the same route's violation."""
    run = run_of(item.config)
    fresh = run.envelope_violations[item.stash.get(_violations_before, 0) :]
    if fresh:
        route, message = fresh[0]
        routes = list(dict.fromkeys(route for route, _ in fresh))
        more = f"; {len(routes) - 1} more route(s): {', '.join(routes[1:])}" if routes[1:] else ""
        raise EnvelopeMissing(
            f"{message} (contract: every JSON answer carries the envelope; if this route "
            f"answers bare by design, record it in [envelope] bare_routes){more}",
            route,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        with mapped_outcomes():
            yield
    finally:
        counter = run_of(item.config).counter
        spent = counter.total - item.stash.get(_requests_before, 0)
        answered = counter.answered - item.stash.get(_answered_before, 0)
        item.user_properties += [("requests", spent), ("answered", answered)]
