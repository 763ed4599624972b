"""The sandbox's app checkout: wrangler.toml, migrations folder and local D1 file.

Laid out as `wrangler dev` leaves an app repo, so the suite reads the sandbox exactly as it
reads the real app: ``wrangler.toml``, ``db/migrations/NNNN_*.sql`` and
``.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite``.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from umbrella_checks import history
from umbrella_checks.sandbox.faults import Faults

# The same DDL wrangler runs before applying migrations.
D1_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS d1_migrations(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)
"""

PENDING_MIGRATION = "0004_artist_payouts.sql"
UNKNOWN_MIGRATION = "0099_hotfix_from_laptop.sql"
MISNAMED_MIGRATION = "2_violet_usage.sql"


@dataclass(frozen=True)
class Account:
    role: str
    user_id: str
    clerk_id: str
    token: str


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def make_accounts() -> dict[str, Account]:
    """Fresh tokens per sandbox start: nothing to leak, nothing to reuse by accident."""
    roles = {
        "user": ("artist", "user_1"),
        "limit": ("artist", "user_2"),
        "admin": ("admin", "user_3"),
        "exhausted": ("artist", "user_4"),
    }
    return {
        key: Account(role, user_id, f"clerk_{user_id}", f"sbx_{key}_{uuid.uuid4().hex}")
        for key, (role, user_id) in roles.items()
    }


def open_database(path: Path) -> sqlite3.Connection:
    """The sandbox's own connection to its D1 file. Not synced to disk at each commit: the file
    lives as long as the sandbox, and other readers (the D1 checks) still see every commit."""
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA synchronous = OFF")
    return db


def apply_migrations(db: sqlite3.Connection, folder: Path) -> list[str]:
    """Apply pending ``*.sql`` files in numeric order and record each by name, as wrangler does."""
    db.execute(D1_MIGRATIONS_DDL)
    done = {row[0] for row in db.execute("SELECT name FROM d1_migrations")}
    applied = []
    for path in sorted(folder.glob("*.sql"), key=lambda p: int(p.name.split("_", 1)[0])):
        if path.name in done:
            continue
        db.executescript(path.read_text(encoding="utf-8"))
        db.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
        applied.append(path.name)
    db.commit()
    return applied


def _seed(
    db: sqlite3.Connection,
    accounts: dict[str, Account],
    now: datetime,
    limit: int,
    id_prefix: str = "artist_",
) -> None:
    created = iso(now - timedelta(days=30))
    for account in accounts.values():
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
            (
                account.user_id,
                account.clerk_id,
                f"{account.user_id}@sandbox.test",
                account.role,
                created,
            ),
        )
    for n in range(1, 6):
        db.execute(
            "INSERT INTO artists VALUES (?, ?, ?, ?, ?, ?)",
            (f"{id_prefix}{n}", "user_1", f"Sandbox Artist {n}", "jazz", "Lisbon", created),
        )
        db.execute(
            "INSERT INTO gigs VALUES (?, ?, ?, ?, ?)",
            (f"gig_{n}", f"Gig {n}", f"Venue {n}", utc_day(now + timedelta(days=n)), created),
        )
    db.execute(
        "INSERT INTO violet_usage VALUES (?, ?, ?)",
        (accounts["exhausted"].user_id, utc_day(now), limit),
    )
    # The test user has asked Violet a few things today, as a real one would: remaining must
    # then be limit - used, not just the limit.
    db.execute(
        "INSERT INTO violet_usage VALUES (?, ?, ?)", (accounts["user"].user_id, utc_day(now), 3)
    )


def cron_run(db: sqlite3.Connection, start: datetime, status: str, error: str | None) -> None:
    end = None if status == "running" else start + timedelta(seconds=4)
    db.execute(
        "INSERT INTO cron_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            f"cron_{uuid.uuid4().hex[:12]}",
            "analytics_aggregation",
            iso(start),
            iso(end) if end else None,
            4000 if end else None,
            120 if status == "completed" else 0,
            1 if status == "failed" else 0,
            status,
            error,
            '{"trigger":"0 0 * * *"}',
            iso(start),
        ),
    )


