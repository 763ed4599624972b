"""Runbook › Morning Health Check, step 5 (Check Database Status), Common Issues › Issue 3
(Database Errors: are migrations up to date?) and step 4 / Issue 5 (Verify Cron Job Execution).

Read straight from D1 — a local SQLite file or the Cloudflare D1 API — with SELECTs only.
"""

from datetime import datetime, timedelta

import pytest

from umbrella_checks.api import (
    D1Backend,
    D1Error,
    Figures,
    Settings,
    WranglerApp,
    WranglerError,
    cron,
    fail,
    is_missing_table,
    judged,
    migrations,
    read,
    saw,
    utc_text,
)

APPLY_HINT = "run `wrangler d1 migrations apply {binding} --env {env}` (runbook › Issue 3)"

# SEV-2 unless a check declares its own (runbook › Incident Response).
pytestmark = [pytest.mark.severity("SEV-2")]


@pytest.mark.postdeploy
@pytest.mark.daily
@pytest.mark.severity("SEV-1")
def test_database_is_reachable(d1: D1Backend, settings: Settings, figures: Figures) -> None:
    """A D1 the Worker cannot reach turns every data route into a 500 (SEV-1); a slow one
    slows every route. Timed on a real query over the users table, not ``SELECT 1``, which
    no missing index or grown table can slow down."""
    target = settings.config.database.query_target
    users = read(d1, f"SELECT COUNT(*) AS n FROM {settings.config.database.users_table}")
    figures.record("D1 users count (ms)", round(users.duration_ms, 2))
    figures.record("users", users.rows[0]["n"])
    if users.size_bytes is not None:
        figures.record("D1 size (bytes)", users.size_bytes)
    if users.duration_ms >= target * 1000:
        fail(
            f"{d1.description}: expected the users count within {target * 1000:.0f} ms, got "
            f"{users.duration_ms:.0f} ms (runbook: D1 query time < 100 ms; check D1 metrics "
            "and the query's indexes)"
        )
    saw(
        f"{d1.description}: users count",
        f"{users.rows[0]['n']} in {users.duration_ms:.1f} ms",
        f"expected within {target * 1000:.0f} ms",
    )


@pytest.fixture(scope="module")
def migration_state(
    d1: D1Backend, settings: Settings, wrangler_app: WranglerApp
) -> migrations.Comparison:
    binding = settings.config.database.binding
    try:
        folder = settings.migrations_dir or wrangler_app.migrations_dir(
            settings.environment, binding
        )
        table = settings.config.database.migrations_table or wrangler_app.migrations_table(
            settings.environment, binding
        )
    except WranglerError as exc:
        fail(str(exc))
    if not folder.is_dir():
        fail(f"migrations folder {folder} does not exist; check migrations_dir in wrangler.toml")
    files = migrations.migration_files(folder)
    if not files:
        fail(
            f"migrations folder {folder} has no *.sql files; check migrations_dir in "
            "wrangler.toml or --umbrella-migrations-dir"
        )
    try:
        rows = d1.query(f"SELECT name FROM {table} ORDER BY id")
        applied = [str(row["name"]) for row in rows.rows]
    except D1Error as exc:
        # wrangler creates its table on first apply; no table means nothing applied yet.
        if not is_missing_table(exc):
            fail(f"{d1.description}: {exc}")
        applied = []
    return migrations.Comparison(files, applied)


@pytest.mark.postdeploy
@pytest.mark.daily
@pytest.mark.severity("SEV-1")
def test_no_migration_is_pending(
    migration_state: migrations.Comparison, d1: D1Backend, settings: Settings
) -> None:
    """Code deployed ahead of its schema fails on the first query that needs the new column."""
    pending = migration_state.pending
    if pending:
        hint = APPLY_HINT.format(binding=settings.config.database.binding, env=settings.environment)
        fail(
            f"{d1.description}: expected every migration in the repo applied, got "
            f"{len(pending)} pending: {', '.join(pending)}; {hint}"
        )
    saw(
        "migrations applied",
        len(migration_state.applied),
        f"expected the {len(migration_state.files)} in the repository, none pending",
    )


@pytest.mark.postdeploy
@pytest.mark.daily
def test_no_unknown_migration_is_applied(
    migration_state: migrations.Comparison, d1: D1Backend
) -> None:
    """A migration applied from a branch or a laptop is schema nobody can rebuild."""
    unknown = migration_state.unknown
    if unknown:
        fail(
            f"{d1.description}: expected only the repo's migrations applied, got "
            f"{len(unknown)} the repo does not have: {', '.join(unknown)}; restore the file(s) "
            "or add a forward-fixing migration (runbook › Database Rollback)"
        )
    saw(
        "migrations applied that the repository lacks",
        0,
        f"expected none ({len(migration_state.applied)} applied, all in the repository)",
    )


@pytest.mark.postdeploy
@pytest.mark.daily
@pytest.mark.severity("SEV-3")
def test_migration_files_are_numbered_in_sequence(
    migration_state: migrations.Comparison,
) -> None:
    """wrangler orders by the number: a gap or duplicate applies migrations out of order."""
    problems = migrations.naming_problems(migration_state.files)
    if problems:
        fail(
            f"migration files: expected NNNN_description.sql from 0001 without gaps, got: "
            f"{'; '.join(problems)}"
        )
    files = migration_state.files
    saw(
        "migration files",
        f"{len(files)}, {files[0] if files else 'none'} … {files[-1] if files else 'none'}",
        "expected NNNN_description.sql from 0001 without gaps",
    )


