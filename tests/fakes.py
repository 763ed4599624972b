"""Local servers that speak external services' documented wire formats.

Each is a real HTTP server on a free loopback port; tests switch its behaviour to each error
answer the real service gives.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from pytest_httpserver import HTTPServer

from umbrella_checks.config.suite import Http
from umbrella_checks.sandbox.services import Issues, Traffic
from umbrella_checks.secrets import Secret
from umbrella_checks.services.analytics import GraphQL
from umbrella_checks.transport import RequestCounter


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class _Fake:
    """A local server with a switchable error ``mode`` shared by the API fakes below."""

    TOKEN = "fake-api-token-0123456789"
    ERRORS: ClassVar[dict[str, tuple[int, Any, dict[str, str]]]] = {
        "bad-token": (401, {"errors": [{"message": "Invalid access token"}]}, {}),
        "rate-limited": (429, {"errors": [{"message": "rate limited"}]}, {"Retry-After": "30"}),
        "server-error": (502, b"<html>502 Bad Gateway</html>", {}),
        "malformed": (200, b"{not json", {}),
    }

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls = 0
        self.stop = threading.Event()
        fake = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def root(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self, request: _Quiet) -> None:
        self.calls += 1
        if self.mode == "hang":
            self.stop.wait()
            return
        if self.mode in self.ERRORS:
            status, body, headers = self.ERRORS[self.mode]
            request.send_json(status, body, headers)
            return
        if request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            request.send_json(401, {"detail": "Invalid token"})
            return
        self.answer(request)

    def answer(self, request: _Quiet) -> None:
        raise NotImplementedError

    @contextmanager
    def running(self) -> Iterator[Any]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self.server.shutdown()
            self.server.server_close()


class FakeD1Api(_Fake):
    """``POST /client/v4/accounts/{account}/d1/database/{id}/query`` over a SQLite file.

    ``mode`` picks an answer: ok, bad-token, unknown-database, sql-error, rate-limited,
    server-error, malformed, hang — in Cloudflare's error format, not the shared one.
    """

    TOKEN = "cf-test-token-0123456789"
    ACCOUNT = "acc123"

    def __init__(self, sqlite_path: Path, database_id: str) -> None:
        super().__init__()
        self.sqlite_path = sqlite_path
        self.database_id = database_id
        self.statements: list[str] = []
        # D1's own figure for how long a statement took (meta.duration), when set: a slow
        # database as the API reports it.
        self.duration_ms: float | None = None

    @property
    def base(self) -> str:
        return f"{self.root}/client/v4"

    def _serve(self, request: _Quiet) -> None:
        body = json.loads(request.read_body() or b"{}")
        self.statements.append(str(body.get("sql")))
        mode = self.mode
        fail = {"success": False, "messages": [], "result": None}
        if mode == "hang":
            self.stop.wait()
            return
        if mode == "bad-token" or request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            request.send_json(
                401, {**fail, "errors": [{"code": 10000, "message": "Authentication error"}]}
            )
            return
        expected = f"/client/v4/accounts/{self.ACCOUNT}/d1/database/{self.database_id}/query"
        if mode == "unknown-database" or request.path != expected:
            request.send_json(
                404, {**fail, "errors": [{"code": 7404, "message": "database not found"}]}
            )
            return
        if mode == "rate-limited":
            request.send_json(
                429,
                {**fail, "errors": [{"code": 971, "message": "throttled"}]},
                {"Retry-After": "30"},
            )
            return
        if mode == "server-error":
            request.send_json(502, b"<html>bad gateway</html>")
            return
        if mode == "malformed":
            request.send_json(200, b"{not json")
            return
        try:
            db = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
            db.row_factory = sqlite3.Row
            started = time.perf_counter()
            rows = [dict(r) for r in db.execute(body["sql"], body.get("params", [])).fetchall()]
            duration = (time.perf_counter() - started) * 1000
            db.close()
        except sqlite3.Error as exc:
            request.send_json(
                400, {**fail, "errors": [{"code": 7500, "message": f"{exc}: SQLITE_ERROR"}]}
            )
            return
        meta: dict[str, object] = {
            "changed_db": False,
            "changes": 0,
            "duration": duration if self.duration_ms is None else self.duration_ms,
            "rows_read": len(rows),
            "rows_written": 0,
            "size_after": self.sqlite_path.stat().st_size,
            "served_by_region": "WEUR",
        }
        if self.mode == "no-duration":
            del meta["duration"]
        request.send_json(
            200,
            {
                "success": True,
                "errors": [],
                "messages": [],
                "result": [{"success": True, "results": rows, "meta": meta}],
            },
        )


class FakeGraphQL(_Fake, Traffic):
    """Cloudflare's ``POST /client/v4/graphql``, answering as the sandbox does
    (``sandbox/services.Traffic``: one implementation), with this fake's error modes."""

    def __init__(self) -> None:
        _Fake.__init__(self)
        Traffic.__init__(self)

    @property
    def base(self) -> str:
        return f"{self.root}/client/v4"

    def answer(self, request: _Quiet) -> None:
        body = json.loads(request.read_body() or b"{}")
        self.refusing = self.mode == "graphql-errors"
        status, payload, headers = self.respond(body)
        request.send_json(status, payload, headers)


