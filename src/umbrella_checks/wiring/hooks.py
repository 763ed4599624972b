"""The hooks of an umbrella-checks run (registered by ``plugin.py`` only where the suite is
meant to run). Each hook says *when* something happens; ``runstate`` and ``aftermath`` say how.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]

from umbrella_checks import __version__
from umbrella_checks.config.settings import NO_TARGET, TOKEN_VARS
from umbrella_checks.errors import (
    NOT_THE_API,
    UNREACHABLE,
    UNRESPONSIVE,
    CannotJudge,
    CheckFailed,
    NotJudged,
    Outcome,
    RootCause,
    Unreachable,
    WouldTripLimit,
)
from umbrella_checks.operations.incident import SEVERITIES, Failure, grouped
from umbrella_checks.operations.verdict import step_summary, verdict_of
from umbrella_checks.secrets import Secret
from umbrella_checks.target.client import Planned
from umbrella_checks.target.planning import over_documented_limits
from umbrella_checks.wiring.aftermath import record_history, report_failures, revoke_minted
from umbrella_checks.wiring.declared import MARKER as SENDS_MARKER
from umbrella_checks.wiring.declared import declared
from umbrella_checks.wiring.fixtures import PLUGINS
from umbrella_checks.wiring.fixtures.credentials import planning_token
from umbrella_checks.wiring.reporting import rotate
from umbrella_checks.wiring.runstate import (
    FIGURE,
    PENDING,
    Probe,
    Run,
    check_path_option_syntax,
    controller_run,
    informational,
    is_worker,
    probe_and_prefetch,
    reports_dir,
    run_key,
    run_of,
    worker_run,
    worker_share,
)

MARKERS = {
    "postdeploy": "runs right after a deploy; CI decides on rollback from it (fast, read-only)",
    "daily": "the runbook's morning health check, run nightly by the scheduler",
    "weekly": "the runbook's weekly review, run on Sundays",
    "destructive": "changes state or uses quota; needs --umbrella-allow-destructive, never "
    "production",
    SENDS_MARKER: "sends(declare, shared=False): the requests a check sends, declared for "
    "prefetching (umbrella_checks.target.planning)",
    "on_demand": "on_demand(why): the check sends requests it cannot declare in advance (they "
    "drop what is prefetched)",
    "severity": "severity(level): the runbook's SEV level when this check fails (SEV-1 to "
    "SEV-3; default SEV-3), read by the incident draft and the Slack alert",
}

DEFAULT_SEVERITY = "SEV-3"

# The fixtures the checks use; loaded with these hooks, never in other projects.
pytest_plugins = PLUGINS

# Fixtures that talk to the target: a selected check that uses one needs a base URL.
# (Not ``base_url``: pytest-base-url's autouse fixture puts it in every check's closure.)
TARGET_FIXTURES = frozenset({"api", "target_probe"})


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if getattr(config.option, "help", False) or getattr(config.option, "markers", False):
        return  # listing options or markers needs no settings, and must always work
    check_path_option_syntax(config.invocation_params.args)
    run = worker_run(config) if is_worker(config) else controller_run(config)
    config.stash[run_key] = run
    _add_metadata(config)
    if not is_worker(config) and not informational(config):
        config.pluginmanager.register(_Tally(config), "umbrella-tally")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A wrong severity marker is a usage error here, at collection (not a crash while a report
    is made). No target is a usage error only when a selected check needs one (listing never
    does)."""
    for item in items:
        severity_of(item)
    if run_key not in config.stash or informational(config):
        return
    _refuse_to_trip_documented_limits(config, items)
    if run_of(config).settings.base_url:
        return
    if any(TARGET_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in items):
        run_of(config).usage_error = True
        raise pytest.UsageError(NO_TARGET)


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
        run_of(config).usage_error = True
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
    if run.settings.config.http.concurrency >= 2:
        plan = declared(session.items, run.settings, planning_token(config)).requests
    probe_and_prefetch(run, plan)


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
        revoke_minted(run)  # normally done at session end; this catches aborted runs
    run.stop_sandbox()
    if run.reports is not None and run.usage_error:
        run.reports.discard()  # what pytest-html and junitxml wrote of a run that never ran
    elif run.reports is not None:
        run.reports.publish_latest()
        rotate(reports_dir(config), run.tier, run.settings.config.reports.keep)


