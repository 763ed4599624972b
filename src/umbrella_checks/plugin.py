"""The ``pytest11`` entry point: options for ``--help``, and the gate that decides whether this
pytest run is an umbrella-checks run at all.

Installed, the package is loaded by every pytest run in the environment. It stays quiet unless
the suite is meant to run here: the root folder holds ``umbrella.toml``, the ini file says
``umbrella_checks = true``, or the command line names the suite (``-p umbrella_checks``,
``--umbrella-config``, ``--sandbox``). Only then are its hooks and fixtures registered
(``hooks.py``, ``fixtures.py``). The target URL is pytest-base-url's ``--base-url`` (and its
``base_url`` fixture), so the suite sits beside pytest-selenium or pytest-playwright.
"""

from __future__ import annotations

import itertools
import os

import pytest

from umbrella_checks.config import ENVIRONMENTS

ENTRY_POINT = "umbrella_checks"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "umbrella_checks",
        type="bool",
        default=False,
        help="run the umbrella-checks plugin here even without umbrella.toml in the root folder",
    )
    group = parser.getgroup("umbrella-checks", "Umbrella runbook checks (target: --base-url)")
    add = group.addoption
    add(
        "--sandbox",
        action="store_true",
        default=False,
        help="start the bundled sandbox for this run and check it",
    )
    add(
        "--sandbox-fault",
        dest="sandbox_faults",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="inject a sandbox fault (repeatable; env UMBRELLA_SANDBOX_FAULTS)",
    )
    add(
        "--sandbox-environment",
        dest="sandbox_environment",
        choices=ENVIRONMENTS,
        help="environment the sandbox reports (default: the expected one)",
    )
    add(
        "--environment",
        dest="environment",
        metavar="NAME",
        help=f"expected environment: {', '.join(ENVIRONMENTS)} (env ENVIRONMENT; "
        "default production, development with --sandbox)",
    )
    add(
        "--umbrella-config",
        dest="umbrella_config",
        metavar="PATH",
        help="thresholds file (env UMBRELLA_CONFIG; default <rootdir>/umbrella.toml)",
    )
    add(
        "--app-dir",
        dest="app_dir",
        metavar="DIR",
        help="the Umbrella app checkout with wrangler.toml (env UMBRELLA_APP_DIR)",
    )
    add(
        "--d1-sqlite",
        dest="d1_sqlite",
        metavar="PATH",
        help="read D1 from this local SQLite file (env D1_SQLITE_PATH)",
    )
    add(
        "--migrations-dir",
        dest="migrations_dir",
        metavar="DIR",
        help="migrations folder (default: migrations_dir from wrangler.toml)",
    )
    add(
        "--expected-version",
        dest="expected_version",
        metavar="VERSION",
        help="version the deploy should report (env EXPECTED_VERSION)",
    )
    add(
        "--allow-destructive",
        action="store_true",
        default=False,
        help="allow checks that change state or use quota (never production)",
    )
    add(
        "--strict-skips",
        action="store_true",
        default=False,
        help="fail every check skipped for a missing input (the safety guard's refusals "
        "stay skips)",
    )
    add(
        "--reports-dir",
        dest="reports_dir",
        metavar="DIR",
        help="where tier reports go (default: <rootdir>/reports)",
    )


def is_wanted(config: pytest.Config) -> bool:
    """Is this pytest run meant to run the suite?"""
    if (config.rootpath / "umbrella.toml").is_file() or config.getini("umbrella_checks"):
        return True
    if config.getoption("sandbox") or config.getoption("umbrella_config"):
        return True
    if os.environ.get("UMBRELLA_CONFIG", "").strip():
        return True
    args = list(config.invocation_params.args)
    named = {f"-p{ENTRY_POINT}", f"-p={ENTRY_POINT}"}
    return any(a in named for a in args) or any(
        flag == "-p" and value == ENTRY_POINT for flag, value in itertools.pairwise(args)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest-base-url's own configure then sees the target this run resolved.
    if is_wanted(config):
        config.pluginmanager.import_plugin("umbrella_checks.hooks")
