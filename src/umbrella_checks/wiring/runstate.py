"""What one run shares between the plugin's hooks and its fixtures: one ``Run`` in the stash.

The helpers here set a run up (sandbox, settings, minted tokens, the start-of-run probe,
report paths) so that the hooks in ``hooks.py`` stay short and read as "what happens when".
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from umbrella_checks.config.matrix import Row, load_rows
from umbrella_checks.config.settings import (
    SandboxInfo,
    Settings,
    SettingsError,
    clerk_client,
    resolve,
)
from umbrella_checks.config.suite import ConfigError
from umbrella_checks.errors import CheckFailed
from umbrella_checks.operations.baseline import Baseline, BaselineError, Seen
from umbrella_checks.operations.incident import Failure
from umbrella_checks.operations.verdict import Verdict
from umbrella_checks.sandbox.process import SandboxNotStarted
from umbrella_checks.services.clerk import ClerkError, TokenStore
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.client import ApiClient, Planned
from umbrella_checks.target.safety import Reported, read_reported
from umbrella_checks.transport import RequestCounter
from umbrella_checks.wiring.keys import launched_sandbox
from umbrella_checks.wiring.reporting import ReportPaths, tier_of

if TYPE_CHECKING:
    from umbrella_checks.sandbox.process import SandboxProcess


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


@dataclass
class Findings:
    """What the run found, as its reports, alerts and verdict read it: filled by the hooks as
    reports come in (on the controller, also from xdist workers), read when the session ends.
    No fixture or check touches it."""

    # Requests that xdist workers reported (the controller's own are in ``counter``).
    worker_requests: int = 0
    worker_answered: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Requests checks sent without having declared them: (check node id, "GET /path").
    on_demand: list[tuple[str, str]] = field(default_factory=list)
    # (check name, why) for each check that gave no verdict for lack of data.
    not_judged: list[tuple[str, str]] = field(default_factory=list)
    # Each check's outcome, the root causes met, and latency samples by request line (ms): what
    # a baseline keeps.
    outcomes: dict[str, Seen] = field(default_factory=dict)
    causes: set[str] = field(default_factory=set)
    latency: dict[str, list[float]] = field(default_factory=dict)
    # Named beside the verdict without changing it (a route slower than before the deploy).
    warnings: list[str] = field(default_factory=list)
    # What changed since the baseline: (what, before, after), for the reports.
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    # Sections checks put at the top of the HTML report: (title, markup) — the trend charts.
    sections: list[tuple[str, str]] = field(default_factory=list)
    # What each passing check saw and held it to (its "evidence" properties), for the summary.
    evidence: dict[str, list[str]] = field(default_factory=dict)

    def not_judged_notes(self) -> list[str]:
        """ "could not judge …" lines, one per reason: 44 checks stopped by one root cause
        are one line, not 44."""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.not_judged:
            by_reason.setdefault(reason, []).append(name)
        notes = []
        for reason, names in by_reason.items():
            if len(names) == 1:
                notes.append(f"could not judge {names[0]}: {reason}")
                continue
            listed = ", ".join(names[:5]) + (
                f" and {len(names) - 5} more" if len(names) > 5 else ""
            )
            notes.append(f"could not judge {len(names)} checks: {reason} — {listed}")
        return notes

    # The run's verdict on the service (controller, at session end): what CI rolls back on.
    verdict: Verdict | None = None


@dataclass
class Run:
    """Everything one pytest process knows about this run: its settings, the target's client
    and probe, its reports — and what it found (``findings``)."""

    settings: Settings
    started: datetime
    # The -m expression when it names one tier (postdeploy, daily, weekly), else "custom".
    tier: str = "custom"
    probe: Probe = PENDING
    matrix: list[Row] = field(default_factory=list)
    counter: RequestCounter = field(default_factory=RequestCounter)
    # What the checks found (failures, figures, notes…): owned by the plugin's hooks.
    findings: Findings = field(default_factory=lambda: Findings())
    # JSON answers without the contract's envelope, (route, message), in the order they came.
    envelope_violations: list[tuple[str, str]] = field(default_factory=list)
    # Root causes a check has already failed on (``RootCause.cause``), and that check's name:
    # later checks meeting the same cause cannot judge (see hooks).
    root_causes: dict[str, str] = field(default_factory=dict)
    reports: ReportPaths | None = None
    # The run ended in a usage error (exit 4): it judged nothing, so it reports nothing.
    usage_error: bool = False
    # Ended by Ctrl-C (or another interruption): its report is partial.
    interrupted: bool = False
    # Set (in an xdist worker) when the selected checks would trip a documented rate limit.
    own_traffic: str | None = None
    sandbox: SandboxProcess | None = None
    tokens: TokenStore | None = None
    # The one client for the target in this process (the probe's, then the checks' ``api``).
    client: ApiClient | None = None
    # The start-of-run probe's answer while it is in flight (see ``settled_probe``).
    probe_answer: Future[Answer] | None = None
    # The pre-deploy baseline this run is compared with (--umbrella-baseline).
    baseline: Baseline | None = None
    # pytest-timeout's limit for one check (seconds), when it is installed and set; and when the
    # check now running must be done by (time.perf_counter()), for the client's confirmations.
    timeout_limit: float | None = None
    deadline: float | None = None

    def accounts(self) -> Accounts:
        """The test accounts' tokens: static from the settings, minted through this run's
        token store (``target/accounts.py``)."""
        clerk = self.settings.clerk
        return Accounts(
            self.settings.tokens,
            self.tokens,
            frozenset(clerk.mint) if clerk is not None else frozenset(),
        )

    @property
    def total_requests(self) -> int:
        return self.findings.worker_requests + self.counter.total

    @property
    def requests_line(self) -> str:
        """How many requests went to the target, and — when fewer — how many it answered: a
        run that reached nothing must not read as one that sent 25 requests."""
        sent = self.total_requests
        answered = self.findings.worker_answered + self.counter.answered
        line = f"{sent} requests sent to the target"
        if answered >= sent:
            return line
        if answered == 0:
            return f"{line}, none answered (no connection, or no answer in time)"
        return f"{line}, {answered} answered"

    def target_client(self) -> ApiClient:
        if self.client is None:
            self.client = ApiClient.for_target(
                self.settings.base_url, self.settings.config, self.counter, self.envelope_violations
            )
            # A target that hung on the probe is not asked again: the run ends in one timeout.
            self.client.unresponsive = self.probe.unresponsive
            self.client.deadline = self.deadline
        return self.client

    def start_check(self, node: str, destructive: bool, on_demand: bool) -> None:
        """A check is about to set up: prefetched answers serve only the checks that declared
        them, and its requests must leave it time to judge within pytest-timeout's limit."""
        # A second less than the limit: the check judges what it has before it is cut.
        self.deadline = (
            time.perf_counter() + self.timeout_limit - 1.0 if self.timeout_limit else None
        )
        if self.client is not None:
            self.client.asking = node
            self.client.asking_destructive = destructive
            self.client.asking_on_demand = on_demand
            self.client.deadline = self.deadline

    def settled_probe(self) -> Probe:
        """The start-of-run probe, waiting for its answer if it is still in flight."""
        if self.probe_answer is not None:
            answer, self.probe_answer = self.probe_answer, None
            self.probe = probe_of(answer, self.settings)
            if self.client is not None and self.client.unresponsive:
                self.probe = replace(self.probe, unresponsive=self.client.unresponsive)
        return self.probe

    def close_client(self) -> None:
        """Close the target's client; what it prefetched and nobody asked for is counted."""
        if self.client is not None:
            self.findings.on_demand.extend(self.client.on_demand)
            self.findings.notes.extend(dict.fromkeys(self.client.notes))
            self.client.close()
            self.client = None

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


