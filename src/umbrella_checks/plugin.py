"""The ``pytest11`` entry point: options for ``--help``, and the gate that decides whether this
pytest run is an umbrella-checks run at all.

Installed, the package is loaded by every pytest run in the environment. It stays quiet unless
the suite is meant to run here: the root folder holds ``umbrella.toml``, the ini file says
``umbrella_checks = true``, or the command line names the suite (``-p umbrella_checks``,
``--umbrella-config``, ``--umbrella-sandbox``). Only then are its hooks and fixtures registered
(``wiring/hooks.py``, ``wiring/fixtures/``). The target URL is pytest-base-url's
``--base-url`` (and its ``base_url`` fixture), so the suite sits beside pytest-selenium or
pytest-playwright.
"""

from __future__ import annotations

import difflib
import importlib
import itertools
import os
from pathlib import Path
from typing import Literal

import pytest

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.wiring.keys import launched_sandbox, verdict_written

ENTRY_POINT = "umbrella_checks"


# (flag, dest, metavar or action, help). Path options are written with "="
# (see _path_options_with_equals).
# Every flag and dest carries the umbrella prefix: the entry point registers them in every
# pytest run of the environment, beside other plugins' and conftests' own --environment or
# --alert (pytest-django's --ds, pytest-base-url's --base-url do the same).
OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("--umbrella-sandbox", "umbrella_sandbox", "store_true",
     "start the bundled sandbox for this run and check it"),
    ("--umbrella-sandbox-fault", "umbrella_sandbox_faults", "NAME[=VALUE]",
     "inject a sandbox fault (repeatable; env UMBRELLA_SANDBOX_FAULTS)"),
    ("--umbrella-environment", "umbrella_environment", "NAME",
     f"expected environment: {', '.join(ENVIRONMENTS)} (env ENVIRONMENT; default production, "
     "development with --umbrella-sandbox)"),
    ("--umbrella-config", "umbrella_config", "PATH",
     "thresholds file (env UMBRELLA_CONFIG; default <rootdir>/umbrella.toml)"),
    ("--umbrella-app-dir", "umbrella_app_dir", "DIR",
     "the Umbrella app checkout with wrangler.toml (env UMBRELLA_APP_DIR)"),
    ("--umbrella-d1-sqlite", "umbrella_d1_sqlite", "PATH",
     "read D1 from this local SQLite file (env D1_SQLITE_PATH)"),
    ("--umbrella-migrations-dir", "umbrella_migrations_dir", "DIR",
     "migrations folder (default: migrations_dir from wrangler.toml)"),
    ("--umbrella-expected-version", "umbrella_expected_version", "VERSION",
     "version the deploy should report (env EXPECTED_VERSION)"),
    ("--umbrella-allow-destructive", "umbrella_allow_destructive", "store_true",
     "allow checks that change state or use quota (never production)"),
    ("--umbrella-strict-skips", "umbrella_strict_skips", "store_true",
     "fail every check skipped for a missing input (the safety guard's refusals stay skips)"),
    ("--umbrella-reports-dir", "umbrella_reports_dir", "DIR",
     "where tier reports go (default: <rootdir>/reports)"),
    ("--umbrella-verdict-file", "umbrella_verdict_file", "PATH",
     "write the verdict on the service (healthy, broken, could-not-run) to PATH at the end: "
     "CI rolls back on broken only"),
    ("--umbrella-baseline-out", "umbrella_baseline_out", "PATH",
     "before a deploy: write what this read-only post-deploy run saw (identity, outcomes, "
     "latency samples) to PATH, for --umbrella-baseline"),
    ("--umbrella-baseline", "umbrella_baseline", "PATH",
     "after a deploy: compare with the baseline at PATH (env UMBRELLA_BASELINE): lost identity "
     "is broken, failures already there are pre-existing, slower routes are named"),
    ("--umbrella-summary", "umbrella_summary", "PATH",
     "append the verdict and failures as Markdown to PATH (CI: \"$GITHUB_STEP_SUMMARY\")"),
    ("--umbrella-alert", "umbrella_alert", "store_true",
     "on failure, write an incident draft and post to SLACK_WEBHOOK_URL (never for "
     "--umbrella-sandbox)"),
)  # fmt: skip