def target_version(probe: Probe) -> str:
    """What the start-of-run probe learned, for the summary and the report."""
    if probe.version:
        return f"{probe.version} (environment {probe.environment})"
    return f"unknown ({probe.error or f'health answered {probe.status}'})"


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


def _add_metadata(config: pytest.Config, **more: str) -> None:
    """Put the run's facts in pytest-html's environment table (on workers too: xdist hands
    the controller a worker's table at the end)."""
    if metadata_key in config.stash:
        config.stash[metadata_key].update(describe_run(config), **more)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    """A skip reads as its reason and where, never as a raw (path, line, message) tuple."""
    if report.skipped and isinstance(report.longrepr, tuple) and data:
        path, line, message = report.longrepr
        data[0] = html.escape(f"{message} ({path}:{line})") + "\n"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    run = run_of(session.config)
    prefix.append(
        f"<p>Requests sent to the target: {run.total_requests} (including 1 start-of-run probe)</p>"
    )
    for name, value in sorted(run.findings.figures.items()):
        prefix.append(f"<p>{html.escape(name)}: {html.escape(str(value))}</p>")
    for note in run.findings.not_judged_notes():
        prefix.append(f"<p>{html.escape(note)}</p>")


if TYPE_CHECKING:
    from _pytest.outcomes import Failed, Skipped
else:
    Failed = pytest.fail.Exception  # pytest's public names for them
    Skipped = pytest.skip.Exception


class _Reported(Failed):
    """A ``CheckFailed`` on its way through pytest, as a failure without a traceback
    (``pytrace=False``): pytest shows its message and never formats the frames and their
    locals, which could hold a token (and which cost time on every failing check)."""

    def __init__(self, failure: CheckFailed) -> None:
        super().__init__(failure.message, pytrace=False)
        self.outcome: Outcome = failure


class _NotJudged(Skipped):
    """A ``NotJudged`` outcome on its way through pytest: a skip, its type kept for the report
    (which ``pytest_runtest_makereport`` locates at the check, not at a fixture)."""

    def __init__(self, outcome: NotJudged) -> None:
        super().__init__(outcome.message)
        self.outcome: Outcome = outcome


@contextlib.contextmanager
def _mapped_outcomes() -> Iterator[None]:
    """The one place domain outcomes become pytest's."""
    try:
        yield
    except CheckFailed as failure:
        raise _Reported(failure) from None
    except NotJudged as outcome:
        raise _NotJudged(outcome) from None


def _outcome_of(call: pytest.CallInfo[None]) -> Outcome | None:
    value = call.excinfo.value if call.excinfo is not None else None
    if isinstance(value, _Reported | _NotJudged):
        return value.outcome
    return value if isinstance(value, Outcome) else None