run_key = pytest.StashKey[Run]()

# The prefix of a figure's user property (JUnit: <property name="figure: D1 size (bytes)" …>).
FIGURE = "figure: "


def target_version(probe: Probe) -> str:
    """What the start-of-run probe learned, for the summary and the report."""
    if probe.version:
        return f"{probe.version} (environment {probe.environment})"
    return f"unknown ({probe.error or f'health answered {probe.status}'})"


def run_of(config: pytest.Config) -> Run:
    return config.stash[run_key]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def uses_xdist(config: pytest.Config) -> bool:
    """This process hands checks to xdist workers (``-n N``, ``--tx``); ``-n 0`` does not."""
    option = config.option
    return getattr(option, "dist", "no") != "no" and bool(getattr(option, "tx", None))


def informational(config: pytest.Config) -> bool:
    """--help, --markers, --fixtures, --collect-only: nothing is sent, nothing is written."""
    option = config.option
    return bool(
        getattr(option, "help", False)
        or getattr(option, "markers", False)
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
        or getattr(option, "collectonly", False)
    )


def reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("umbrella_reports_dir") or config.rootpath / "reports")


def history_key(settings: Settings) -> str:
    """Trends follow a target across runs; every sandbox run is the same target."""
    return "sandbox" if settings.sandbox else settings.base_url