@pytest.fixture(scope="module")
def cron_runs(d1: D1Backend, settings: Settings) -> list[cron.CronRun]:
    config = settings.config.cron
    result = read(
        d1,
        "SELECT id, status, start_time, end_time, duration_ms, error_message "
        f"FROM {config.table} "
        "WHERE job_name = ? ORDER BY start_time DESC LIMIT 50",
        [config.job_name],
    )
    return [cron.CronRun.from_row(row) for row in result.rows]


@pytest.fixture(scope="module")
def cron_schedule(settings: Settings, request: pytest.FixtureRequest) -> tuple[list[str], str]:
    if settings.app_dir is None:
        crons = settings.config.cron.default_schedule
        bad = cron.invalid_crons(crons)
        if bad or not crons:
            fail(f"[cron] default_schedule: expected cron expressions, got {crons!r}")
        return crons, "[cron] default_schedule (no --umbrella-app-dir)"
    app: WranglerApp = request.getfixturevalue("wrangler_app")  # checked the environment
    crons, where = app.where_crons(settings.environment)
    if not crons:
        fail(
            f"{app.path} {where}: no cron expressions; the daily analytics cron is not scheduled "
            '(runbook › Issue 5: crons = ["0 0 * * *"])'
        )
    bad = cron.invalid_crons(crons)
    if bad:
        fail(f"{app.path} {where}: invalid cron expression {bad[0]!r}")
    return crons, f"{app.path.name} {where}"


@pytest.mark.daily
def test_analytics_cron_ran_on_schedule(
    cron_runs: list[cron.CronRun],
    cron_schedule: tuple[list[str], str],
    settings: Settings,
    now: datetime,
) -> None:
    """Runbook › Issue 5: a cron that silently stops leaves analytics frozen for days."""
    config = settings.config.cron
    crons, where = cron_schedule
    due = cron.due_since(crons, now, timedelta(seconds=config.grace))
    problem = cron.missing_run(cron_runs, due)
    if problem:
        fail(
            f"{config.table}: expected a completed {config.job_name} run since {utc_text(due)} "
            f"(schedule {', '.join(crons)} from {where}, {config.grace / 60:g} min grace), got "
            f"{problem}; check Cron Triggers in the dashboard and trigger it manually "
            "(runbook › Issue 5)"
        )
    latest = cron_runs[0] if cron_runs else None
    saw(
        f"latest {config.job_name} run",
        f"{latest.status}, started {utc_text(latest.start)}" if latest else "none",
        f"expected a completed run since {utc_text(due)} (schedule {', '.join(crons)})",
    )


@pytest.mark.daily
def test_analytics_cron_last_run_did_not_fail(
    cron_runs: list[cron.CronRun], settings: Settings
) -> None:
    """A failed aggregation leaves a hole in the analytics the business reads."""
    judged(len(cron_runs), f"{settings.config.cron.job_name} runs in {settings.config.cron.table}")
    failed = cron.failed_run(cron_runs)
    if failed:
        fail(
            f"{settings.config.cron.table}: expected the latest {settings.config.cron.job_name} "
            f"run to complete, got run {failed.id} (started {utc_text(failed.start)}) failed: "
            f"{failed.error_message!r}; fix the handler and re-run it (runbook › Issue 5)"
        )


@pytest.mark.daily
def test_no_cron_run_is_stuck(
    cron_runs: list[cron.CronRun], settings: Settings, now: datetime
) -> None:
    """A run that hung never writes 'failed': only its age gives it away — judged against how
    long the job usually takes, so the 00:30 nightly run sees a 00:00 run still going."""
    config = settings.config.cron
    judged(len(cron_runs), f"{config.job_name} runs in {config.table}")
    limit = cron.running_limit(cron_runs, timedelta(seconds=config.running_timeout))
    stuck = cron.stuck_runs(cron_runs, now, limit)
    if stuck:
        oldest = min(stuck, key=lambda run: run.start)
        minutes = (now - oldest.start).total_seconds() / 60
        fail(
            f"{config.table}: expected no {config.job_name} run 'running' longer than "
            f"{limit.total_seconds() / 60:.1f} min (3x its longest completed run + 1 min, at "
            f"most [cron] running_timeout {config.running_timeout / 60:g} min), got run "
            f"{oldest.id} running since {utc_text(oldest.start)} ({minutes:.0f} min): it hung "
            "or died without logging; check `wrangler tail` for the scheduled handler"
        )


@pytest.mark.daily
def test_each_cron_run_logs_one_row(cron_runs: list[cron.CronRun], settings: Settings) -> None:
    """A run that ends by inserting a second row leaves its first one 'running' forever: the
    log then shows a stuck job that is not, and hides one that is."""
    config = settings.config.cron
    judged(len(cron_runs), f"{config.job_name} runs in {config.table}")
    pairs = cron.orphaned_rows(cron_runs)
    if pairs:
        running, twin = pairs[0]
        fail(
            f"{config.table}: expected one row per {config.job_name} run, got {len(pairs)} "
            f"run(s) with a 'running' row beside a '{twin.status}' one (e.g. {running.id} and "
            f"{twin.id}, both started {utc_text(twin.start)}): the job inserts a new row when "
            "it ends instead of updating the row it started; fix the handler's UPDATE of "
            f"{config.table} (by id)"
        )
