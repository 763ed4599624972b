"""The pytest plugin: options, the run's target, tiers, reports and the checks' fixtures.

Registered through the ``pytest11`` entry point, so ``pytest -m postdeploy`` in this repo (or
anywhere the package is installed) gets it without a conftest.
"""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Callable, Generator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]

from umbrella_checks import __version__, history, incident, slack
from umbrella_checks.clerk import Clerk, ClerkError, TokenStore
from umbrella_checks.client import ApiClient, RequestCounter
from umbrella_checks.config import ENVIRONMENTS, ConfigError
from umbrella_checks.incident import Failure
from umbrella_checks.matrix import load_rows
from umbrella_checks.reporting import ReportPaths, tier_of
from umbrella_checks.runstate import (
    Probe,
    counter_key,
    failures_key,
    figures_key,
    history_key,
    is_worker,
    matrix_key,
    notes_key,
    probe_key,
    reports_dir,
    reports_key,
    sandbox_key,
    settings_key,
    started_key,
    store_key,
    tally_key,
)
from umbrella_checks.safety import GUARD_PREFIX
from umbrella_checks.secrets import from_env
from umbrella_checks.settings import (
    TOKEN_VARS,
    SandboxInfo,
    Settings,
    SettingsError,
    resolve,
)

MARKERS = {
    "postdeploy": "runs right after a deploy; CI decides on rollback from it (fast, read-only)",
    "daily": "the runbook's morning health check, run nightly by the scheduler",
    "weekly": "the runbook's weekly review, run on Sundays",
    "destructive": "changes state or uses quota; needs --allow-destructive, never production",
}

# The checks' fixtures live in their own module; registering this plugin loads them too.
pytest_plugins = ["umbrella_checks.fixtures"]


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
    if is_worker(config):
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
    elif config.getoption("sandbox") and not is_worker(config):
        start = _start_sandbox(config)
    try:
        settings = resolve(config.getoption, os.environ, config.rootpath, start)
    except (SettingsError, ConfigError) as exc:
        _stop_sandbox(config)
        raise pytest.UsageError(str(exc)) from None
    config.stash[settings_key] = settings
    _load_matrix(config, settings)
    if is_worker(config):
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
    if store is None or is_worker(config):
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Controller only: history, the incident draft and the Slack alert."""
    config = session.config
    if is_worker(config) or settings_key not in config.stash:
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
    if settings_key in config.stash and not is_worker(config):
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
