"""The pytest plugin: options, the run's target, tiers, reports and the checks' fixtures.

Registered through the ``pytest11`` entry point, so ``pytest -m postdeploy`` in this repo (or
anywhere the package is installed) gets it without a conftest.
"""

from __future__ import annotations

import html
import itertools
import os
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]

from umbrella_checks import __version__, history, incident, slack
from umbrella_checks.analytics import GraphQL
from umbrella_checks.clerk import HOW_TO_GET_ONE, ID_VARS, Clerk, ClerkError, TokenStore, jwt_expiry
from umbrella_checks.client import Answer, ApiClient, RequestCounter, fail
from umbrella_checks.config import ENVIRONMENTS, ConfigError
from umbrella_checks.d1 import D1ApiBackend, D1Backend, SqliteBackend
from umbrella_checks.incident import Failure
from umbrella_checks.matrix import Row, load_rows
from umbrella_checks.reporting import ReportPaths, tier_of
from umbrella_checks.safety import GUARD_PREFIX, destructive_refusal
from umbrella_checks.secrets import Secret, from_env
from umbrella_checks.settings import (
    SENTRY_VARS,
    TOKEN_VARS,
    SandboxInfo,
    SentryAccess,
    Settings,
    SettingsError,
    resolve,
)
from umbrella_checks.wrangler import WranglerApp, WranglerError

if TYPE_CHECKING:
    pass

MARKERS = {
    "postdeploy": "runs right after a deploy; CI decides on rollback from it (fast, read-only)",
    "daily": "the runbook's morning health check, run nightly by the scheduler",
    "weekly": "the runbook's weekly review, run on Sundays",
    "destructive": "changes state or uses quota; needs --allow-destructive, never production",
}

settings_key = pytest.StashKey[Settings]()
probe_key = pytest.StashKey["Probe"]()
counter_key = pytest.StashKey[RequestCounter]()
sandbox_key = pytest.StashKey["Sandbox"]()
reports_key = pytest.StashKey[ReportPaths]()
started_key = pytest.StashKey[datetime]()
tally_key = pytest.StashKey[dict[str, int]]()
matrix_key = pytest.StashKey[list[Row]]()
figures_key = pytest.StashKey[dict[str, Any]]()
failures_key = pytest.StashKey[list[Failure]]()
notes_key = pytest.StashKey[list[str]]()
store_key = pytest.StashKey[TokenStore]()


@dataclass(frozen=True)
class Probe:
    """What the target said about itself when the run started (one GET of the health route)."""

    status: int | None = None
    version: str | None = None
    environment: str | None = None
    error: str | None = None
    unresponsive: str | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("umbrella-checks", "Umbrella runbook checks")
    group.addoption(
        "--base-url",
        dest="base_url",
        metavar="URL",
        help="the Umbrella API to check (env API_URL), e.g. https://umbrella.app",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        default=False,
        help="start the bundled sandbox for this run and check it",
    )
    group.addoption(
        "--sandbox-fault",
        dest="sandbox_faults",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="inject a sandbox fault (repeatable; env UMBRELLA_SANDBOX_FAULTS)",
    )
    group.addoption(
        "--sandbox-environment",
        dest="sandbox_environment",
        choices=ENVIRONMENTS,
        help="environment the sandbox reports (default: the expected one)",
    )
    group.addoption(
        "--environment",
        dest="environment",
        metavar="NAME",
        help=f"expected environment: {', '.join(ENVIRONMENTS)} (env ENVIRONMENT; "
        "default production, development with --sandbox)",
    )
    group.addoption(
        "--umbrella-config",
        dest="umbrella_config",
        metavar="PATH",
        help="thresholds file (env UMBRELLA_CONFIG; default ./umbrella.toml)",
    )
    group.addoption(
        "--app-dir",
        dest="app_dir",
        metavar="DIR",
        help="the Umbrella app checkout with wrangler.toml (env UMBRELLA_APP_DIR)",
    )
    group.addoption(
        "--d1-sqlite",
        dest="d1_sqlite",
        metavar="PATH",
        help="read D1 from this local SQLite file (env D1_SQLITE_PATH)",
    )
    group.addoption(
        "--migrations-dir",
        dest="migrations_dir",
        metavar="DIR",
        help="migrations folder (default: migrations_dir from wrangler.toml)",
    )
    group.addoption(
        "--expected-version",
        dest="expected_version",
        metavar="VERSION",
        help="version the deploy should report (env EXPECTED_VERSION)",
    )
    group.addoption(
        "--allow-destructive",
        action="store_true",
        default=False,
        help="allow checks that change state or use quota (never production)",
    )
    group.addoption(
        "--strict-skips",
        action="store_true",
        default=False,
        help="fail every check skipped for a missing input (the safety guard's "
        "refusals stay skips)",
    )
    group.addoption(
        "--reports-dir",
        dest="reports_dir",
        metavar="DIR",
        help="where tier reports go (default: <rootdir>/reports)",
    )


