"""wrangler.toml is read with wrangler's own inheritance rules, one self-test per rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks.config.wrangler import WranglerApp, WranglerError

TOML = """
name = "umbrella-api"
main = "src/worker.ts"

[[d1_databases]]
binding = "DB"
database_name = "umbrella-dev"
database_id = "dev-db"
migrations_dir = "db/migrations"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "umbrella-dev"

[triggers]
crons = ["0 0 * * *"]

[env.production]
name = "umbrella-prod"

[[env.production.d1_databases]]
binding = "DB"
database_name = "umbrella-prod"
database_id = "prod-db"

[env.production.triggers]
crons = ["0 1 * * *"]

[env.staging]
"""


@pytest.fixture
def app(tmp_path: Path) -> WranglerApp:
    (tmp_path / "wrangler.toml").write_text(TOML, encoding="utf-8")
    return WranglerApp.load(tmp_path)


def test_an_environment_without_name_deploys_as_name_dash_env(app: WranglerApp) -> None:
    assert app.worker_name("staging") == "umbrella-api-staging"
    assert app.worker_name("production") == "umbrella-prod"


def test_d1_databases_are_not_inherited(app: WranglerApp) -> None:
    assert app.d1("production")["database_id"] == "prod-db"
    with pytest.raises(WranglerError, match=r"no \[\[env.staging.d1_databases\]\].*not inherited"):
        app.d1("staging")  # never the top-level development database


def test_r2_buckets_are_not_inherited(app: WranglerApp) -> None:
    assert app.r2_buckets("staging") == []
    assert app.r2_buckets("development") == ["umbrella-dev"]


def test_triggers_are_inherited(app: WranglerApp) -> None:
    assert app.where_crons("staging") == (["0 0 * * *"], "[triggers]")
    assert app.where_crons("production") == (["0 1 * * *"], "[env.production.triggers]")


def test_development_without_its_table_is_the_top_level(app: WranglerApp) -> None:
    assert app.d1("development")["database_id"] == "dev-db"
    assert app.worker_name("development") == "umbrella-api"


def test_an_unknown_environment_is_one_line(app: WranglerApp) -> None:
    with pytest.raises(WranglerError, match=r"has no \[env.preview\] \(environments: "):
        app.env("preview")


@pytest.mark.parametrize(
    ("write", "fragment"),
    [
        pytest.param(
            None, "wrangler.toml does not exist; --umbrella-app-dir must be", id="missing"
        ),
        pytest.param(b"name = \n", "wrangler.toml is not valid TOML (", id="not-toml"),
        pytest.param(b"\xff\xfe name", "wrangler.toml cannot be read (", id="not-utf8"),
    ],
)
def test_a_wrangler_toml_that_cannot_be_read_is_one_line(
    tmp_path: Path, write: bytes | None, fragment: str
) -> None:
    if write is not None:
        (tmp_path / "wrangler.toml").write_bytes(write)
    with pytest.raises(WranglerError) as failed:
        WranglerApp.load(tmp_path)
    assert fragment in str(failed.value)


def test_an_unreadable_wrangler_toml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").mkdir()  # a folder where the file should be: OSError
    with pytest.raises(WranglerError, match=r"wrangler\.toml cannot be read"):
        WranglerApp.load(tmp_path)


def test_an_environment_with_its_own_name_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'name = "umbrella"\n[env.staging]\nname = "umbrella-stage"\n'
    )
    app = WranglerApp.load(tmp_path)
    assert app.worker_name("staging") == "umbrella-stage"


def test_no_environments_at_all_is_said(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text('name = "umbrella"\n')
    with pytest.raises(WranglerError, match=r"has no \[env\.staging\] \(environments: none\)"):
        WranglerApp.load(tmp_path).env("staging")


def test_the_migrations_folder_is_under_the_app_dir(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(
        '[[d1_databases]]\nbinding = "DB"\nmigrations_dir = "db/migrations"\n'
    )
    app = WranglerApp.load(tmp_path)
    assert app.migrations_dir("development") == tmp_path / "db" / "migrations"
    assert app.path == tmp_path / "wrangler.toml"


def test_a_worker_with_no_name_anywhere_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text('[env.staging]\nmain = "src/index.ts"\n')
    assert WranglerApp.load(tmp_path).worker_name("staging") == "unknown"
