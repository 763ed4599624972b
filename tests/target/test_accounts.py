"""Which token the suite speaks to the target with, account by account: static from the
environment, else minted through Clerk, else one line naming what to set. Clerk is a local
server (pytest-httpserver); nothing here patches the suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CheckFailed, MissingInput
from umbrella_checks.secrets import Secret
from umbrella_checks.services.clerk import ClerkApi, TokenStore
from umbrella_checks.target.accounts import Accounts, NotYet


@pytest.fixture(autouse=True)
def no_host_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UMBRELLA_USER_TOKEN", "SMOKE_TEST_TOKEN", "UMBRELLA_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _expired_store(httpserver: HTTPServer, tmp_path: Path) -> TokenStore:
    """A run's token file holding the user account's session, its token expired: the next use
    asks Clerk for a fresh one (this Clerk answers no such route: a refusal)."""
    path = tmp_path / "tokens.json"
    minted = {"account": "user", "session_id": "sess_1", "jwt": "old", "expires": 0.0}
    path.write_text(json.dumps({"user": minted}), encoding="utf-8")
    api = ClerkApi(Secret("CLERK_SECRET_KEY", "sk_test_x"), httpserver.url_for("/v1"), Http(), None)
    return TokenStore.open(path, api, margin=20)


def test_static_tokens_come_from_this_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMOKE_TEST_TOKEN", " from-the-runbook-name ")
    token = Accounts.from_environment().token("user")
    assert token.reveal() == "from-the-runbook-name"
    assert token.source == "SMOKE_TEST_TOKEN"


def test_a_given_environment_is_read_instead_of_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", "this-process")
    accounts = Accounts.from_environment({"UMBRELLA_ADMIN_TOKEN": "given"})
    assert accounts.token("admin").reveal() == "given"
    assert accounts.optional("user") is None


@pytest.mark.parametrize(
    ("account", "named"),
    [
        pytest.param("user", "UMBRELLA_USER_TOKEN (or SMOKE_TEST_TOKEN) is not set", id="alias"),
        pytest.param("admin", "UMBRELLA_ADMIN_TOKEN is not set: ", id="one-name"),
    ],
)
def test_a_missing_token_names_every_variable_that_holds_it(account: str, named: str) -> None:
    with pytest.raises(MissingInput) as missing:
        Accounts.from_environment({}).token(account)
    assert str(missing.value).startswith(named)


def test_mintable_without_a_token_store_is_missing_input() -> None:
    accounts = Accounts({}, None, frozenset({"user"}))
    with pytest.raises(MissingInput):
        accounts.token("user")


def test_a_clerk_refusal_while_minting_fails_the_check_in_one_line(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    accounts = Accounts({}, _expired_store(httpserver, tmp_path), frozenset({"user"}))
    with pytest.raises(CheckFailed) as failed:
        accounts.token("user")
    assert "Clerk" in failed.value.message
    assert "sk_test_x" not in failed.value.message


def test_planning_never_fails_on_a_clerk_refusal(httpserver: HTTPServer, tmp_path: Path) -> None:
    accounts = Accounts({}, _expired_store(httpserver, tmp_path), frozenset({"user"}))
    with pytest.raises(NotYet):
        accounts.known("user")
    assert accounts.optional("user") is None


def test_planning_knows_a_static_token() -> None:
    accounts = Accounts({"user": Secret("UMBRELLA_USER_TOKEN", "static")})
    assert accounts.known("user").reveal() == "static"
