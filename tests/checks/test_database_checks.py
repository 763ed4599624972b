"""D1 checks: both backends, every fault, every API error, and bad inputs as one line."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO, CheckRun, RunChecks, checks_in
from tests.fakes import FakeD1Api
from umbrella_checks.sandbox import Sandbox

DATABASE = "checks/test_database.py"
ALL = checks_in("test_database.py")


def test_database_checks_pass_on_the_healthy_sandbox(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    run = run_checks(DATABASE)
    assert run.passed_names() == ALL
    # The figures the weekly capacity and trend checks compare.
    report = (suite_dir / "reports" / "custom-latest.html").read_text(encoding="utf-8")
    for figure in ("D1 users count (ms)", "D1 size (bytes)", "users"):
        assert figure in report
    # What each passing check saw, as the reports show it.
    (xml,) = [p.read_text(encoding="utf-8") for p in (suite_dir / "reports").glob("*.xml")]
    assert 'value="migrations applied that the repository lacks = 0, expected none (' in xml
    assert re.search(r'value="latest [\w-]+ run = \w+, started \d{4}-\d\d-\d\d ', xml), xml


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param(
            "pending-migration",
            ["test_no_migration_is_pending"],
            "1 pending: 0004_artist_payouts.sql; run `wrangler d1 migrations apply DB "
            "--env development`",
            id="pending-migration",
        ),
        pytest.param(
            "migration-misnamed",
            ["test_migration_files_are_numbered_in_sequence"],
            "2_violet_usage.sql: not named NNNN_description.sql; 0002: missing",
            id="migration-misnamed",
        ),
        pytest.param(
            "unknown-migration",
            ["test_no_unknown_migration_is_applied"],
            "the repo does not have: 0099_hotfix_from_laptop.sql",
            id="unknown-migration",
        ),
        pytest.param(
            "cron-missed",
            ["test_analytics_cron_ran_on_schedule"],
            "expected a completed analytics_aggregation run since",
            id="cron-missed",
        ),
        pytest.param(
            "cron-failed",
            ["test_analytics_cron_last_run_did_not_fail", "test_analytics_cron_ran_on_schedule"],
            "failed: 'D1_ERROR: no such table: analytics_daily'",
            id="cron-failed",
        ),
        pytest.param(
            "cron-stuck",
            ["test_no_cron_run_is_stuck"],
            "(180 min): it hung or died without logging",
            id="cron-stuck",
        ),
        pytest.param(
            "cron-running-long",
            ["test_no_cron_run_is_stuck"],
            "longer than 1.2 min (3x its longest completed run + 1 min, at most",
            id="running-far-longer-than-the-job-takes",
        ),
        pytest.param(
            "cron-duplicate-row",
            ["test_each_cron_run_logs_one_row"],
            "the job inserts a new row when it ends instead of updating the row it started",
            id="running-row-beside-its-completed-row",
        ),
        pytest.param(
            "database-down",
            ALL,
            "cannot open the database: the file does not exist",
            id="database-down",
        ),
    ],
)
def test_database_checks_catch_their_fault(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks(DATABASE, faults=[fault])
    if fault == "cron-failed" and _within_tonights_grace():
        # Until 00:30 UTC last night's completed run still counts as on schedule: only the
        # failure itself is a finding yet (the nightly tier runs at 00:30, past the grace).
        failing = [name for name in failing if name != "test_analytics_cron_ran_on_schedule"]
    assert run.failed_names() == sorted(failing)
    assert sorted(run.passed_names() + run.failed_names()) == ALL
    assert any(fragment in run.message_of(name) for name in failing)


def _within_tonights_grace() -> bool:
    """Is it before 00:30 UTC (the default grace after the 00:00 cron)?"""
    now = datetime.now(UTC)
    return now - now.replace(hour=0, minute=0, second=0, microsecond=0) < timedelta(minutes=30)


def _verdicts(run: CheckRun) -> dict[str, str]:
    return dict(sorted(run.outcomes.items()))


def _api_env(monkeypatch: pytest.MonkeyPatch, api: FakeD1Api) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", FakeD1Api.TOKEN)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", FakeD1Api.ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", api.base)


@pytest.mark.parametrize(
    "fault",
    [
        "healthy",
        "pending-migration",
        "unknown-migration",
        "cron-missed",
        "cron-failed",
        "cron-stuck",
        "cron-duplicate-row",
    ],
)
def test_both_backends_give_the_same_verdicts(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    sandbox = sandbox_server(*([] if fault == "healthy" else [fault]))
    common = (
        DATABASE,
        "--umbrella-environment=development",
        f"--umbrella-app-dir={sandbox.app_dir}",
    )
    local = run_checks(*common, f"--umbrella-d1-sqlite={sandbox.d1_sqlite}", target=sandbox.url)
    database_id = "00000000-0000-4000-8000-000000000000"  # the sandbox's wrangler.toml
    with FakeD1Api(sandbox.d1_sqlite, database_id).running() as api:
        _api_env(monkeypatch, api)
        remote = run_checks(*common, target=sandbox.url)
    assert _verdicts(remote) == _verdicts(local)
    assert len(remote.outcomes) == len(ALL)
    assert api.statements
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in api.statements)


def test_without_an_app_checkout_the_cron_checks_use_the_default_schedule(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    """No wrangler.toml to read: the migration checks cannot judge, the cron checks judge
    against ``[cron] default_schedule`` (the runbook's 00:00 UTC)."""
    sandbox = sandbox_server("cron-missed")
    run = run_checks(
        DATABASE,
        "--umbrella-environment=development",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        target=sandbox.url,
    )
    assert run.failed_names() == ["test_analytics_cron_ran_on_schedule"]
    assert "[cron] default_schedule (no --umbrella-app-dir)" in run.message_of(
        "test_analytics_cron_ran_on_schedule"
    )
    assert "test_no_migration_is_pending" in run.skipped_names()


def test_the_configured_binding_is_the_one_read(run_checks: RunChecks) -> None:
    """[database] binding names the D1 binding in wrangler.toml whose migrations are judged."""
    config = (REPO / "umbrella.toml").read_text(encoding="utf-8")
    config = config.replace("[database]\n", '[database]\nbinding = "ANALYTICS_DB"\n')
    run = run_checks(DATABASE, "-k", "migration", config=config)
    assert run.failed_names() == [
        "test_migration_files_are_numbered_in_sequence",
        "test_no_migration_is_pending",
        "test_no_unknown_migration_is_applied",
    ]
    message = run.message_of("test_no_migration_is_pending")
    assert "ANALYTICS_DB" in message
    assert len(message.strip().splitlines()) == 1  # one line naming it, not a traceback


def test_no_migrations_table_means_every_migration_is_pending(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    """wrangler creates d1_migrations on the first apply: without it nothing was applied."""
    sandbox = sandbox_server()
    with sqlite3.connect(sandbox.d1_sqlite) as db:
        db.execute("DROP TABLE d1_migrations")
    run = run_checks(
        DATABASE,
        "-k",
        "pending",
        "--umbrella-environment=development",
        f"--umbrella-app-dir={sandbox.app_dir}",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        target=sandbox.url,
    )
    assert run.failed_names() == ["test_no_migration_is_pending"]
    assert "3 pending: 0001_" in run.message_of("test_no_migration_is_pending")


@pytest.mark.parametrize(
    ("duration_ms", "verdict"),
    [
        pytest.param(250.0, "failed", id="slow-query-fails"),
        pytest.param(100.0, "failed", id="at-the-100ms-target-fails"),
        pytest.param(99.9, "passed", id="under-the-target-passes"),
    ],
)
def test_d1_latency_is_judged_on_what_d1_reports(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    duration_ms: float,
    verdict: str,
) -> None:
    sandbox = sandbox_server()
    database_id = "00000000-0000-4000-8000-000000000000"  # the sandbox's wrangler.toml
    with FakeD1Api(sandbox.d1_sqlite, database_id).running() as api:
        api.duration_ms = duration_ms
        _api_env(monkeypatch, api)
        run = run_checks(
            DATABASE,
            "--umbrella-environment=development",
            f"--umbrella-app-dir={sandbox.app_dir}",
            "-k",
            "reachable",
            target=sandbox.url,
        )
    assert run.outcomes == {"test_database_is_reachable": verdict}
    if verdict == "failed":
        assert "expected the users count within 100 ms, got " in run.message_of(
            "test_database_is_reachable"
        )


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        pytest.param(
            "bad-token",
            "refused the token in CLOUDFLARE_API_TOKEN (HTTP 401)",
            id="bad-token",
        ),
        pytest.param("unknown-database", "unknown D1 database", id="unknown-database"),
        pytest.param(
            "no-duration",
            "could not check: the D1 API answer has no meta.duration (got None)",
            id="missing-duration-is-not-0-ms",
        ),
        pytest.param("rate-limited", "rate limiting (HTTP 429, Retry-After: 30 s)", id="429"),
        pytest.param("server-error", "the Cloudflare D1 API failed (HTTP 502)", id="5xx"),
        pytest.param("malformed", "without JSON", id="malformed-json"),
        pytest.param("hang", "no answer within 1 s", id="timeout"),
    ],
)
def test_d1_api_errors_are_one_clear_failure(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
    mode: str,
    fragment: str,
) -> None:
    sandbox = sandbox_server()
    with FakeD1Api(sandbox.d1_sqlite, "db-1").running() as api:
        api.mode = mode
        _api_env(monkeypatch, api)
        monkeypatch.setenv("D1_DATABASE_ID", "db-1")
        run = run_checks(
            "checks/test_database.py::test_database_is_reachable",
            "--umbrella-environment=development",
            target=sandbox.url,
            config='[http]\nread_timeout = "1s"\n',
        )
    message = run.message_of("test_database_is_reachable")
    assert run.failed_names() == ["test_database_is_reachable"]
    assert fragment in message
    assert FakeD1Api.TOKEN not in message
    assert "\n" not in message.strip()