PATH_OPTIONS = (
    "--umbrella-config",
    "--app-dir",
    "--d1-sqlite",
    "--migrations-dir",
    "--reports-dir",
)


def _check_path_option_syntax(args: tuple[str, ...] | list[str]) -> None:
    # pytest picks its rootdir before plugins add their options, so in `--app-dir DIR` it takes
    # DIR for a test path: the run then starts from the wrong folder. `--app-dir=DIR` is safe.
    for flag, value in itertools.pairwise(args):
        if flag in PATH_OPTIONS:
            raise pytest.UsageError(
                f"write {flag}={value} (with '='): in '{flag} {value}' pytest takes {value} "
                "for a test path and picks the wrong root folder"
            )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _start_sandbox(config: pytest.Config) -> Callable[[str], SandboxInfo]:
    # Imported here: only the controller of a --sandbox run needs the server (and its JWT
    # verification), and every xdist worker would otherwise pay for importing it.
    from umbrella_checks.sandbox import FaultError, Sandbox, parse_faults

    specs = [s for s in os.environ.get("UMBRELLA_SANDBOX_FAULTS", "").split(",") if s.strip()]
    specs += config.getoption("sandbox_faults")
    try:
        faults = parse_faults(specs)
    except FaultError as exc:
        raise pytest.UsageError(f"{exc}; see the README's fault table") from None

    def start(environment: str) -> SandboxInfo:
        env = config.getoption("sandbox_environment") or environment
        sandbox = Sandbox(faults, environment=env).start()
        config.stash[sandbox_key] = sandbox
        return SandboxInfo.from_dict(sandbox.describe())

    return start


def _probe(settings: Settings, counter: RequestCounter) -> Probe:
    client = ApiClient(settings.base_url, settings.config.http, counter)
    try:
        answer = client.get(settings.config.health.path)
    except pytest.fail.Exception as exc:
        return Probe(error=str(exc.msg), unresponsive=client.unresponsive)
    finally:
        client.close()
    try:
        data = answer.response.json().get("data", {})
    except (ValueError, AttributeError):
        data = {}
    data = data if isinstance(data, dict) else {}
    return Probe(answer.status, data.get("version"), data.get("environment"))


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    _check_path_option_syntax(config.invocation_params.args)
    counter = RequestCounter()
    config.stash[counter_key] = counter
    config.stash[tally_key] = {"requests": 0}
    config.stash[figures_key] = {}
    config.stash[failures_key] = []
    config.stash[notes_key] = []
    if _is_worker(config):
        shared = config.workerinput["umbrella"]  # type: ignore[attr-defined]
        sandbox = SandboxInfo.from_dict(shared["sandbox"]) if shared["sandbox"] else None
        config.stash[started_key] = datetime.fromisoformat(shared["started"])
        config.stash[probe_key] = Probe(**shared["probe"])
    else:
        sandbox = None
        config.stash[started_key] = datetime.now(UTC)
    start = None
    if sandbox is not None:
        info = sandbox
        start = lambda _env: info  # noqa: E731
    elif config.getoption("sandbox") and not _is_worker(config):
        start = _start_sandbox(config)
    try:
        settings = resolve(config.getoption, os.environ, config.rootpath, start)
    except (SettingsError, ConfigError) as exc:
        _stop_sandbox(config)
        raise pytest.UsageError(str(exc)) from None
    config.stash[settings_key] = settings
    _load_matrix(config, settings)
    if _is_worker(config):
        token_file = config.workerinput["umbrella"].get("token_file")  # type: ignore[attr-defined]
        if token_file and settings.clerk:
            config.stash[store_key] = TokenStore.open(
                Path(token_file), _clerk(settings), settings.config.clerk.refresh_margin
            )
        _add_metadata(config)
        return
    if settings.clerk and not config.getoption("collectonly"):
        try:
            config.stash[store_key] = TokenStore.create(
                _clerk(settings), settings.clerk.mint, settings.config.clerk.refresh_margin
            )
        except ClerkError as exc:
            _stop_sandbox(config)
            raise pytest.UsageError(f"cannot mint test tokens: {exc}") from None
    if config.getoption("collectonly"):
        config.stash[probe_key] = Probe(error="not asked: --collect-only")
        return
    config.stash[probe_key] = _probe(settings, counter)
    _add_metadata(config)
    config.pluginmanager.register(_Tally(config), "umbrella-tally")
    _plan_reports(config)


