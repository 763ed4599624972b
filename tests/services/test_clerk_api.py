"""Clerk's Backend and Frontend API answers, one at a time (pytest-httpserver speaking Clerk's
error format), and the token store's clock: each refusal named, nothing minted twice."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from umbrella_checks.config.suite import Http
from umbrella_checks.secrets import Secret
from umbrella_checks.services.clerk import (
    ClerkApi,
    ClerkError,
    Minted,
    TokenStore,
    frontend_api_of,
    jwt_expiry,
)

TEST_KEY = "sk_test_unit_clerk_key_42"
LIVE_KEY = "sk_live_unit_clerk_key_42"


def _jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.mark.parametrize("filler", ["", "x", "xx", "xxx"])  # every padding length
def test_a_jwt_expiry_is_read_whatever_its_padding(filler: str) -> None:
    assert jwt_expiry(_jwt({"exp": 1_900_000_000, "f": filler})) == 1_900_000_000.0


@pytest.mark.parametrize(
    "host",
    [
        "clerk.umbrella.app",
        "clerk.umbrella.ap",
        "clerk.umbrella.a",
        "clerk.example.com",
        "clerk.umbrella-app.io",
    ],
)
def test_the_frontend_api_is_read_from_a_key_without_padding(host: str) -> None:
    body = base64.b64encode(f"{host}$".encode()).decode().rstrip("=")
    assert frontend_api_of(f"pk_live_{body}") == f"https://{host}"
    assert frontend_api_of(f"pk_test_{body}") == f"https://{host}"


def _api(httpserver: HTTPServer, key: str = TEST_KEY, frontend: bool = False) -> ClerkApi:
    return ClerkApi(
        Secret("CLERK_SECRET_KEY", key),
        httpserver.url_for("/v1"),
        Http(),
        None,
        frontend_api=httpserver.url_for("/frontend") if frontend else None,
    )


def _error(code: str, message: str, long_message: str | None = None) -> dict[str, object]:
    error = {"code": code, "message": message}
    if long_message is not None:
        error["long_message"] = long_message
    return {"errors": [error]}


@pytest.mark.parametrize("status", [400, 403, 405, 422])
def test_each_refusal_of_sessions_names_the_production_fix(
    httpserver: HTTPServer, status: int
) -> None:
    httpserver.expect_request("/v1/sessions", method="POST").respond_with_json(
        _error("operation_not_allowed", "not allowed"), status=status
    )
    with pytest.raises(ClerkError, match=f"POST /sessions refused \\(HTTP {status} "):
        _api(httpserver).create_session("user", "user_1")


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        pytest.param(
            404,
            _error("not_found", "nope"),
            "unknown Clerk user or session (HTTP 404: nope)",
            id="404",
        ),
        pytest.param(300, {}, "HTTP 300 : ", id="300-is-no-answer"),
        pytest.param(
            409,
            _error("resource_not_found", "Not found", "No user with id user_1"),
            "unknown Clerk user or session (HTTP 409: No user with id user_1)",
            id="resource-not-found-code",
        ),
        pytest.param(
            406,
            _error("something_else", "Only a message"),
            "HTTP 406 something_else: Only a message",
            id="message-without-long-message",
        ),
        pytest.param(406, b"<html>", "HTTP 406 : ", id="not-json"),
        pytest.param(406, ["a", "list"], "HTTP 406 : ", id="not-an-object"),
    ],
)
def test_other_answers_are_explained(
    httpserver: HTTPServer, status: int, body: object, fragment: str
) -> None:
    if isinstance(body, bytes):
        httpserver.expect_request("/v1/sessions").respond_with_data(body, status=status)
    else:
        httpserver.expect_request("/v1/sessions").respond_with_json(body, status=status)
    with pytest.raises(ClerkError) as raised:
        _api(httpserver).create_session("user", "user_1")
    assert fragment in str(raised.value)


def test_a_token_without_exp_lives_a_minute(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/sessions/sess_1/tokens").respond_with_json({"jwt": "opaque"})
    before = time.time()
    minted = _api(httpserver).token("user", Minted("user", "sess_1", ""))
    assert before + 60 <= minted.expires <= time.time() + 60


def _production(httpserver: HTTPServer, authorization: dict[str, str]) -> None:
    httpserver.expect_request(
        "/v1/sign_in_tokens",
        method="POST",
        json={"user_id": "user_1", "expires_in_seconds": 300},
    ).respond_with_json({"token": "ticket_1"})
    httpserver.expect_request("/frontend/v1/client/sign_ins").respond_with_json(
        {"response": {"status": "complete", "created_session_id": "sess_9"}},
        headers=authorization,
    )


def test_production_sign_in_asks_for_a_five_minute_ticket_and_keeps_the_rotated_client(
    httpserver: HTTPServer,
) -> None:
    _production(httpserver, {"Authorization": "client_1"})
    httpserver.expect_request("/frontend/v1/client/sessions/sess_9/tokens").respond_with_json(
        {"jwt": _jwt({"exp": 1_900_000_000})}, headers={"Authorization": "client_2"}
    )
    minted = _api(httpserver, LIVE_KEY, frontend=True).create_session("user", "user_1")
    assert (minted.session_id, minted.client, minted.expires) == ("sess_9", "client_2", 1.9e9)


def test_a_production_token_answer_without_a_new_client_keeps_the_old_one(
    httpserver: HTTPServer,
) -> None:
    _production(httpserver, {"Authorization": "client_1"})
    httpserver.expect_request("/frontend/v1/client/sessions/sess_9/tokens").respond_with_json(
        {"jwt": _jwt({"exp": 1_900_000_000})}
    )
    minted = _api(httpserver, LIVE_KEY, frontend=True).create_session("user", "user_1")
    assert minted.client == "client_1"


def test_a_sign_in_without_a_client_token_did_not_complete(httpserver: HTTPServer) -> None:
    _production(httpserver, {})
    with pytest.raises(ClerkError, match=r"the sign-in did not complete \(status 'complete'\)"):
        _api(httpserver, LIVE_KEY, frontend=True).create_session("user", "user_1")


def test_a_minted_token_never_prints(httpserver: HTTPServer) -> None:
    minted = Minted("user", "sess_1", "eyJ.secret.jwt", 1.0, "client_secret")
    assert "eyJ.secret.jwt" not in repr(minted)
    assert "client_secret" not in repr(minted)


def _store(httpserver: HTTPServer, tmp_path: Path, expires: float, now: float) -> TokenStore:
    httpserver.expect_request("/v1/sessions/sess_1/tokens").respond_with_json(
        {"jwt": _jwt({"exp": now + 3600})}
    )
    store = TokenStore(tmp_path / "tokens.json", _api(httpserver), margin=20, clock=lambda: now)
    store._cache["user"] = Minted("user", "sess_1", "old", expires)
    return store


@pytest.mark.parametrize(
    ("left", "reminted"),
    [
        pytest.param(21.0, False, id="more-than-the-margin"),
        pytest.param(20.0, False, id="exactly-the-margin"),
        pytest.param(19.0, True, id="inside-the-margin"),
    ],
)
def test_a_token_is_reminted_only_inside_the_margin(
    httpserver: HTTPServer, tmp_path: Path, left: float, reminted: bool
) -> None:
    now = 1_800_000_000.0
    store = _store(httpserver, tmp_path, now + left, now)
    assert (store.current("user") != "old") is reminted
    assert len(httpserver.log) == int(reminted)


def test_the_store_folder_is_private_and_removed_at_close(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/sessions").respond_with_json({"id": "sess_1"})
    httpserver.expect_request("/v1/sessions/sess_1/tokens").respond_with_json(
        {"jwt": _jwt({"exp": time.time() + 3600})}
    )
    httpserver.expect_request("/v1/sessions/sess_1/revoke").respond_with_json({"id": "sess_1"})
    store = TokenStore.create(_api(httpserver), {"user": "user_1"}, margin=20)
    folder = store.path.parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert store.path.stat().st_mode & 0o777 == 0o600
    (folder / "tokens.json.123.tmp").write_text("{}")  # a worker's write cut short
    assert store.close() == []
    assert not folder.exists()


def test_a_store_whose_file_is_gone_says_no_token_in_one_line(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    store = TokenStore.open(tmp_path / "gone" / "tokens.json", _api(httpserver), margin=20)
    with pytest.raises(ClerkError, match=r"^no minted token for the user account$"):
        store.current("user")


def test_a_secret_key_is_not_a_publishable_key() -> None:
    body = base64.b64encode(b"clerk.umbrella.app$").decode()
    assert frontend_api_of(f"sk_live_{body}") is None


def test_a_development_session_takes_its_tokens_from_the_backend_api(
    httpserver: HTTPServer,
) -> None:
    """A session without a client token (development) asks the Backend API, even when a
    Frontend API is known."""
    httpserver.expect_request("/v1/sessions/sess_1/tokens").respond_with_json(
        {"jwt": _jwt({"exp": 1_900_000_000})}
    )
    minted = _api(httpserver, frontend=True).token("user", Minted("user", "sess_1", ""))
    assert (minted.jwt, minted.client) == (_jwt({"exp": 1_900_000_000}), "")


def test_a_session_clerk_will_not_revoke_is_one_line_at_close(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/v1/sessions/sess_1/revoke").respond_with_json(
        _error("internal_clerk_error", "Oops"), status=500
    )
    store = TokenStore(tmp_path / "tokens.json", _api(httpserver), margin=20)
    store._cache["user"] = Minted("user", "sess_1", "jwt", 0.0)
    (problem,) = store.close()
    assert "Clerk failed (HTTP 500)" in problem


@pytest.mark.parametrize(
    ("left", "from_file"),
    [
        pytest.param(21.0, False, id="cached-with-time-to-spare"),
        pytest.param(20.0, False, id="cached-with-exactly-the-margin"),
        pytest.param(19.0, True, id="cached-near-expiry-reads-the-file"),
    ],
)
def test_a_token_another_process_reminted_is_read_from_the_file(
    httpserver: HTTPServer, tmp_path: Path, left: float, from_file: bool
) -> None:
    """A worker whose cached token is near expiry first reads the shared file (another process
    may have re-minted): no second token is minted for the same session."""
    now = 1_800_000_000.0
    shared = tmp_path / "tokens.json"
    fresh = Minted("user", "sess_1", "fresh-from-the-file", now + 3600)
    shared.write_text(json.dumps({"user": fresh.__dict__}), encoding="utf-8")
    store = TokenStore(shared, _api(httpserver), margin=20, clock=lambda: now)
    store._cache["user"] = Minted("user", "sess_1", "cached", now + left)
    assert store.current("user") == ("fresh-from-the-file" if from_file else "cached")
    assert httpserver.log == []


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("pk_live_a", id="not-base64"),
        pytest.param("pk_live_" + base64.b64encode(b"$").decode(), id="no-host"),
        pytest.param("pk_live_" + base64.b64encode(b"\xff\xfe$").decode(), id="not-utf8"),
        pytest.param("pk_live_" + base64.b64encode(b"evil.example/path$").decode(), id="a-path"),
    ],
)
def test_a_publishable_key_naming_no_host_names_no_frontend_api(key: str) -> None:
    assert frontend_api_of(key) is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("a.a.b", id="not-base64"),
        pytest.param("a." + base64.urlsafe_b64encode(b"not json").decode() + ".b", id="not-json"),
        pytest.param("a." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".b", id="not-utf8"),
        pytest.param(
            "a." + base64.urlsafe_b64encode(b'{"exp": "soon"}').decode() + ".b", id="text"
        ),
        pytest.param("only.two", id="two-parts"),
    ],
)
def test_a_token_whose_expiry_cannot_be_read_has_none(token: str) -> None:
    assert jwt_expiry(token) is None
