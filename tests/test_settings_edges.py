"""Settings at their edges: URLs a user may paste, which credentials make an access, the
default environment for a sandbox and for the commands, and paths that must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks.access import SettingsError, cloudflare_access, sentry_access, validate_url
from umbrella_checks.settings import resolve, script_config


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