def _clerk(settings: Settings) -> Clerk:
    assert settings.clerk is not None
    return Clerk(
        settings.clerk.secret,
        settings.clerk.api_base,
        settings.config.http,
        settings.config.clerk.template,
    )


def _revoke_minted(config: pytest.Config) -> None:
    store = config.stash.get(store_key, None)
    if store is None or _is_worker(config):
        return
    del config.stash[store_key]
    sessions = len(store.accounts())
    problems = store.close()
    config.stash[notes_key].extend(problems or [f"Clerk: revoked {sessions} minted session(s)"])


def _load_matrix(config: pytest.Config, settings: Settings) -> None:
    path = config.rootpath / settings.config.matrix.file
    try:
        config.stash[matrix_key] = load_rows(path) if path.exists() else []
    except ConfigError as exc:
        _stop_sandbox(config)
        raise pytest.UsageError(str(exc)) from None


def matrix_rows(config: pytest.Config) -> list[Row]:
    """The validated status-matrix rows, for the matrix check's parametrization."""
    return config.stash[matrix_key]


def _plan_reports(config: pytest.Config) -> None:
    folder = reports_dir(config)
    tier = tier_of(config.getoption("markexpr") or "")
    paths = ReportPaths.plan(folder, tier, config.stash[started_key])
    config.stash[reports_key] = paths
    folder.mkdir(parents=True, exist_ok=True)
    if config.pluginmanager.hasplugin("html") and not config.getoption("htmlpath"):
        # pytest-html reads these in its own pytest_configure, which runs after ours.
        config.option.htmlpath = str(paths.html)
        config.option.self_contained_html = True
    if not config.getoption("xmlpath"):
        config.option.xmlpath = str(paths.junit)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand every xdist worker the one sandbox and the start-of-run probe."""
    config = node.config
    settings = config.stash[settings_key]
    node.workerinput["umbrella"] = {
        "sandbox": settings.sandbox.to_dict() if settings.sandbox else None,
        "probe": asdict(config.stash[probe_key]),
        "started": config.stash[started_key].isoformat(),
        "token_file": str(store.path) if (store := config.stash.get(store_key, None)) else None,
    }


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: checks wait on the network, not the CPU, so run more workers than cores."""
    return min(8, 4 * (os.cpu_count() or 1))


def _stop_sandbox(config: pytest.Config) -> None:
    sandbox = config.stash.get(sandbox_key, None)
    if sandbox is not None:
        sandbox.stop()
        del config.stash[sandbox_key]


def pytest_unconfigure(config: pytest.Config) -> None:
    _revoke_minted(config)  # normally done at session end; this catches aborted runs
    _stop_sandbox(config)
    paths = config.stash.get(reports_key, None)
    if paths is not None:
        paths.publish_latest()