def severity_of(item: pytest.Item) -> str:
    """The check's declared SEV level (its own marker, else its module's), else SEV-3."""
    marker = item.get_closest_marker("severity")
    level = str(marker.args[0]) if marker is not None and marker.args else DEFAULT_SEVERITY
    if level not in SEVERITIES:
        raise pytest.UsageError(
            f"{item.nodeid}: severity {level!r} is not one of {', '.join(SEVERITIES)}; "
            "mark it @pytest.mark.severity('SEV-2')"
        )
    return level


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    outcome = _outcome_of(call)
    # Typed, so reports, --umbrella-strict-skips, notes and alerts never parse a message (the
    # attributes travel with the report from xdist workers).
    report.umbrella_severity = severity_of(item)  # type: ignore[attr-defined]
    if outcome is not None:
        report.umbrella_outcome = outcome.kind  # type: ignore[attr-defined]
    if isinstance(outcome, NotJudged) and report.skipped:
        report.longrepr = _skip_at_check(item, outcome.message)
    if isinstance(outcome, CheckFailed):
        # The message is the whole story: no traceback, so no locals that could hold a token.
        report.longrepr = outcome.message
        if outcome.route and outcome.expected:
            report.umbrella_problem = [outcome.route, outcome.expected]  # type: ignore[attr-defined]
        if isinstance(outcome, RootCause):
            report.umbrella_cause = (outcome.cause, outcome.summary)  # type: ignore[attr-defined]
            _one_failure_per_root_cause(run_of(item.config), report)
    if report.skipped and run_of(item.config).settings.strict_skips:
        _fail_skip_under_strict_skips(report)
    _attach_exchanges(item, report)
    return report


def _attach_exchanges(item: pytest.Item, report: pytest.TestReport) -> None:
    """What the check sent and got (method, URL, status, time; never a header or body), as a
    section of its report: the HTML report shows the evidence of a pass, not only of a fail."""
    client = run_of(item.config).client
    if client is None or report.when == "teardown":
        return
    if report.when == "setup" and report.passed:
        return  # kept for the call's report, with what the check itself sends
    lines = client.exchanges.pop(item.nodeid, [])
    if lines:
        report.sections.append(("umbrella: requests sent and answers", "\n".join(lines)))


def _one_failure_per_root_cause(run: Run, report: pytest.TestReport) -> None:
    """The first check to meet a root cause (the target hung, is not the Umbrella API, a
    route lost its envelope) fails; later ones cannot judge, naming it and where it failed.
    Called where each report is made, and on the xdist controller for the workers' reports,
    so one defect is one failure however many workers met it."""
    cause = getattr(report, "umbrella_cause", None)
    if cause is None or not (report.failed or report.skipped):
        return
    key, summary = cause
    if report.failed:
        first = run.root_causes.setdefault(key, report.nodeid)
    else:  # a skip a worker made names the worker's first; the run's first is the one to name
        first = run.root_causes.get(key, getattr(report, "umbrella_cause_first", ""))
    if first == report.nodeid or not first:
        return
    outcome = CannotJudge(f"{summary} (failed once, in {first.split('::', 1)[-1]})")
    report.outcome = "skipped"
    report.umbrella_cause_first = first  # type: ignore[attr-defined]
    report.umbrella_outcome = outcome.kind  # type: ignore[attr-defined]
    path, line, _ = report.location
    report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {outcome.message}")