class FakeSentry(_Fake, Issues):
    """Sentry's issues API, answering as the sandbox does (``sandbox/services.Issues``)."""

    ORG = "umbrella"
    PROJECT = "42"
    SLUG = "umbrella-api"

    def __init__(self) -> None:
        _Fake.__init__(self)
        Issues.__init__(self, org=self.ORG, project=self.PROJECT, slug=self.SLUG)

    def answer(self, request: _Quiet) -> None:
        status, payload, headers = self.respond(request.path, self.root)
        request.send_json(status, payload, headers)


# Slack's incoming webhook needs no logic of its own, only Slack's answers: pytest-httpserver.
# The stateful fakes here (D1 over SQLite, Clerk's sessions and RS256 tokens, GraphQL and Sentry
# answering by query and cursor) keep their small http.server handlers.
SLACK_ANSWERS: dict[str, tuple[int, str, dict[str, str]]] = {
    "ok": (200, "ok", {}),
    "invalid-payload": (400, "invalid_payload", {}),
    "gone": (404, "no_service", {}),
    "forbidden": (403, "invalid_token", {}),
    "server-error": (502, "<html>502 Bad Gateway</html>", {}),
    "rate-limited": (429, "rate_limited", {"Retry-After": "30"}),
}


class SlackHook:
    """An incoming webhook on pytest-httpserver: answers as Slack does; ``posts`` are the texts
    it accepted. The URL's last part is the secret, as in Slack's."""

    SECRET = "fake-webhook-secret-0123456789"

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.path = f"/services/T000/B000/{self.SECRET}"
        self.answer("ok")

    @property
    def url(self) -> str:
        return str(self.server.url_for(self.path))

    def answer(self, mode: str) -> None:
        status, text, headers = SLACK_ANSWERS[mode]
        self.server.clear_all_handlers()
        self.server.expect_request(self.path, method="POST").respond_with_data(
            text, status, headers, content_type="text/plain"
        )

    @property
    def posts(self) -> list[str]:
        return [
            str(json.loads(request.get_data() or b"{}").get("text", ""))
            for request, response in self.server.log
            if response.status_code == 200
        ]