def describe_run(config: pytest.Config) -> dict[str, str]:
    """The facts shown in the terminal header and the report's environment table."""
    settings = config.stash[settings_key]
    probe = config.stash[probe_key]
    if probe.version:
        reported = f"{probe.version} (environment {probe.environment})"
    else:
        reported = f"unknown ({probe.error or f'health answered {probe.status}'})"
    facts = {
        "Target": f"{settings.base_url} (from {settings.base_url_source})",
        "Expected environment": f"{settings.environment} (from {settings.environment_source})",
        "Target version": reported,
        "Suite version": f"umbrella-checks {__version__}",
        "Started (UTC)": config.stash[started_key].strftime("%Y-%m-%d %H:%M:%S"),
        "Config file": str(settings.config_path or "none (built-in defaults)"),
        "Destructive checks": "allowed" if settings.allow_destructive else "off",
    }
    if settings.expected_version:
        facts["Expected version"] = settings.expected_version
    for account in TOKEN_VARS:
        facts[f"Credential: {account}"] = settings.token_source(account)
    return facts


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"umbrella: {key}: {value}" for key, value in describe_run(config).items()]


def _add_metadata(config: pytest.Config) -> None:
    """Put the run's facts in pytest-html's environment table (on workers too: xdist hands
    the controller a worker's table at the end)."""
    if metadata_key in config.stash:
        config.stash[metadata_key].update(describe_run(config))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    total = _total_requests(session.config)
    prefix.append(f"<p>Requests sent to the target: {total} (including 1 start-of-run probe)</p>")
    for name, value in sorted(session.config.stash[figures_key].items()):
        prefix.append(f"<p>{html.escape(name)}: {html.escape(str(value))}</p>")


def _total_requests(config: pytest.Config) -> int:
    return config.stash[tally_key]["requests"] + config.stash[counter_key].total


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    settings = item.config.stash.get(settings_key, None)
    if not (settings and settings.strict_skips and report.skipped):
        return
    if hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.removeprefix("Skipped: ").startswith(GUARD_PREFIX):
        return
    report.outcome = "failed"
    report.longrepr = f"--strict-skips: this check did not run: {reason.removeprefix('Skipped: ')}"


def reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("reports_dir") or config.rootpath / "reports")


def history_key(settings: Settings) -> str:
    """Trends follow a target across runs; every sandbox run is the same target."""
    return "sandbox" if settings.sandbox else settings.base_url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Controller only: history, the incident draft and the Slack alert."""
    config = session.config
    if _is_worker(config) or settings_key not in config.stash:
        return
    _revoke_minted(config)
    if reports_key not in config.stash:
        return
    settings = config.stash[settings_key]
    started = config.stash[started_key]
    tier = tier_of(config.getoption("markexpr") or "")
    numeric = [
        (name, float(value))
        for name, value in config.stash[figures_key].items()
        if isinstance(value, int | float)
    ]
    if numeric:
        history.append(
            reports_dir(config) / "history.sqlite", started, tier, history_key(settings), numeric
        )
    failures = config.stash[failures_key]
    if not failures:
        return
    paths = config.stash[reports_key]
    text = incident.draft(
        failures, tier=tier, target=settings.base_url, started=started, report=paths.latest
    )
    written = incident.write(reports_dir(config), text, started)
    notes = config.stash[notes_key]
    notes.append(f"incident draft: {written} ({incident.severity(failures)})")
    webhook = from_env("SLACK_WEBHOOK_URL")
    if webhook is not None:
        names = ", ".join(f.name for f in failures[:10])
        more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
        problem = slack.post(
            webhook,
            f":rotating_light: umbrella-checks {tier} on {settings.base_url}: "
            f"{len(failures)} failed ({incident.severity(failures)}): {names}{more}. "
            f"Report: {paths.latest}",
            timeout=settings.config.http.read_timeout,
        )
        notes.append(problem or "Slack alerted")


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if settings_key in config.stash and not _is_worker(config):
        terminalreporter.write_line(
            f"umbrella: {_total_requests(config)} requests sent to the target"
        )
        for name, value in sorted(config.stash[figures_key].items()):
            terminalreporter.write_line(f"umbrella: {name}: {value}")
        for note in config.stash[notes_key]:
            terminalreporter.write_line(f"umbrella: {note}")


before_key = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: session-scoped ones send requests in the first check's setup.
    item.stash[before_key] = item.config.stash[counter_key].total


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        yield
    finally:
        spent = item.config.stash[counter_key].total - item.stash.get(before_key, 0)
        item.user_properties.append(("requests", spent))


class _Tally:
    """Controller side: requests and figures that checks report, also from xdist workers.

    Without xdist the process's own counter already saw every request.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.config.stash[failures_key].append(
                Failure(report.nodeid, report.longreprtext.strip()[:2000])
            )
        if report.when != "teardown":
            return
        for key, value in report.user_properties:
            if key == "requests" and hasattr(report, "node"):
                self.config.stash[tally_key]["requests"] += int(str(value))
            elif key == "figure" and isinstance(value, tuple | list):
                self.config.stash[figures_key][str(value[0])] = value[1]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    """The run's resolved settings (target, environment, thresholds, credentials)."""
    return pytestconfig.stash[settings_key]