# --- setting a run up ---------------------------------------------------------------------


def given_on_command_line(config: pytest.Config, flag: str) -> bool:
    """Was ``flag`` given on the command line (or in PYTEST_ADDOPTS / ini addopts, which pytest
    treats as command line)?"""
    args = [
        *config.invocation_params.args,
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *config.getini("addopts"),
    ]
    return any(str(arg) == flag or str(arg).startswith(flag + "=") for arg in args)


def option_getter(config: pytest.Config) -> Callable[[str], Any]:
    """Options as settings reads them. pytest-base-url's --base-url defaults to the
    PYTEST_BASE_URL variable, which settings reads itself (an environment variable ranks below
    the command line, and is named as the source): its value counts as the option only when
    --base-url was really given."""

    def option(name: str) -> Any:
        if name == "base_url_ini":
            return config.getini("base_url") or None
        # The suite's own options are all --umbrella-* (dest umbrella_*): they never collide
        # with another plugin's or a conftest's; settings asks for them by their short names.
        dest = name if name in ("base_url", "umbrella_config") else f"umbrella_{name}"
        value = config.getoption(dest, None)
        if (
            name == "base_url"
            and value
            and value == os.environ.get("PYTEST_BASE_URL")
            and not given_on_command_line(config, "--base-url")
        ):
            return None
        return value

    return option


def sandbox_starter(
    config: pytest.Config, run: list[SandboxProcess]
) -> Callable[[str], SandboxInfo]:
    """The controller's --umbrella-sandbox: the process ``plugin.py`` launched, told the environment
    to report when settings have resolved it."""
    sandbox = config.stash[launched_sandbox]

    def start(environment: str) -> SandboxInfo:
        reported = config.getoption("umbrella_sandbox_environment") or environment
        try:
            info = sandbox.ready(reported)
        except SandboxNotStarted as exc:
            raise pytest.UsageError(str(exc)) from None
        run.append(sandbox)
        return SandboxInfo.from_dict(info)

    return start


def resolve_settings(
    config: pytest.Config, start: Callable[[str], SandboxInfo] | None, started: list[SandboxProcess]
) -> Settings:
    try:
        return resolve(
            option_getter(config), os.environ, config.rootpath, start, target_required=False
        )
    except (SettingsError, ConfigError) as exc:
        for sandbox in started:
            sandbox.stop()
        raise pytest.UsageError(str(exc)) from None


def load_matrix(config: pytest.Config, settings: Settings) -> list[Row]:
    """The status matrix: a named file that is missing, empty or malformed is a usage error
    (exit 4, one line) — an empty list would let the matrix and forged-token checks judge
    nothing."""
    path = config.rootpath / settings.config.matrix.file
    try:
        return load_rows(path, settings.config.routes, settings.config.matrix.row)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def mint_tokens(settings: Settings) -> TokenStore | None:
    if settings.clerk is None:
        return None
    try:
        return TokenStore.create(
            clerk_client(settings.clerk, settings.config),
            settings.clerk.mint,
            settings.config.clerk.refresh_margin,
        )
    except ClerkError as exc:
        raise pytest.UsageError(f"cannot mint test tokens: {exc}") from None


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
    if health.status < 500:
        return None
    try:
        health.parsed()
    except ValueError:  # UnicodeDecodeError too
        return f"{health.what} answered {health.status} {health.describe_body()}"
    return None


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


def plan_reports(config: pytest.Config, tier: str, started: datetime) -> ReportPaths:
    folder = reports_dir(config)
    paths = ReportPaths.plan(folder, tier, started)
    folder.mkdir(parents=True, exist_ok=True)
    if config.pluginmanager.hasplugin("html") and not config.getoption("htmlpath"):
        # pytest-html reads these in its own pytest_configure, which runs after ours.
        config.option.htmlpath = str(paths.html)
        config.option.self_contained_html = True
    if config.pluginmanager.hasplugin("junitxml") and not config.getoption("xmlpath"):
        config.option.xmlpath = str(paths.junit)
    return paths


def _point_base_url(config: pytest.Config, settings: Settings) -> None:
    if settings.base_url:
        config.option.base_url = settings.base_url  # pytest-base-url's fixture answers this


def worker_share(run: Run) -> dict[str, Any]:
    """What the controller hands each xdist worker: one sandbox, one probe, one token file."""
    settings = run.settings
    return {
        "sandbox": settings.sandbox.to_dict() if settings.sandbox else None,
        "probe": asdict(run.probe),
        "started": run.started.isoformat(),
        "token_file": str(run.tokens.path) if run.tokens else None,
    }