def test_sql_errors_name_the_cause(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server()
    with FakeD1Api(sandbox.d1_sqlite, "db-1").running() as api:
        _api_env(monkeypatch, api)
        monkeypatch.setenv("D1_DATABASE_ID", "db-1")
        run = run_checks(
            DATABASE,
            "--umbrella-environment=development",
            target=sandbox.url,
            config='[database]\nusers_table = "no_users_here"\n',
        )
    assert "D1 rejected the query (HTTP 400, code 7500: no such table: no_users_here" in (
        run.message_of("test_database_is_reachable")
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(
            None, "nope.sqlite: cannot open the database: the file does not exist", id="missing"
        ),
        pytest.param(b"this is not a database" * 100, "file is not a database", id="unreadable"),
    ],
)
def test_a_bad_sqlite_file_is_one_line(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    tmp_path: Path,
    content: bytes | None,
    fragment: str,
) -> None:
    sandbox = sandbox_server()
    database = tmp_path / "nope.sqlite"
    if content is not None:
        database.write_bytes(content)
    run = run_checks(
        DATABASE,
        "--umbrella-environment=development",
        f"--umbrella-app-dir={sandbox.app_dir}",
        f"--umbrella-d1-sqlite={database}",
        target=sandbox.url,
    )
    message = run.message_of("test_database_is_reachable")
    assert fragment in message
    assert "Traceback" not in message