def _seed_cron(db: sqlite3.Connection, now: datetime, faults: Faults) -> None:
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # A week of nightly runs, each a couple of seconds after 00:00 as Cloudflare fires them.
    last_good = midnight - timedelta(days=2) if "cron-missed" in faults else midnight
    latest = midnight
    for days_back in range(7, -1, -1):
        start = midnight - timedelta(days=days_back) + timedelta(seconds=2)
        if start > now or start > last_good + timedelta(seconds=2):
            continue
        latest = start
        if days_back == 0 and "cron-failed" in faults:
            cron_run(db, start, "failed", "D1_ERROR: no such table: analytics_daily")
        else:
            cron_run(db, start, "completed", None)
    if "cron-stuck" in faults:
        cron_run(db, now - timedelta(hours=3), "running", None)
    if "cron-running-long" in faults:  # under running_timeout, far over the job's 4 s
        cron_run(db, now - timedelta(minutes=30), "running", None)
    if "cron-duplicate-row" in faults:  # tonight's run logged its end as a second row
        cron_run(db, latest, "running", None)


@dataclass
class AppState:
    app_dir: Path
    d1_sqlite: Path
    accounts: dict[str, Account]
    # The sandbox's past: four earlier weeks of a healthy service's figures, which a run against
    # it reads beside reports/history.sqlite (None: no past, as on a first real run).
    history: Path | None


def build_app(root: Path, faults: Faults, now: datetime, limit: int) -> AppState:
    """Create the app checkout under ``root`` with a migrated, seeded database."""
    app = root / "app"
    migrations = app / "db" / "migrations"
    migrations.mkdir(parents=True)
    packaged = resources.files("umbrella_checks.sandbox")
    (app / "wrangler.toml").write_text(
        packaged.joinpath("wrangler.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for item in packaged.joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            (migrations / item.name).write_text(item.read_text(encoding="utf-8"), "utf-8")
    state = app / ".wrangler" / "state" / "v3" / "d1" / "miniflare-D1DatabaseObject"
    state.mkdir(parents=True)
    digest = hashlib.sha256(b"umbrella-sandbox:DB").hexdigest()
    d1_sqlite = state / f"{digest}.sqlite"
    accounts = make_accounts()
    db = open_database(d1_sqlite)
    try:
        apply_migrations(db, migrations)
        _seed(db, accounts, now, limit, "art_" if "ids-differ" in faults else "artist_")
        if "limit-account-exhausted" in faults:
            db.execute(
                "INSERT INTO violet_usage VALUES (?, ?, ?)",
                (accounts["limit"].user_id, utc_day(now), limit),
            )
        _seed_cron(db, now, faults)
        if "unknown-migration" in faults:
            db.execute("INSERT INTO d1_migrations (name) VALUES (?)", (UNKNOWN_MIGRATION,))
        if "migration-misnamed" in faults:
            # Applied and recorded under the bad name: only the naming rule can catch it.
            (migrations / "0002_violet_usage.sql").rename(migrations / MISNAMED_MIGRATION)
            db.execute(
                "UPDATE d1_migrations SET name = ? WHERE name = ?",
                (MISNAMED_MIGRATION, "0002_violet_usage.sql"),
            )
        db.commit()
    finally:
        db.close()
    if "pending-migration" in faults:
        (migrations / PENDING_MIGRATION).write_text(
            "ALTER TABLE artists ADD COLUMN payout_account TEXT;\n", encoding="utf-8"
        )
    history = None if "no-history" in faults else root / "history.sqlite"
    if history is not None:
        seed_history(history, now)
    return AppState(app, d1_sqlite, accounts, history)


# Four weeks of a healthy service's figures, one run a day: the weekly trends judge on a first run
# against the sandbox, and its charts have something to show.
SEEDED = {
    ("daily", "D1 users count (ms)"): 0.5,
    ("daily", "users"): 4.0,
    ("daily", "Workers error rate (%)"): 0.2,
    ("postdeploy", "median GET /v1/health (ms)"): 0.2,
    ("postdeploy", "median GET /v1/gigs (ms)"): 0.3,
}


def seed_history(path: Path, now: datetime) -> None:
    """Four weeks of the daily and post-deploy figures, one run a day, in the trend store's
    own format (``history.py``): the weekly trends judge on a first run."""
    history.append_runs(
        path,
        [
            (
                now - timedelta(days=days),
                tier,
                "sandbox",
                [(name, value) for (t, name), value in SEEDED.items() if t == tier],
            )
            for days in range(28, 0, -1)
            for tier in ("daily", "postdeploy")
        ],
    )


def take_down(state: AppState) -> None:
    """Make the database unreachable for the sandbox and for anyone reading its file."""
    shutil.move(state.d1_sqlite, state.d1_sqlite.with_suffix(".sqlite.down"))