class FakeClerk(_Fake):
    """Clerk's Backend API: sessions, session tokens (RS256 JWTs), revocation and JWKS."""

    TOKEN = "sk_test_fake_clerk_secret_0123456789"
    ERRORS: ClassVar[dict[str, tuple[int, Any, dict[str, str]]]] = {
        "bad-token": (
            401,
            {
                "errors": [
                    {
                        "code": "authentication_invalid",
                        "message": "Unauthorized request",
                        "long_message": "The secret key is invalid",
                    }
                ]
            },
            {},
        ),
        "rate-limited": (
            429,
            {"errors": [{"code": "too_many_requests", "message": "Too many requests"}]},
            {"Retry-After": "7"},
        ),
        "server-error": (
            500,
            {"errors": [{"code": "internal_clerk_error", "message": "Oops"}]},
            {},
        ),
        "malformed": (200, b"{not json", {}),
    }

    LIVE = "sk_live_fake_clerk_secret_0123456789"

    def __init__(
        self,
        users: list[str],
        lifetime: int = 60,
        secret: str = TOKEN,
        refuse_sessions: bool | None = None,
        native_api: bool = True,
    ) -> None:
        super().__init__()
        # The instance's Native API setting (Dashboard › Native applications): off, Clerk
        # answers native-mode Frontend API calls with native_api_disabled.
        self.native_api = native_api
        # Production instances refuse POST /sessions (Clerk's Backend API reference).
        self.refuse_sessions = (
            secret.startswith("sk_live_") if refuse_sessions is None else refuse_sessions
        )
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.TOKEN = secret  # a production instance's key, when asked
        self.tickets: dict[str, str] = {}
        self.clients: dict[str, str] = {}  # session -> its Frontend API client token
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.users = set(users)
        self.lifetime = lifetime
        self.sessions: dict[str, str] = {}
        self.created = 0
        self.revoked = 0
        self.tokens = 0

    @property
    def base(self) -> str:
        return f"{self.root}/v1"

    def jwks(self) -> dict[str, Any]:
        import jwt

        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": "ins_test", "alg": "RS256", "use": "sig"}]}

    def sign(self, user_id: str, session_id: str, expires: float) -> str:
        import jwt

        claims = {
            "sub": user_id,
            "sid": session_id,
            "iat": int(time.time()),
            "exp": int(expires),
            "iss": self.root,
            "jti": os.urandom(8).hex(),
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "ins_test"})

    @property
    def frontend(self) -> str:
        return self.root  # Frontend API paths live under /v1/client on the same fake

    def _serve(self, request: _Quiet) -> None:
        if request.command == "GET" and request.path == "/v1/jwks":
            request.send_json(200, self.jwks())  # public: no secret needed
            return
        if request.path.startswith("/v1/client/"):
            self._frontend(request)  # the browser-facing API: no secret key there
            return
        super()._serve(request)

    def _new_session(self, user_id: str) -> str:
        self.created += 1
        session = f"sess_{self.created}"
        self.sessions[session] = user_id
        return session

    def _frontend(self, request: _Quiet) -> None:
        """Native-mode Frontend API: redeem a ticket, then mint tokens with the client token."""
        from urllib.parse import parse_qs, urlsplit

        url = urlsplit(request.path)
        parts = url.path.strip("/").split("/")
        form = {k: v[0] for k, v in parse_qs(request.read_body().decode()).items()}
        if "_is_native=1" not in url.query or not self.native_api:
            request.send_json(400, {"errors": [{"code": "native_api_disabled"}]})
        elif parts == ["v1", "client", "sign_ins"]:
            user = self.tickets.pop(form.get("ticket", ""), None)
            if form.get("strategy") != "ticket" or user is None:
                request.send_json(422, {"errors": [{"code": "ticket_invalid", "message": "x"}]})
                return
            session = self._new_session(user)
            self.clients[session] = f"client_{os.urandom(6).hex()}"
            body = {"response": {"status": "complete", "created_session_id": session}}
            request.send_json(200, body, {"Authorization": self.clients[session]})
        elif parts[:3] == ["v1", "client", "sessions"] and parts[4:5] == ["tokens"]:
            session = parts[3]
            if request.headers.get("Authorization") != self.clients.get(session):
                request.send_json(401, {"errors": [{"code": "signed_out"}]})
                return
            self.tokens += 1
            jwt = self.sign(self.sessions[session], session, time.time() + self.lifetime)
            request.send_json(200, {"object": "token", "jwt": jwt})
        else:
            request.send_json(404, {"errors": [{"code": "resource_not_found"}]})

    def answer(self, request: _Quiet) -> None:
        body = json.loads(request.read_body() or b"{}")
        parts = request.path.strip("/").split("/")
        not_found = {
            "errors": [
                {
                    "code": "resource_not_found",
                    "message": "not found",
                    "long_message": "Resource not found",
                }
            ]
        }
        if parts == ["v1", "sessions"] and self.refuse_sessions:
            refusal = {"code": "operation_not_allowed", "message": "not for production"}
            request.send_json(403, {"errors": [refusal]})
            return
        if parts == ["v1", "sign_in_tokens"]:
            if body.get("user_id") not in self.users:
                request.send_json(404, not_found)
                return
            ticket = f"ticket_{os.urandom(6).hex()}"
            self.tickets[ticket] = body["user_id"]
            request.send_json(200, {"object": "sign_in_token", "token": ticket})
            return
        if parts == ["v1", "sessions"]:
            if body.get("user_id") not in self.users:
                request.send_json(404, not_found)
                return
            session = self._new_session(body["user_id"])
            request.send_json(
                200,
                {
                    "object": "session",
                    "id": session,
                    "status": "active",
                    "user_id": body["user_id"],
                },
            )
            return
        if len(parts) >= 4 and parts[:2] == ["v1", "sessions"] and parts[2] in self.sessions:
            session = parts[2]
            if parts[3] == "tokens":
                self.tokens += 1
                expires = time.time() + self.lifetime
                request.send_json(
                    200,
                    {"object": "token", "jwt": self.sign(self.sessions[session], session, expires)},
                )
                return
            if parts[3] == "revoke":
                self.revoked += 1
                request.send_json(200, {"object": "session", "id": session, "status": "revoked"})
                return
        request.send_json(404, not_found)


@contextmanager
def minting_clerk(
    monkeypatch: Any, user: str = "clerk_user_1", lifetime: int = 60
) -> Iterator[FakeClerk]:
    """A running Clerk that mints for ``user`` (the sandbox's artist account), with the
    suite's Clerk settings pointing at it (``monkeypatch``: pytest's fixture)."""
    with FakeClerk([user], lifetime=lifetime).running() as clerk:
        monkeypatch.setenv("CLERK_SECRET_KEY", FakeClerk.TOKEN)
        monkeypatch.setenv("CLERK_API_URL", clerk.base)
        monkeypatch.setenv("UMBRELLA_USER_ID", user)
        yield clerk


def answering_graphql(httpserver: HTTPServer, data: dict[str, Any]) -> GraphQL:
    """The suite's Cloudflare GraphQL client, against a server answering every query with
    ``data``."""
    httpserver.expect_request("/client/v4/graphql", method="POST").respond_with_json({"data": data})
    return GraphQL(
        httpserver.url_for("/client/v4"),
        "acc",
        Secret("CLOUDFLARE_API_TOKEN", "cf-graphql-token-0123"),
        Http(),
        RequestCounter(),
    )
