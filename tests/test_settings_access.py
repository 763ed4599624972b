"""The services' credentials read from the environment: what is given is used, what is missing
turns the service off in one place, and no credential ever prints."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from umbrella_checks.access import (
    SettingsError,
    clerk_access,
    cloudflare_access,
    sentry_access,
    validate_url,
)
from umbrella_checks.sandbox.info import SandboxInfo
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import resolve, script_config

USER_ID_VAR = "UMBRELLA_USER_ID"


def test_a_sandboxs_tokens_never_print() -> None:
    info = SandboxInfo.from_dict(
        {
            "url": "http://127.0.0.1:1",
            "environment": "development",
            "version": "0.1.0",
            "app_dir": "/tmp/app",
            "d1_sqlite": "/tmp/d1.sqlite",
            "tokens": {"user": "sandbox-user-token-4242"},
        }
    )
    assert "sandbox-user-token-4242" not in repr(info)


@pytest.mark.parametrize(
    ("given", "database"),
    [
        pytest.param("", None, id="empty-is-none"),
        pytest.param("  db-1 ", "db-1", id="trimmed"),
    ],
)
def test_the_d1_database_id_is_read_trimmed(
    monkeypatch: pytest.MonkeyPatch, given: str, database: str | None
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "cf-token-0123456789")
    environ = {"CLOUDFLARE_ACCOUNT_ID": "acc", "D1_DATABASE_ID": given}
    access = cloudflare_access(environ)
    assert access is not None
    assert access.database_id == database


@pytest.mark.parametrize(
    ("secret", "user_id", "minted"),
    [
        pytest.param("sk_test_clerk_0123456789", "user_1", True, id="both"),
        pytest.param("sk_test_clerk_0123456789", "", False, id="no-user-id"),
        pytest.param("", "user_1", False, id="no-secret"),
    ],
)
def test_minting_needs_the_secret_and_a_user_id(
    monkeypatch: pytest.MonkeyPatch, secret: str, user_id: str, minted: bool
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", secret)
    access = clerk_access({USER_ID_VAR: user_id}, {"user": None})
    assert (access is not None) is minted


def test_an_account_with_a_static_token_is_not_minted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_clerk_0123456789")
    static = Secret("UMBRELLA_USER_TOKEN", "static-token-0123")
    assert clerk_access({USER_ID_VAR: "user_1"}, {"user": static}) is None


@pytest.mark.parametrize(
    ("environ", "frontend"),
    [
        pytest.param(
            {"CLERK_FRONTEND_API_URL": "https://clerk.umbrella.app"},
            "https://clerk.umbrella.app",
            id="given",
        ),
        pytest.param(
            {
                "CLERK_PUBLISHABLE_KEY": "pk_live_"
                + base64.b64encode(b"clerk.umbrella.app$").decode()
            },
            "https://clerk.umbrella.app",
            id="from-the-publishable-key",
        ),
        pytest.param({}, None, id="neither"),
    ],
)
def test_the_frontend_api_comes_from_its_url_or_the_publishable_key(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], frontend: str | None
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_live_clerk_0123456789")
    access = clerk_access({USER_ID_VAR: "user_1", **environ}, {"user": None})
    assert access is not None
    assert access.frontend_api == frontend


def test_settings_without_a_target_say_so_unless_a_target_is_optional(tmp_path: Path) -> None:
    """The commands outside pytest need a target; the plugin asks only for the checks that
    talk to one."""
    with pytest.raises(SettingsError, match="no target"):
        resolve(lambda _: None, {}, tmp_path)
    assert resolve(lambda _: None, {}, tmp_path, target_required=False).base_url == ""


def test_a_scripts_config_option_is_the_file_read(tmp_path: Path) -> None:
    given = tmp_path / "elsewhere.toml"
    given.write_text('[target]\nenvironment = "staging"\n[health]\npath = "/healthz"\n')
    config, environment = script_config({}, tmp_path, str(given))
    assert (config.health.path, environment) == ("/healthz", "staging")


# ----------------------------------------------------------------------
# Settings at their edges: URLs a user may paste, which credentials make an access, the
# default environment for a sandbox and for the commands, and paths that must exist.
@pytest.fixture(autouse=True)
def no_host_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLOUDFLARE_API_TOKEN", "SENTRY_AUTH_TOKEN", "ENVIRONMENT", "UMBRELLA_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("https://umbrella.app/?x=1", "has a query or fragment", id="query"),
        pytest.param("https://umbrella.app/#top", "has a query or fragment", id="fragment"),
        pytest.param("https://umbrella.app:99999", "has an invalid port", id="port-out-of-range"),
    ],
)
def test_a_pasted_url_that_is_not_a_base_is_one_line(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        validate_url(url, "--base-url")
    assert str(raised.value) == f"--base-url: {url!r} {problem}" + (
        "; give the bare base URL" if "query" in problem else ""
    )


@pytest.mark.parametrize(
    ("token", "environ", "made"),
    [
        pytest.param("cf-token", {"CLOUDFLARE_ACCOUNT_ID": "acc"}, True, id="token-and-account"),
        pytest.param("cf-token", {}, False, id="token-without-account"),
        pytest.param(None, {"CLOUDFLARE_ACCOUNT_ID": "acc"}, False, id="account-without-token"),
    ],
)
def test_cloudflare_needs_a_token_and_an_account(
    monkeypatch: pytest.MonkeyPatch, token: str | None, environ: dict[str, str], made: bool
) -> None:
    if token:
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", token)
    assert (cloudflare_access(environ) is not None) is made


@pytest.mark.parametrize(
    ("environ", "zone"),
    [
        pytest.param({"CLOUDFLARE_ZONE_ID": " zone-1 "}, "zone-1", id="zone-given"),
        pytest.param({}, None, id="no-zone"),
    ],
)
def test_the_zone_is_optional(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], zone: str | None
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "cf-token")
    access = cloudflare_access({"CLOUDFLARE_ACCOUNT_ID": "acc", **environ})
    assert access is not None
    assert access.zone_id == zone


@pytest.mark.parametrize(
    ("token", "environ", "made"),
    [
        pytest.param(True, {"SENTRY_ORG": "o", "SENTRY_PROJECT": "p"}, True, id="all-three"),
        pytest.param(True, {"SENTRY_ORG": "o"}, False, id="no-project"),
        pytest.param(True, {"SENTRY_PROJECT": "p"}, False, id="no-org"),
        pytest.param(False, {"SENTRY_ORG": "o", "SENTRY_PROJECT": "p"}, False, id="no-token"),
    ],
)
def test_sentry_needs_a_token_an_org_and_a_project(
    monkeypatch: pytest.MonkeyPatch, token: bool, environ: dict[str, str], made: bool
) -> None:
    if token:
        monkeypatch.setenv("SENTRY_AUTH_TOKEN", "sntrys_x")
    access = sentry_access(environ)
    assert (access is not None) is made
    if access is not None:
        assert (access.org, access.project, access.base_url) == ("o", "p", "https://sentry.io")


class _Stop(Exception):
    pass


def test_a_sandbox_is_development_unless_told(tmp_path: Path) -> None:
    asked: list[str] = []

    def start(environment: str) -> object:
        asked.append(environment)
        raise _Stop

    with pytest.raises(_Stop):
        resolve(lambda name: None, {}, tmp_path, start)  # type: ignore[arg-type]
    assert asked == ["development"]


def test_the_commands_assume_production_unless_told(tmp_path: Path) -> None:
    """The perf, monitor and contract commands have no sandbox: production's protections
    apply until the environment is named."""
    assert script_config({}, tmp_path)[1] == "production"
    assert script_config({"ENVIRONMENT": "staging"}, tmp_path)[1] == "staging"


def test_a_migrations_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    options = {"umbrella_migrations_dir": str(missing), "migrations_dir": str(missing)}
    with pytest.raises(SettingsError) as raised:
        resolve(lambda name: options.get(name), {}, tmp_path, target_required=False)
    assert str(raised.value) == (
        f"--umbrella-migrations-dir: {missing} does not exist; give an existing path"
    )