def worker_run(config: pytest.Config) -> Run:
    """A worker's Run, from what the controller shared."""
    shared = config.workerinput["umbrella"]  # type: ignore[attr-defined]
    info = SandboxInfo.from_dict(shared["sandbox"]) if shared["sandbox"] else None
    settings = resolve_settings(config, (lambda _env: info) if info else None, [])
    run = Run(
        settings,
        datetime.fromisoformat(shared["started"]),
        tier_of(config.getoption("markexpr") or ""),
        Probe(**shared["probe"]),
    )
    run.matrix = load_matrix(config, settings)
    run.timeout_limit = check_per_test_timeout(config, settings)
    _point_base_url(config, settings)
    if shared.get("token_file") and settings.clerk:
        run.tokens = TokenStore.open(
            Path(shared["token_file"]),
            clerk_client(settings.clerk, settings.config),
            settings.config.clerk.refresh_margin,
        )
    return run


def check_per_test_timeout(config: pytest.Config, settings: Settings) -> float | None:
    """pytest-timeout's limit for one check, when installed and set. It must leave a request
    its own timeouts (and a second to judge): cut shorter, a slow answer ends in a dump of
    every prefetch thread's stack (thousands of lines) instead of the check's one-line "no
    answer within …". Within it, the client stops confirming in time (``Run.start_check``)."""
    if not config.pluginmanager.hasplugin("timeout"):
        return None
    import pytest_timeout  # type: ignore[import-untyped,import-not-found,unused-ignore]

    limit = pytest_timeout.get_env_settings(config).timeout
    http = settings.config.http
    needed = http.connect_timeout + http.read_timeout + 1.0
    if limit and limit <= needed:
        raise pytest.UsageError(
            f"pytest-timeout's limit ({limit:g} s) is not longer than one request's own timeouts "
            f"and a second to judge ([http] connect_timeout + read_timeout + 1 s = {needed:g} s):"
            " a slow answer would end in a dump of every thread; raise --timeout (or "
            "PYTEST_TIMEOUT) above that, or lower [http] read_timeout"
        )
    return float(limit) if limit else None


def load_baseline(settings: Settings, run: Run) -> Baseline | None:
    """The baseline to compare with, refused at start (nothing sent) when it says nothing about
    this run; and a baseline to take only where one can be: a read-only post-deploy run."""
    if settings.baseline_out is not None and (
        run.tier != "postdeploy" or settings.allow_destructive
    ):
        raise pytest.UsageError(
            "--umbrella-baseline-out is taken by a read-only post-deploy run: -m postdeploy, "
            "without --umbrella-allow-destructive"
        )
    if settings.baseline is None:
        return None
    try:
        baseline = Baseline.load(settings.baseline)
    except BaselineError as exc:
        raise pytest.UsageError(f"--umbrella-baseline: {exc}") from None
    refused = baseline.refusal(
        settings.base_url, settings.environment, run.started, settings.config.baseline.max_age
    )
    if refused:
        raise pytest.UsageError(
            f"--umbrella-baseline={settings.baseline} refused: {refused}; take a new one with "
            "--umbrella-baseline-out just before the deploy (nothing was sent)"
        )
    return baseline


def controller_run(config: pytest.Config) -> Run:
    """The controller's Run: settings, sandbox, minted tokens and (unless only listing) the
    start-of-run probe (here only for xdist; else when collection ends) and report paths."""
    started_sandboxes: list[SandboxProcess] = []
    start = (
        sandbox_starter(config, started_sandboxes) if config.getoption("umbrella_sandbox") else None
    )
    settings = resolve_settings(config, start, started_sandboxes)
    run = Run(settings, datetime.now(UTC), tier_of(config.getoption("markexpr") or ""))
    run.sandbox = started_sandboxes[0] if started_sandboxes else None
    try:
        run.timeout_limit = check_per_test_timeout(config, settings)
        run.matrix = load_matrix(config, settings)
        run.baseline = load_baseline(settings, run)
    except pytest.UsageError:
        run.stop_sandbox()
        raise
    _point_base_url(config, settings)
    if informational(config):
        run.probe = Probe(error="not asked: nothing runs")
        return run
    try:
        run.tokens = mint_tokens(settings)
    except pytest.UsageError:
        run.stop_sandbox()
        raise
    if uses_xdist(config) or not settings.base_url:
        probe_and_prefetch(run)  # an xdist controller collects nothing: ask it now
        run.settled_probe()
    run.reports = plan_reports(config, run.tier, run.started)
    return run