@pytest.fixture(scope="session")
def target_probe(pytestconfig: pytest.Config) -> Probe:
    """What the target said about itself at the start of the run."""
    return pytestconfig.stash[probe_key]


@pytest.fixture(scope="session")
def api(
    pytestconfig: pytest.Config, settings: Settings, target_probe: Probe
) -> Iterator[ApiClient]:
    """The suite's one HTTP client, pointed at the target."""
    client = ApiClient(settings.base_url, settings.config.http, pytestconfig.stash[counter_key])
    # A target that hung on the probe is not asked again: the run ends in one timeout.
    client.unresponsive = target_probe.unresponsive
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _every_json_answer_has_the_envelope(request: pytest.FixtureRequest) -> Iterator[None]:
    # Only where the check talks to the target; checks that never use `api` pay nothing.
    if "api" not in request.fixturenames:
        yield
        return
    client: ApiClient = request.getfixturevalue("api")
    seen = len(client.envelope_violations)
    yield
    fresh = client.envelope_violations[seen:]
    if fresh:
        fail(
            f"{fresh[0]} (contract: every JSON answer carries the envelope)"
            + (f"; {len(fresh) - 1} more" if len(fresh) > 1 else "")
        )


def require_destructive(config: pytest.Config) -> None:
    """Skip unless destructive work is allowed here (call it before any state change)."""
    settings = config.stash[settings_key]
    refusal = destructive_refusal(
        allowed=settings.allow_destructive,
        base_url=settings.base_url,
        environment=settings.environment,
        pattern=settings.config.safety.sensitive_url,
        reported_environment=config.stash[probe_key].environment,
    )
    if refusal:
        pytest.skip(refusal)


@pytest.fixture(autouse=True)
def _destructive_guard(request: pytest.FixtureRequest) -> None:
    # Function-scoped: wider fixtures that change state must call require_destructive
    # themselves, since they are set up before this one.
    if request.node.get_closest_marker("destructive") is not None:
        require_destructive(request.config)


@pytest.fixture(scope="session")
def health(api: ApiClient, settings: Settings) -> Answer:
    """One GET of the health route, shared by the health checks (the service caches it 10 s)."""
    return api.get(settings.config.health.path)


def credential(config: pytest.Config, account: str) -> Secret:
    """The account's token: static from the environment, or minted via Clerk for this run.

    Skips, naming the variables, when there is neither; fails when a static token has expired.
    """
    settings = config.stash[settings_key]
    static = settings.tokens.get(account)
    if static is not None:
        expires = jwt_expiry(static.reveal())
        if expires is not None and expires < time.time():
            stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            fail(
                f"{static.source} expired at {stamp} (Clerk session tokens live 60 s, so a "
                f"pasted one is dead by the time a scheduled run uses it): {HOW_TO_GET_ONE}"
            )
        return static
    store = config.stash.get(store_key, None)
    if store is not None and settings.clerk and account in settings.clerk.mint:
        try:
            return Secret(f"minted via Clerk for {ID_VARS[account]}", store.current(account))
        except ClerkError as exc:
            fail(str(exc))
    names = TOKEN_VARS[account]
    alias = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    pytest.skip(
        f"{names[0]}{alias} is not set: this check needs the {account} test account's "
        f"bearer token in that variable, or CLERK_SECRET_KEY and {ID_VARS[account]} to "
        "mint one"
    )