# pytest-html's ini names the suite's own ini file sets (pyproject.toml): registered here, unused,
# when pytest-html is disabled (-p no:html), so a strict run does not reject the file.
HTML_INI: tuple[tuple[str, Literal["linelist", "string"]], ...] = (
    ("environment_table_redact_list", "linelist"),
    ("render_collapsed", "string"),
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    parser.addini(
        "umbrella_checks",
        type="bool",
        default=False,
        help="run the umbrella-checks plugin here even without umbrella.toml in the root folder",
    )
    if pluginmanager.is_blocked("html"):
        for name, ini_type in HTML_INI:
            parser.addini(name, type=ini_type, help="pytest-html's (disabled here: -p no:html)")
    group = parser.getgroup("umbrella-checks", "Umbrella runbook checks (target: --base-url)")
    for flag, dest, kind, text in OPTIONS:
        if kind == "store_true":
            group.addoption(flag, dest=dest, action="store_true", default=False, help=text)
        elif dest == "umbrella_sandbox_faults":
            group.addoption(flag, dest=dest, action="append", default=[], metavar=kind, help=text)
        else:
            group.addoption(flag, dest=dest, metavar=kind, help=text)
    group.addoption(
        "--umbrella-sandbox-environment",
        dest="umbrella_sandbox_environment",
        choices=ENVIRONMENTS,
        help="environment the sandbox reports (default: the expected one)",
    )


PATH_OPTIONS = (
    "--umbrella-config",
    "--umbrella-verdict-file",
    "--umbrella-baseline",
    "--umbrella-baseline-out",
    "--umbrella-summary",
    "--umbrella-app-dir",
    "--umbrella-d1-sqlite",
    "--umbrella-migrations-dir",
    "--umbrella-reports-dir",
)


def _path_options_with_equals(args: list[str]) -> None:
    # pytest picks its rootdir before plugins add their options, so in `--umbrella-app-dir DIR`
    # it takes DIR for a test path: the run then starts from the wrong folder;
    # `--umbrella-app-dir=DIR` is safe.
    for flag, value in itertools.pairwise(args):
        if flag in PATH_OPTIONS:
            raise pytest.UsageError(
                f"write {flag}={value} (with '='): in '{flag} {value}' pytest takes {value} "
                "for a test path and picks the wrong root folder"
            )


def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Before pytest acts on the command line: a path option without "=", and a misspelled
    ``--umbrella-…`` option, named with the one it resembles — one line each, in any pytest run
    (the path option's mistake moves the root folder, so the run may not know it is ours)."""
    _path_options_with_equals(args)
    known = [flag for flag, *_ in OPTIONS] + ["--umbrella-sandbox-environment"]
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--umbrella-") and flag not in known:
            close = difflib.get_close_matches(flag, known, n=1)
            if close:
                raise pytest.UsageError(f"unknown option {flag}; did you mean {close[0]}?")


def is_wanted(config: pytest.Config) -> bool:
    """Is this pytest run meant to run the suite?"""
    if (config.rootpath / "umbrella.toml").is_file() or config.getini("umbrella_checks"):
        return True
    if config.getoption("umbrella_sandbox") or config.getoption("umbrella_config"):
        return True
    if os.environ.get("UMBRELLA_CONFIG", "").strip():
        return True
    args = list(config.invocation_params.args)
    # pytest takes "-p NAME" and "-pNAME" ("-p=NAME" would name a plugin "=NAME").
    return f"-p{ENTRY_POINT}" in args or any(
        flag == "-p" and value == ENTRY_POINT for flag, value in itertools.pairwise(args)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest-base-url's own configure then sees the target this run resolved.
    if is_wanted(config):
        _verdict_first_and_always(config)
        if config.getoption("umbrella_sandbox") and not _nothing_runs(config):
            _launch_sandbox(config)
        _register_hooks(config.pluginmanager)


def _register_hooks(manager: pytest.PytestPluginManager) -> None:
    """The hooks, then the fixtures and outcome mapping they come with, registered by name
    (what ``import_plugin`` would do, without its scan of the installed entry points per name).
    """
    from umbrella_checks.wiring import hooks

    for name in ("umbrella_checks.wiring.hooks", *hooks.COMPANIONS):
        if manager.get_plugin(name) is None and not manager.is_blocked(name):
            manager.register(importlib.import_module(name), name)


def _verdict_first_and_always(config: pytest.Config) -> None:
    """A verdict left by an earlier run is removed before anything else happens; a run that
    ends before writing its own (a usage error, a crash while setting up) writes
    ``could-not-run``: CI never reads another run's word, nor none."""
    given = config.getoption("umbrella_verdict_file")
    if not given or _nothing_runs(config):
        return
    path = Path(given)
    if path.is_dir():
        raise pytest.UsageError(
            f"--umbrella-verdict-file={given} is a folder; give the path of a file to write"
        )
    path.unlink(missing_ok=True)

    def could_not_run() -> None:
        if not config.stash.get(verdict_written, False):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("could-not-run\n", encoding="utf-8")

    config.add_cleanup(could_not_run)


def _nothing_runs(config: pytest.Config) -> bool:
    # --help and --markers resolve no settings; a worker uses its controller's sandbox.
    option = config.option
    return bool(getattr(option, "help", False) or getattr(option, "markers", False)) or hasattr(
        config, "workerinput"
    )


def _launch_sandbox(config: pytest.Config) -> None:
    """Start the sandbox's process now: it sets itself up while this one loads the suite, and
    learns the environment to report once settings are resolved (``startup.sandbox_starter``).
    However the run ends, it is stopped."""
    # Imported here: every pytest run in the environment loads this module, few start a sandbox.
    from umbrella_checks.sandbox.faults import parse_faults
    from umbrella_checks.sandbox.process import SandboxProcess
    from umbrella_checks.sandbox.switches import FaultError

    try:
        faults = parse_faults(config.getoption("umbrella_sandbox_faults"), os.environ)
    except FaultError as exc:
        raise pytest.UsageError(str(exc)) from None
    sandbox = SandboxProcess.launch(faults.raw)
    config.add_cleanup(sandbox.stop)
    config.stash[launched_sandbox] = sandbox
