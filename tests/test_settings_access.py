"""The services' credentials read from the environment: what is given is used, what is missing
turns the service off in one place, and no credential ever prints."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from umbrella_checks.access import SettingsError, clerk_access, cloudflare_access
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import SandboxInfo, resolve, script_config

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
