"""The fixtures that reach the app's checkout and Cloudflare: which D1 database and Worker they
name, and how a broken wrangler.toml reads (one line, not a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from tests.fakes import FakeD1Api, FakeGraphQL
from umbrella_checks.sandbox import Sandbox

REACHABLE = "checks/test_database.py::test_database_is_reachable"
MIGRATIONS = "checks/test_database.py::test_no_migration_is_pending"


def _d1_api(monkeypatch: pytest.MonkeyPatch, api: FakeD1Api) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", FakeD1Api.TOKEN)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", FakeD1Api.ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", api.base)


@pytest.fixture
def broken_app(tmp_path: Path) -> Path:
    (tmp_path / "wrangler.toml").write_text('name = "umbrella-api"\n[[d1_databases]\n')
    return tmp_path


def test_d1_database_id_wins_over_wrangler_toml(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server()
    with FakeD1Api(sandbox.d1_sqlite, "db-from-the-environment").running() as api:
        _d1_api(monkeypatch, api)
        monkeypatch.setenv("D1_DATABASE_ID", "db-from-the-environment")
        run = run_checks(
            REACHABLE,
            "--umbrella-environment=development",
            f"--umbrella-app-dir={sandbox.app_dir}",  # its wrangler.toml names another id
            target=sandbox.url,
        )
    assert run.passed_names() == ["test_database_is_reachable"]


def _assert_one_line(message: str, app: Path) -> None:
    assert message.startswith(f"{app / 'wrangler.toml'}"), message
    assert "WranglerError" not in message
    assert "Traceback" not in message


def test_a_broken_wrangler_toml_is_one_line_for_the_d1_api(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    broken_app: Path,
) -> None:
    sandbox = sandbox_server()
    with FakeD1Api(sandbox.d1_sqlite, "db-1").running() as api:
        _d1_api(monkeypatch, api)
        run = run_checks(
            REACHABLE,
            "--umbrella-environment=development",
            f"--umbrella-app-dir={broken_app}",
            target=sandbox.url,
        )
    assert run.failed_names() == ["test_database_is_reachable"]
    _assert_one_line(run.message_of("test_database_is_reachable"), broken_app)


def test_a_broken_wrangler_toml_is_one_line_for_the_app_checks(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], broken_app: Path
) -> None:
    sandbox = sandbox_server()
    run = run_checks(
        MIGRATIONS,
        "--umbrella-environment=development",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        f"--umbrella-app-dir={broken_app}",
        target=sandbox.url,
    )
    assert run.failed_names() == ["test_no_migration_is_pending"]
    _assert_one_line(run.message_of("test_no_migration_is_pending"), broken_app)


def test_a_configured_script_name_is_the_worker_asked_about(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    run_checks(
        "checks/test_traffic.py",
        "-m",
        "daily",
        "-k",
        "error_rate",
        config='[analytics]\nscript_name = "umbrella-api-canary"\n',
    )
    scripts = {v["script"] for v in cloudflare.variables if "script" in v}
    assert scripts == {"umbrella-api-canary"}
