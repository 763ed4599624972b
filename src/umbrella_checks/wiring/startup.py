"""Setting a run up from the command line: settings resolved (and the sandbox started), the
matrix loaded, tokens minted, report paths planned, the baseline read, and what xdist workers
are handed — so that the hooks in ``hooks.py`` stay short and read as "what happens when".
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from umbrella_checks.access import SettingsError, clerk_client
from umbrella_checks.config.matrix import Row, load_rows
from umbrella_checks.config.suite import ConfigError
from umbrella_checks.operations.baseline import Baseline, BaselineError
from umbrella_checks.sandbox.info import SandboxInfo
from umbrella_checks.sandbox.process import SandboxNotStarted
from umbrella_checks.services.clerk import ClerkError, TokenStore
from umbrella_checks.settings import Settings, resolve
from umbrella_checks.wiring.keys import launched_sandbox
from umbrella_checks.wiring.reporting import ReportPaths, tier_of

if TYPE_CHECKING:
    from umbrella_checks.sandbox.process import SandboxProcess


from umbrella_checks.wiring.probe import Probe, probe_and_prefetch
from umbrella_checks.wiring.runstate import Run, informational, reports_dir, uses_xdist


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