def _skip_at_check(item: pytest.Item, message: str) -> tuple[str, int, str]:
    """A skip as pytest shows it, located at the check (not the fixture that raised it)."""
    return (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {message}")


def skip_reason(report: pytest.TestReport) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return str(reason).removeprefix("Skipped: ")


def outcome_kind(report: pytest.TestReport) -> str | None:
    """The typed outcome a report carries ("cannot-judge", "refused"…), None for pytest's own."""
    return getattr(report, "umbrella_outcome", None)


def _fail_skip_under_strict_skips(report: pytest.TestReport) -> None:
    """--umbrella-strict-skips: a check that did not judge is a failure — unless the safety guard
    refused it, which is the point, or the configuration turned it off (and an xfail, which is
    pytest's own)."""
    if hasattr(report, "wasxfail") or outcome_kind(report) in ("refused", "not-applicable"):
        return
    report.outcome = "failed"
    report.longrepr = f"--umbrella-strict-skips: this check did not judge: {skip_reason(report)}"


_requests_before = pytest.StashKey[int]()
_violations_before = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # A wrapper runs before every plain implementation, so this counts from before any fixture
    # (session-scoped ones send requests in the first check's setup). Fixtures' outcomes are
    # mapped like a check's. (pytest registers only hook functions named pytest_*: a wrapper
    # under another name with specname= is silently never called.)
    run = run_of(item.config)
    item.stash[_requests_before] = run.counter.total
    item.stash[_violations_before] = len(run.envelope_violations)
    if run.client is not None:  # prefetched answers serve only the checks that declared them
        run.client.asking = item.nodeid
        run.client.asking_destructive = item.get_closest_marker("destructive") is not None
        run.client.asking_on_demand = item.get_closest_marker("on_demand") is not None
    with _mapped_outcomes():
        # A destructive check is refused by the safety guard first (a target that did not
        # answer, or not as the Umbrella API, reported no environment): refusing is the point.
        fixtures = getattr(item, "fixturenames", ())
        if TARGET_FIXTURES.intersection(fixtures) and run.own_traffic:
            raise WouldTripLimit(run.own_traffic, "own traffic", "the run would trip a limit")
        if TARGET_FIXTURES.intersection(fixtures) and not item.get_closest_marker("destructive"):
            _refuse_a_stranger(run.settled_probe())
        yield


def _refuse_a_stranger(probe: Probe) -> None:
    """Before a check of the target sets up: if the start-of-run probe got no answer, or one
    not in the Umbrella API's recorded shape, nothing the check could find means what its
    remedy says ("auth is not enforced: roll back" on some other site's 404 page). The first
    such check fails with what came back and both readings; the rest cannot judge."""
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
        )
    if probe.stranger is not None:
        raise RootCause(
            f"{probe.stranger}: the health route ([health] path) does not answer as the "
            "Umbrella API does, with a JSON object. Either this is not the Umbrella "
            "API — is API_URL / --base-url right? — or the Worker lost its routes: check "
            "`wrangler deployments list` and roll back (Emergency Commands)",
            NOT_THE_API,
            "the target does not answer as the Umbrella API",
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _mapped_outcomes():
        yield
        _judge_envelope_rule(item)


def _judge_envelope_rule(item: pytest.Item) -> None:
    """The envelope rule, judged once, in the call phase of the check whose request (or whose
    fixture's request) broke it. A check that already failed keeps its own failure."""
    run = run_of(item.config)
    fresh = [
        (route, message)
        for route, message in run.envelope_violations[item.stash.get(_violations_before, 0) :]
        if f"envelope {route}" not in run.root_causes
    ]
    if fresh:
        for route, _ in fresh:
            run.root_causes.setdefault(f"envelope {route}", item.nodeid)
        more = f"; {len(fresh) - 1} more" if len(fresh) > 1 else ""
        raise CheckFailed(
            f"{fresh[0][1]} (contract: every JSON answer carries the envelope; if this route "
            f"answers bare by design, record it in [envelope] bare_routes){more}"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        with _mapped_outcomes():
            yield
    finally:
        spent = run_of(item.config).counter.total - item.stash.get(_requests_before, 0)
        item.user_properties.append(("requests", spent))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Controller only: history, the incident draft and the Slack alert."""
    config = session.config
    if is_worker(config) or run_key not in config.stash or informational(config):
        return
    run = run_of(config)
    if exitstatus == pytest.ExitCode.USAGE_ERROR:
        # Nothing was judged: no history, no alert, no verdict (CI reads "could not run"),
        # and no report — the last good evidence stays where it is (see pytest_unconfigure).
        run.usage_error = True
        run.close_client()
        revoke_minted(run)
        return
    # Before pytest-html writes the report (its own sessionfinish runs last).
    _add_metadata(config, **{"Target version": target_version(run.settled_probe())})
    run.close_client()  # counts what was prefetched and never asked for
    revoke_minted(run)
    record_history(config, run)
    report_failures(config, run)
    run.findings.verdict = verdict_of(exitstatus, run.findings.failures)
    target = config.getoption("umbrella_verdict_file")
    if target:
        Path(target).write_text(f"{run.findings.verdict.word}\n", encoding="utf-8")
    summary = config.getoption("umbrella_summary")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as page:
            page.write(
                step_summary(
                    run.findings.verdict,
                    run.findings.failures,
                    [*run.findings.not_judged_notes(), *run.findings.notes],
                    tier=run.tier,
                    target=run.settings.base_url or "no target",
                    report=str(run.reports.latest if run.reports else "none"),
                )
            )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if run_key not in config.stash or is_worker(config) or informational(config):
        return
    run = run_of(config)
    if run.usage_error:
        return
    terminalreporter.write_line(f"umbrella: Target version: {target_version(run.probe)}")
    terminalreporter.write_line(f"umbrella: {run.total_requests} requests sent to the target")
    if run.findings.verdict is not None:
        terminalreporter.write_line(f"umbrella: {run.findings.verdict.line}")
    for name, value in sorted(run.findings.figures.items()):
        terminalreporter.write_line(f"umbrella: {name}: {value}")
    for group in grouped(run.findings.failures):
        if group.problem is not None:
            terminalreporter.write_line(f"umbrella: {group.line(width=600)}")
    for note in [*run.findings.not_judged_notes(), *run.findings.notes]:
        terminalreporter.write_line(f"umbrella: {note}")
    if run.findings.on_demand:
        listed = "; ".join(
            f"{node.split('::', 1)[-1]}: {what}" for node, what in run.findings.on_demand
        )
        terminalreporter.write_line(
            f"umbrella: {len(run.findings.on_demand)} request(s) sent on demand, not declared by "
            f"the check that sent them (each drops what is prefetched): {listed}"
        )


class _Tally:
    """Controller side: failures, requests and figures that checks report, also from xdist
    workers. Without xdist the process's own counter already saw every request."""

    def __init__(self, config: pytest.Config) -> None:
        self.run = run_of(config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(report, "node"):  # from an xdist worker: before any reporter reads it
            _one_failure_per_root_cause(self.run, report)
        name = report.nodeid.split("::", 1)[-1]
        self._carry_severity(report)
        if report.skipped and outcome_kind(report) == "cannot-judge":
            self.run.findings.not_judged.append(
                (name, skip_reason(report).removeprefix("cannot judge: "))
            )
        if report.failed:
            # Every phase: a hung target fails a check in its fixtures' setup, and pages too.
            self.run.findings.failures.append(
                Failure(
                    report.nodeid,
                    report.longreprtext.strip()[:2000],
                    getattr(report, "umbrella_severity", DEFAULT_SEVERITY),
                    report.when or "call",
                    outcome_kind(report) or "error",
                    *getattr(report, "umbrella_problem", (None, None)),
                )
            )
        if report.when != "teardown":
            return
        for key, value in report.user_properties:
            if key == "requests" and hasattr(report, "node"):
                self.run.findings.worker_requests += int(str(value))
            elif key.startswith(FIGURE):
                self.run.findings.figures[key.removeprefix(FIGURE)] = value

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        """The report's title says which tier, which target, when — not the file's name."""
        target = self.run.settings.base_url or "no target"
        report.title = (
            f"umbrella-checks {self.run.tier} — {target} — {self.run.started:%Y-%m-%d %H:%M:%S} UTC"
        )

    def _carry_severity(self, report: pytest.TestReport) -> None:
        """A check stopped by a root cause another check failed on lends that failure its
        severity when it is higher: whichever check met the defect first (xdist decides), a
        health route answering 500 stays the SEV-1 it is."""
        first = getattr(report, "umbrella_cause_first", None)
        level = getattr(report, "umbrella_severity", DEFAULT_SEVERITY)
        for index, failure in enumerate(self.run.findings.failures):
            if failure.nodeid == first and SEVERITIES.index(level) < SEVERITIES.index(
                failure.severity
            ):
                self.run.findings.failures[index] = replace(failure, severity=level)