@pytest.fixture
def user_token(pytestconfig: pytest.Config) -> Secret:
    """A regular artist test account's token (UMBRELLA_USER_TOKEN)."""
    return credential(pytestconfig, "user")


@pytest.fixture
def admin_token(pytestconfig: pytest.Config) -> Secret:
    """An admin test account's token (UMBRELLA_ADMIN_TOKEN)."""
    return credential(pytestconfig, "admin")


@pytest.fixture
def limit_token(pytestconfig: pytest.Config) -> Secret:
    """The dedicated account whose Violet quota destructive checks may use up."""
    return credential(pytestconfig, "limit")


@pytest.fixture(scope="session")
def exhausted_token(pytestconfig: pytest.Config, settings: Settings, api: ApiClient) -> Secret:
    """A user over Violet's daily limit.

    The sandbox has one ready. Elsewhere this uses up the dedicated limit account's quota, so
    it is destructive: guarded, and never against production.
    """
    if settings.sandbox:
        return Secret("sandbox exhausted account", settings.sandbox.tokens["exhausted"])
    require_destructive(pytestconfig)
    token = credential(pytestconfig, "limit")
    violet = settings.config.violet
    for _ in range(violet.daily_limit + 1):
        answer = api.post(violet.prompt_path, token=token, json={"prompt": "quota check"})
        if answer.status == 429:
            return token
        answer.expect_status(200, hint="while using up the limit account's quota")
    fail(
        f"POST {api.url(violet.prompt_path)}: expected 429 within {violet.daily_limit + 1} "
        "prompts, got none (Violet's limit is not enforced)"
    )


@pytest.fixture
def token_for(request: pytest.FixtureRequest, settings: Settings) -> Callable[[str], Secret | None]:
    """The credential for a matrix row's ``who``; skips naming the variable when it is unset."""

    def pick(who: str) -> Secret | None:
        if who == "anonymous":
            return None
        if who == "invalid-token":
            return Secret("invalid-token", "invalid.token.for-umbrella-checks")
        if who == "limit-exhausted":
            return request.getfixturevalue("exhausted_token")  # type: ignore[no-any-return]
        return credential(request.config, who)

    return pick


class Figures:
    """Numbers a check records for the report (the runbook's "note growth trends")."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def record(self, name: str, value: object) -> None:
        self._node.user_properties.append(("figure", (name, value)))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node)


@pytest.fixture(scope="session")
def wrangler_app(settings: Settings) -> WranglerApp:
    """The app's wrangler.toml (from --app-dir, UMBRELLA_APP_DIR, or the sandbox)."""
    if settings.app_dir is None:
        pytest.skip(
            "no app checkout: pass --app-dir=DIR (or set UMBRELLA_APP_DIR) so the "
            "suite can read wrangler.toml and the migrations folder"
        )
    try:
        app = WranglerApp.load(settings.app_dir)
        app.env(settings.environment)
    except WranglerError as exc:
        fail(str(exc))
    return app