def test_wrangler_toml_without_the_environment_is_one_line(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = sandbox_server(environment="staging")
    app = tmp_path / "app"
    shutil.copytree(sandbox.app_dir, app)
    toml = (app / "wrangler.toml").read_text()
    (app / "wrangler.toml").write_text(toml.split("[env.staging]")[0])
    run = run_checks(
        DATABASE,
        "--umbrella-environment=staging",
        f"--umbrella-app-dir={app}",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        target=sandbox.url,
    )
    message = run.message_of("test_no_migration_is_pending")
    assert "has no [env.staging] (environments: production)" in message


def test_an_empty_migrations_folder_is_one_line(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = sandbox_server()
    empty = tmp_path / "migrations"
    empty.mkdir()
    run = run_checks(
        DATABASE,
        "--umbrella-environment=development",
        f"--umbrella-app-dir={sandbox.app_dir}",
        f"--umbrella-migrations-dir={empty}",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        target=sandbox.url,
    )
    assert f"migrations folder {empty} has no *.sql files" in run.message_of(
        "test_no_migration_is_pending"
    )


def test_the_suite_never_writes_to_d1(sandbox_server: Callable[..., Sandbox]) -> None:
    from umbrella_checks.services.d1 import D1Error, SqliteBackend

    backend = SqliteBackend(sandbox_server().d1_sqlite)
    for sql in (
        "DELETE FROM users",
        "SELECT 1; DROP TABLE users",
        "PRAGMA journal_mode=wal",
        "WITH x AS (SELECT 1) INSERT INTO users SELECT * FROM x",
    ):
        with pytest.raises(D1Error, match="not a single SELECT"):
            backend.query(sql)


def _add_runs(path: Path, job: str, status: str, starts: list[datetime]) -> None:
    """Rows as the cron handler writes them, for ``job``."""
    with sqlite3.connect(path) as db:
        for start in starts:
            error = "boom" if status == "failed" else None
            db.execute(
                "INSERT INTO cron_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"{job}_{start:%Y%m%d%H%M%S}_{status}",
                    job,
                    start.isoformat().replace("+00:00", "Z"),
                    (start + timedelta(seconds=4)).isoformat().replace("+00:00", "Z"),
                    4000,
                    1,
                    int(status == "failed"),
                    status,
                    error,
                    "{}",
                    start.isoformat().replace("+00:00", "Z"),
                ),
            )


@pytest.mark.parametrize(
    ("rows", "failed"),
    [
        pytest.param("another-job-fails-newer", [], id="only-the-analytics-job-is-read"),
        pytest.param(
            "latest-of-many-failed",
            ["test_analytics_cron_last_run_did_not_fail"],
            id="the-newest-rows-are-read-not-the-oldest",
        ),
    ],
)
def test_the_cron_checks_read_the_jobs_newest_rows(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], rows: str, failed: list[str]
) -> None:
    """The cron query's window: the configured job's rows only (another job's failures are not
    the analytics cron's), newest first (a failure yesterday, after 60 good nights, is news; the
    oldest rows are not)."""
    sandbox = sandbox_server()
    now = datetime.now(UTC).replace(microsecond=0)
    if rows == "another-job-fails-newer":
        _add_runs(
            sandbox.d1_sqlite,
            "cleanup",
            "failed",
            [now - timedelta(minutes=m) for m in range(1, 70)],
        )
    else:
        old = [now - timedelta(days=d + 2) for d in range(60)]
        _add_runs(sandbox.d1_sqlite, "analytics_aggregation", "completed", old)
        # The newest row of all: the sandbox seeds tonight's good run at 00:00:02 UTC, so "five
        # minutes ago" would be older than it in the first minutes after midnight.
        with sqlite3.connect(sandbox.d1_sqlite) as db:
            (seeded,) = db.execute("SELECT MAX(start_time) FROM cron_logs").fetchone()
        newest = datetime.fromisoformat(seeded.replace("Z", "+00:00")) + timedelta(seconds=1)
        failed_at = max(now - timedelta(minutes=5), newest)
        _add_runs(sandbox.d1_sqlite, "analytics_aggregation", "failed", [failed_at])
    run = run_checks(
        DATABASE,
        "-k",
        "cron",
        "--umbrella-environment=development",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        f"--umbrella-app-dir={sandbox.app_dir}",
        target=sandbox.url,
    )
    assert run.failed_names() == failed
    assert run.passed_names()