@pytest.fixture(scope="session")
def d1(pytestconfig: pytest.Config, settings: Settings) -> D1Backend:
    """Read-only D1: --d1-sqlite / D1_SQLITE_PATH, else the Cloudflare D1 API."""
    if settings.d1_sqlite is not None:
        return SqliteBackend(settings.d1_sqlite)
    cloudflare = settings.cloudflare
    if cloudflare is None:
        pytest.skip(
            "no D1 access: pass --d1-sqlite=PATH (or D1_SQLITE_PATH), or set "
            "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID for the D1 API"
        )
    database_id = cloudflare.database_id
    if database_id is None and settings.app_dir is not None:
        try:
            app = WranglerApp.load(settings.app_dir)
            database_id = app.d1(settings.environment, settings.config.database.binding).get(
                "database_id"
            )
        except WranglerError as exc:
            fail(str(exc))
    if not database_id:
        pytest.skip("no D1 database id: set D1_DATABASE_ID, or --app-dir=DIR with wrangler.toml")
    return D1ApiBackend(
        cloudflare.api_base,
        cloudflare.account_id,
        str(database_id),
        cloudflare.api_token,
        settings.config.http,
        pytestconfig.stash[counter_key],
    )


class TargetClock:
    """Time as the target sees it; the sandbox's can be moved instead of slept through."""

    def __init__(self, api: ApiClient, sandbox: bool) -> None:
        self.api = api
        self.sandbox = sandbox
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def pass_minute_boundary(self) -> None:
        """Get past the next minute boundary: move the sandbox's clock, or wait (≤ 61 s)."""
        if self.sandbox:
            self.api.post("/__sandbox/clock", json={"advance": 61}).expect_status(200)
            self.offset += 61
            return
        now = self.now()
        time.sleep(61 - now.second - now.microsecond / 1e6)


@pytest.fixture(scope="session")
def target_clock(api: ApiClient, settings: Settings) -> TargetClock:
    return TargetClock(api, settings.sandbox is not None)


@pytest.fixture(scope="session")
def graphql(pytestconfig: pytest.Config, settings: Settings) -> GraphQL:
    """Cloudflare's GraphQL Analytics API (CLOUDFLARE_API_TOKEN + CLOUDFLARE_ACCOUNT_ID)."""
    cloudflare = settings.cloudflare
    if cloudflare is None:
        missing = [
            v
            for v in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID")
            if not os.environ.get(v, "").strip()
        ]
        pytest.skip(
            f"Cloudflare analytics not configured: set {' and '.join(missing)} "
            "(a token with Account Analytics read)"
        )
    return GraphQL(
        cloudflare.api_base,
        cloudflare.account_id,
        cloudflare.api_token,
        settings.config.http,
        pytestconfig.stash[counter_key],
    )


@pytest.fixture(scope="session")
def worker_script(settings: Settings, request: pytest.FixtureRequest) -> str:
    """The Worker's name: [analytics] script_name, else wrangler.toml's for the environment."""
    if settings.config.analytics.script_name:
        return settings.config.analytics.script_name
    app: WranglerApp = request.getfixturevalue("wrangler_app")
    return app.worker_name(settings.environment)


@pytest.fixture(scope="session")
def sentry_access(settings: Settings) -> SentryAccess:
    if settings.sentry is None:
        missing = [v for v in SENTRY_VARS if not os.environ.get(v, "").strip()]
        pytest.skip(
            f"Sentry not configured: set {', '.join(missing)} (token scope event:read; "
            "SENTRY_BASE_URL for self-hosted)"
        )
    return settings.sentry


class ReportNotes:
    """HTML put beside a check's row in the report (lists, charts)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._extras: list[Any] | None = None
        if request.config.pluginmanager.hasplugin("html"):
            self._extras = request.getfixturevalue("extras")

    def add(self, markup: str) -> None:
        if self._extras is not None:
            import pytest_html  # type: ignore[import-untyped]

            self._extras.append(pytest_html.extras.html(markup))


@pytest.fixture
def report_notes(request: pytest.FixtureRequest) -> ReportNotes:
    return ReportNotes(request)


@pytest.fixture(scope="session")
def history_series(
    pytestconfig: pytest.Config,
    settings: Settings,
) -> dict[str, list[tuple[datetime, float]]]:
    """Figures earlier runs stored for this target (``reports/history.sqlite``)."""
    since = datetime.now(UTC) - timedelta(weeks=settings.config.trends.weeks)
    return history.series(
        reports_dir(pytestconfig) / "history.sqlite", history_key(settings), since
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)
