"""The sandbox: a real HTTP server that speaks the Umbrella API contract on real SQLite.

It binds a free loopback port, builds its own app checkout (``state.py``), and answers like
the Worker does — envelopes, auth rules, CORS, Violet's limit — unless a fault switch says
otherwise. ``/__sandbox/*`` is its own control surface (counters) and not part of the
contract.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import select
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from umbrella_checks.sandbox.faults import FaultError, Faults, Outgoing, parse_faults
from umbrella_checks.sandbox.issuers import BadToken, Issuer, kid_of
from umbrella_checks.sandbox.services import Services, shape_services
from umbrella_checks.sandbox.state import (
    Account,
    AppState,
    build_app,
    cron_run,
    iso,
    take_down,
    utc_day,
)

VERSION = "0.1.0"
# How old a health answer a cache kept is (health-from-cache), like a stale timestamp.
CACHED_FOR = timedelta(minutes=15)
PLATFORM_PAGE = (
    b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>Error 503</h1><p>Service Temporarily Unavailable</p></body></html>"
)
ALLOWED_ORIGINS = ("https://umbrella.app", "http://localhost:5173")
STAGING_ORIGINS = ("https://staging.umbrella.app",)


class Clock:
    """Real time plus an offset (only ``Sandbox.limiter_clock`` ever gets one)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def skip_to_minute_end(self) -> None:
        """Jump to half a second before the next minute, once in the clock's life: whoever
        waits for the next minute by this clock (as its ``Date`` header shows it) waits a
        second, not up to sixty, and the clock never runs more than a minute ahead."""
        if self.offset:
            return
        now = self.now()
        end = now.replace(second=0, microsecond=0) + timedelta(seconds=59.5)
        if end > now:
            self.offset += (end - now).total_seconds()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class Sandbox:
    """Start with ``start()``; ``url``, ``accounts``, ``app_dir`` and ``d1_sqlite`` describe it."""

    def __init__(
        self,
        faults: Faults | None = None,
        environment: str = "development",
        version: str = VERSION,
        daily_limit: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
        root: Path | None = None,
        clerk_jwks_url: str | None = None,
        quick_minutes: bool = True,
    ) -> None:
        self.clerk_jwks_url = clerk_jwks_url
        self._jwks: dict[str, Any] | None = None
        self.environment = environment
        self._version, self._daily_limit = version, daily_limit
        self.faults: Faults = Faults()
        # Cloudflare's GraphQL API, Sentry and a Slack webhook, as the daily and weekly tiers
        # read them (services.py); their state follows the fault switches.
        self.services = Services()
        self.switch(faults or Faults())
        self.clock = Clock()
        # Violet's limiter keeps its own clock, like a limiter in another service would: with
        # quick_minutes it skips to the end of its minute when it refuses a prompt, and no other
        # route (health's timestamp included) ever sees that.
        self.limiter_clock = Clock()
        self.quick_minutes = quick_minutes
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._busy = 0
        # Requests stalled by burst-stall: in flight, but no longer taking the server's time.
        self._stalled = 0
        # The latest 10,000 only: a long-lived sandbox must not grow without bound.
        self.events: deque[str] = deque(maxlen=10_000)
        self._stopping = threading.Event()
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="umbrella-sandbox-")
        base = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.state: AppState = build_app(base, self.faults, self.clock.now(), daily_limit)
        self.db: sqlite3.Connection | None = None
        if "database-down" in self.faults:
            take_down(self.state)
        else:
            self.db = sqlite3.connect(self.state.d1_sqlite, check_same_thread=False)
        self.by_token = {account.token: account for account in self.state.accounts.values()}
        # Its own Clerk-like instance and another one: real tokens for the forged-token review.
        self.own_issuer, self.other_issuer = Issuer("umbrella"), Issuer("elsewhere")
        user = self.state.accounts["user"].clerk_id
        self.issued = {
            "expired": self.own_issuer.sign(user, time.time() - 3600),
            "other-issuer": self.other_issuer.sign(user, time.time() + 86400),
        }
        self._server = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # Faults that shape the database when the sandbox starts: switching them later changes
    # nothing, so switch() refuses them.
    AT_START = frozenset(
        {
            "pending-migration",
            "unknown-migration",
            "migration-misnamed",
            "cron-missed",
            "cron-failed",
            "cron-running-long",
            "cron-duplicate-row",
            "cron-stuck",
            "database-down",
            "limit-account-exhausted",
        }
    )

    def switch(self, faults: Faults) -> None:
        """Answer with these fault switches from now on (the service changed between a baseline
        and the gate, or during the watch)."""
        changed = sorted((faults.names ^ self.faults.names) & self.AT_START)
        if changed and hasattr(self, "state"):
            raise ValueError(f"{', '.join(changed)} shape the database at start; restart instead")
        self.faults = faults
        self.version = "0.0.9" if "stale-version" in faults else self._version
        self.daily_limit = faults.limit or self._daily_limit
        shape_services(self.services, faults)

    @property
    def accounts(self) -> dict[str, Account]:
        return self.state.accounts

    @property
    def app_dir(self) -> Path:
        return self.state.app_dir

    @property
    def d1_sqlite(self) -> Path:
        return self.state.d1_sqlite

    def describe(self) -> dict[str, Any]:
        return {
            "services": self.services.describe(self.url),
            "url": self.url,
            "environment": self.environment,
            "version": self.version,
            "app_dir": str(self.app_dir),
            "d1_sqlite": str(self.d1_sqlite),
            "history": str(self.state.history) if self.state.history else None,
            "tokens": {
                **{key: account.token for key, account in self.accounts.items()},
                **self.issued,
            },
            "faults": list(self.faults.raw),
        }

    def start(self) -> Sandbox:
        self._serving = True
        self._thread = threading.Thread(
            # A short poll: stop() waits for the loop's next look, which ends the run.
            target=lambda: self._server.serve_forever(poll_interval=0.05),
            name="umbrella-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        self._stopping.set()
        if self._serving:  # shutdown() waits for a serving loop: without one it never returns
            self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        if self.db:
            self.db.close()
        if self._tmp:
            self._tmp.cleanup()

    # --- data access -------------------------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        if self.db is None:
            raise ApiError(500, "internal_error", "database unavailable")
        with self._lock:
            self.db.row_factory = sqlite3.Row
            rows = self.db.execute(sql, params).fetchall()
            self.db.commit()
            return rows

    def run_the_cron(self) -> None:
        """What the analytics cron leaves: a completed run in cron_logs."""
        if self.db is None:
            raise ApiError(500, "internal_error", "database unavailable")
        with self._lock:
            cron_run(self.db, self.clock.now(), "completed", None)
            self.db.commit()

    def verify_clerk_jwt(self, token: str) -> Account:
        """Accept a Clerk session JWT signed by the configured instance's key (RS256)."""
        # Only a sandbox that verifies Clerk tokens needs these (and their start-up time).
        import jwt

        from umbrella_checks.config.suite import Http
        from umbrella_checks.transport import NoAnswer, request_once

        if not self.clerk_jwks_url:
            raise ApiError(401, "authentication_failed", "invalid or expired token")
        if self._jwks is None:
            try:
                answer = request_once(Http(), "GET", self.clerk_jwks_url, what="Clerk's JWKS")
                self._jwks = answer.json()
            except (NoAnswer, ValueError):
                raise ApiError(401, "authentication_failed", "cannot fetch Clerk keys") from None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            keys = {k.get("kid"): k for k in (self._jwks or {}).get("keys", [])}
            key = jwt.PyJWK(keys[kid]) if kid in keys else None
            if key is None:
                raise ApiError(401, "authentication_failed", "token signed by an unknown key")
            claims = jwt.decode(
                token, key.key, algorithms=["RS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "authentication_failed", "token expired") from None
        except jwt.InvalidTokenError:
            raise ApiError(401, "authentication_failed", "invalid token") from None
        for account in self.accounts.values():
            if account.clerk_id == claims["sub"]:
                return account
        raise ApiError(401, "authentication_failed", "unknown user")

    @contextlib.contextmanager
    def in_flight(self, what: str) -> Iterator[None]:
        """Count answers being worked on at once (``max_in_flight`` in /__sandbox/state), and
        log when each request came and went (``events``: "start GET /v1/health", "end …")."""
        with self._lock:
            self._busy += 1
            self.counts["max_in_flight"] = max(self.counts["max_in_flight"], self._busy)
            self.events.append(f"start {what}")
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self.events.append(f"end {what}")

    @property
    def crowd(self) -> int:
        """Requests being worked on now, this one included (stalled ones left out)."""
        with self._lock:
            return self._busy - self._stalled

    def count(self, what: str) -> int:
        """How many times ``what`` has happened, this time included."""
        with self._lock:
            self.counts[what] += 1
            return self.counts[what]

    @contextlib.contextmanager
    def stalled(self) -> Iterator[None]:
        with self._lock:
            self._stalled += 1
        try:
            yield
        finally:
            with self._lock:
                self._stalled -= 1

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Work on one answer; with one-at-a-time, others wait their turn (a queue the
        client sees as time to first byte, and the service's own timing leaves out)."""
        if "one-at-a-time" not in self.faults:
            yield
            return
        with self._one_at_a_time:
            yield

    def window(self) -> tuple[str, datetime]:
        """Violet's rate window key and its reset time (a UTC day, or a minute when faulty)."""
        now = self.limiter_clock.now()
        if "rate-limit-per-minute" in self.faults:
            start = now.replace(second=0, microsecond=0)
            return start.strftime("%Y-%m-%dT%H:%M"), start + timedelta(minutes=1)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return utc_day(now), start + timedelta(days=1)

    def used(self, account: Account, key: str) -> int:
        if "rate-limit-global" in self.faults:  # one counter for everybody: a shared quota
            rows = self.query(
                "SELECT SUM(prompts) AS prompts FROM violet_usage WHERE day = ?", (key,)
            )
        else:
            rows = self.query(
                "SELECT prompts FROM violet_usage WHERE user_id = ? AND day = ?",
                (account.user_id, key),
            )
        return int(rows[0]["prompts"] or 0) if rows else 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Load generators drop connections when they stop; that is not the sandbox's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


_PUBLIC_ONE = re.compile(r"^/v1/(artists|profile)/([^/]+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every answer, which would swamp the latency budgets being tested.
    disable_nagle_algorithm = True
    server: _Server
    raw_body = b""
    started = 0.0  # this thread's CPU clock when the request arrived
    injected = 0.0  # seconds of injected delay (the slow fault)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the suite's own output is what the user reads

    @property
    def sb(self) -> Sandbox:
        return self.server.sandbox

    # --- plumbing ----------------------------------------------------------------------------

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header, from the clock of whatever answers: Violet's limiter for its
        routes, the sandbox's for the rest."""
        if timestamp is None:
            path = urlsplit(self.path).path
            violet = path.startswith("/v1/violet")
            timestamp = (self.sb.limiter_clock if violet else self.sb.clock).now().timestamp()
            if path == "/v1/health" and "health-from-cache" in self.sb.faults:
                timestamp -= CACHED_FOR.total_seconds()  # kept, Date and all, by a cache
        return super().date_time_string(timestamp)

    def _meta(self) -> dict[str, str]:
        return {
            "timestamp": iso(self.sb.clock.now()),
            "version": "v1",
            "requestId": uuid.uuid4().hex,
        }

    def _cors(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        if origin is None or "cors-missing" in self.sb.faults:
            return {}
        allowed = STAGING_ORIGINS if "cors-origins-differ" in self.sb.faults else ALLOWED_ORIGINS
        if origin not in allowed and "cors-any-origin" not in self.sb.faults:
            return {}
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }
        if "cors-no-credentials" in self.sb.faults:
            del headers["Access-Control-Allow-Credentials"]
        return headers

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        outgoing = Outgoing(self.command, urlsplit(self.path).path, status, dict(headers))
        self.sb.faults.reshape(outgoing)  # the registry's faults that reshape answers
        status, headers = outgoing.status, outgoing.headers
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        # Its own time, as a Worker reports it: the work done for this answer (this thread's CPU
        # time) plus any injected delay. Waiting for the GIL behind the suite's own threads,
        # which share this process, is this machine's time, not the service's.
        spent = (time.thread_time() - self.started + self.injected) * 1000
        if "partial-server-timing" in self.sb.faults:
            self.send_header("Server-Timing", f"db;dur={spent / 10:.1f}")
        elif "no-server-timing" not in self.sb.faults:
            self.send_header("Server-Timing", f"total;dur={spent:.1f}")
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**self._cors(), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _ok(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        if self.sb.faults.is_bare(urlsplit(self.path).path):
            self._json(status, data if isinstance(data, dict) else {"items": data}, headers or {})
            return
        self._json(status, {"success": True, "data": data, "meta": self._meta()}, headers or {})

    def _error(self, exc: ApiError, headers: dict[str, str] | None = None) -> None:
        faults = self.sb.faults
        code = exc.code.lower() if "error-codes-lowercase" in faults else exc.code
        path = urlsplit(self.path).path
        for route, wrong in faults.values_of("error-code"):
            if route == "*" or path.startswith(route):
                code = wrong
        message = exc.message
        if "echo-token" in faults and exc.status in (401, 403):
            message += f" (got {self.headers.get('Authorization', 'no Authorization header')})"
        error: dict[str, Any] = {"code": code, "message": message}
        if exc.field:
            error["field"] = exc.field
        if "stack-trace" in self.sb.faults:
            error["stack"] = (
                f"Error: {exc.message}\n    at handleRequest (/app/src/worker.ts:42:13)\n"
                "    at async Object.fetch (/app/src/index.ts:17:5)"
            )
        success = "success-on-error" in faults
        self._json(
            exc.status, {"success": success, "error": error, "meta": self._meta()}, headers or {}
        )

    def _read_json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.raw_body or b"null")
        except ValueError:
            raise ApiError(400, "validation_error", "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "validation_error", "request body must be a JSON object")
        return body

    def _account(self, required: bool = True) -> Account | None:
        header = self.headers.get("Authorization", "")
        if not header:
            if required and "auth-not-enforced" not in self.sb.faults:
                raise ApiError(401, "authentication_failed", "missing bearer token")
            return None
        if "auth-broken" in self.sb.faults:
            raise ApiError(401, "authentication_failed", "invalid token")
        token = header.removeprefix("Bearer ").strip()
        account = self.sb.by_token.get(token) or self._unverified(token)
        if account is None and "auth-not-enforced" not in self.sb.faults:
            return self._issued(token) or self.sb.verify_clerk_jwt(token)
        return account

    def _issued(self, token: str) -> Account | None:
        """A token of the sandbox's own instance (or, with auth-trusts-any-issuer, of the other
        one); None for any other token."""
        faults = self.sb.faults
        issuer = {self.sb.own_issuer.kid: self.sb.own_issuer}
        if "auth-trusts-any-issuer" in faults:
            issuer[self.sb.other_issuer.kid] = self.sb.other_issuer
        found = issuer.get(kid_of(token) or "")
        if found is None:
            return None
        try:
            claims = found.claims(token, check_expiry="auth-ignores-expiry" not in faults)
        except BadToken as exc:
            raise ApiError(401, "authentication_failed", str(exc)) from None
        for account in self.sb.accounts.values():
            if account.clerk_id == claims.get("sub"):
                return account
        raise ApiError(401, "authentication_failed", "unknown user")

    def _unverified(self, token: str) -> Account | None:
        """The faulty verifiers: a JWT taken at its word (or with alg: none)."""
        faults = self.sb.faults
        faulty = ("auth-skips-verification", "auth-accepts-unsigned")
        if token.count(".") != 2 or not any(name in faults for name in faulty):
            return None
        import jwt

        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            return None
        if "auth-skips-verification" in faults or (
            "auth-accepts-unsigned" in faults and str(alg).lower() == "none"
        ):
            return self.sb.accounts["user"]
        return None

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        with self.sb.in_flight(f"OPTIONS {self.path}"):
            self._travel()
            if self._overwhelmed():
                return
            with self.sb.serving():
                self._preflight()

    def _travel(self) -> None:
        """The distance fault: time on the network, which Server-Timing (the thread's own
        time plus injected service delays) never counts."""
        time.sleep(self.sb.faults.value("distance", 0.0))

    def _preflight(self) -> None:
        self.started, self.injected = time.thread_time(), 0.0
        self.sb.counts["requests"] += 1
        if "platform-503" in self.sb.faults:
            self._send(503, PLATFORM_PAGE, "text/html", {})
            return
        headers = {
            "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "86400",
        }
        self._send(204, b"", "text/plain", headers)

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if self.sb.services.serves(path):  # another host in production: no target fault here
            self._service()
            return
        if path.startswith("/__sandbox/"):  # the sandbox's own: no fault applies to it
            self._read_body()
            try:
                self._control(path)
            except (ApiError, ValueError, TypeError) as exc:
                self._json(400, {"error": f"bad control request: {exc}"}, {})
            return
        with self.sb.in_flight(f"{self.command} {self.path}"):
            self._travel()
            if self._overwhelmed():
                return
            with self.sb.serving():
                self._dispatch_one()

    def _service(self) -> None:
        self._read_body()
        try:
            body = json.loads(self.raw_body) if self.raw_body else None
        except ValueError:
            body = None
        status, answer, headers = self.sb.services.respond(
            self.command, self.path, self.headers.get("Authorization", ""), body, self.sb.url
        )
        kind = headers.pop("Content-Type", "application/json")
        raw = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(raw)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _overwhelmed(self) -> bool:
        """burst-503 and burst-stall: the platform in front of the Worker, with more requests
        in flight than it takes, sheds the extra ones with its own page, or stalls them until
        the client gives up. True when this request got no answer from the Worker."""
        faults, sb = self.sb.faults, self.sb
        shed, stall = faults.value("burst-503"), faults.value("burst-stall")
        crowd = sb.crowd
        if shed is not None and crowd > shed:
            self._read_body()
            self._send(503, PLATFORM_PAGE, "text/html", {})
            return True
        if stall is not None and crowd > stall:
            self._read_body()
            with sb.stalled():
                self._wait_for_the_client_to_leave()
            self.close_connection = True
            return True
        return False

    def _wait_for_the_client_to_leave(self) -> None:
        while not self.sb._stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return  # the client closed the connection
                except OSError:
                    return

    def _read_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""

    def _dispatch_one(self) -> None:
        sb = self.sb
        # Read the whole body before answering anything: an answer that leaves it unread (a
        # 401 before parsing) would make the next request on this keep-alive connection garbage.
        self.started, self.injected = time.thread_time(), 0.0
        self._read_body()
        if "hang" in sb.faults:
            while "hang" in sb.faults and not sb._stopping.wait(0.05):
                pass  # accepted, and never answered (until the fault is switched off)
            self.close_connection = True
            return
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        sb.counts["requests"] += 1
        if "platform-503" in sb.faults:
            self._send(503, PLATFORM_PAGE, "text/html", {})
            return
        if "routes-lost" in sb.faults:
            self._error(ApiError(404, "not_found", f"no route for {self.command} {path}"))
            return
        if self._dev_server(path) or self._d1_error(path):
            return
        delay = self._delay(path)
        if delay:
            self.injected = delay
            time.sleep(delay)
        try:
            if random.random() < sb.faults.error_share(path):
                raise ApiError(500, "internal_error", "injected failure")
            self._route(self.command, path, parse_qs(url.query))
        except ApiError as exc:
            self._error(exc)
        except ConnectionError:
            self.close_connection = True  # the client went away; nobody to answer
        except Exception as exc:  # the Worker's catch-all: an envelope, never a raw trace
            if "stack-trace" in sb.faults:
                body = "".join(traceback.format_exception(exc)).encode()
                self._send(500, body, "text/plain", {})
            else:
                self._error(ApiError(500, "internal_error", "internal error"))

    def _dev_server(self, path: str) -> bool:
        """dev-server: the routes `wrangler dev` answers itself, before the Worker."""
        if "dev-server" not in self.sb.faults:
            return False
        if path == "/__scheduled":
            self.sb.run_the_cron()
            self._send(200, b"Ran scheduled event", "text/plain", {})
            return True
        if path == "/cdn-cgi/handler/scheduled":
            self._send(500, b"Internal Server Error: no handler", "text/plain", {})
            return True
        return False

    def _d1_error(self, path: str) -> bool:
        for route in self.sb.faults.values_of("d1-error-500"):
            if route == "*" or path.startswith(route):
                error = {
                    "code": "internal_error",
                    "message": f"D1_ERROR: no such table: {route.strip('/').split('/')[-1]}: "
                    "SQLITE_ERROR",
                }
                self._json(500, {"success": False, "error": error, "meta": self._meta()}, {})
                return True
        return False

    def _delay(self, path: str) -> float:
        """Seconds the latency faults hold this answer back (the service's own time)."""
        sb = self.sb
        delay = sb.faults.delay_for(path, random.random())
        for route, seconds in sb.faults.values_of("slow-but-first"):
            if route == "*" or path.startswith(route):
                delay = 0.0 if sb.count(f"seen:{route}") == 1 else seconds
        for route, seconds in sb.faults.values_of("slow-every-other"):
            if route == "*" or path.startswith(route):
                delay = seconds if sb.count(f"every-other:{route}") % 2 == 1 else 0.0
        for route, seconds in sb.faults.values_of("slow-at-first"):
            if route == "*" or path.startswith(route):
                delay = seconds if sb.count(f"at-first:{route}") <= 3 else 0.0
        return delay

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        """One branch per route of the contract's table, in its order (long on purpose: it
        reads like the table it implements)."""
        sb = self.sb
        if method == "GET" and path == "/v1/health":
            self._health()
            return
        match = _PUBLIC_ONE.match(path)
        if method == "GET" and match:
            rows = sb.query(
                "SELECT id, name, genre, city FROM artists WHERE id = ?", (match.group(2),)
            )
            if not rows:
                raise ApiError(404, "not_found", f"{match.group(1)[:-1]} not found")
            self._ok(dict(rows[0]))
            return
        if method == "GET" and path == "/v1/artists":
            self._account()
            rows = sb.query(
                "SELECT id, name, genre, city FROM artists LIMIT ?", (self._limit(query),)
            )
            self._ok([dict(r) for r in rows])
        elif method == "GET" and path == "/v1/gigs":
            self._account()
            rows = sb.query(
                "SELECT id, title, venue_name, date FROM gigs LIMIT ?", (self._limit(query),)
            )
            self._ok([dict(r) for r in rows])
        elif method == "GET" and path in ("/v1/profile", "/v1/auth/session"):
            account = self._account()
            who = account or next(iter(sb.accounts.values()))
            self._ok({"userId": who.user_id, "role": who.role})
        elif method == "POST" and path == "/v1/auth/webhook" and "webhook-missing" not in sb.faults:
            missing = [
                h
                for h in ("svix-id", "svix-timestamp", "svix-signature")
                if not self.headers.get(h)
            ]
            if missing:
                raise ApiError(400, "validation_error", "missing svix headers", missing[0])
            raise ApiError(400, "validation_error", "invalid webhook signature", "svix-signature")
        elif method == "GET" and path == "/v1/admin/stats":
            account = self._account()
            if account and account.role != "admin" and "admin-not-enforced" not in sb.faults:
                raise ApiError(403, "authorization_failed", "admin role required")
            users = sb.query("SELECT COUNT(*) AS n FROM users")[0]["n"]
            self._ok({"users": users, "artists": 5, "gigs": 5})
        elif (
            method == "GET"
            and path == "/v1/analytics/trigger"
            and "open-trigger-route" in sb.faults
        ):
            self._ok({"triggered": "analytics_aggregation"})  # and no auth asked: the fault
        elif path == "/v1/cron/analytics" and "trigger-validates-first" in sb.faults:
            # Validates its parameters before it asks who is calling: with force=true it runs.
            if query.get("force") != ["true"]:
                raise ApiError(400, "validation_error", "force must be true", "force")
            self._ok({"triggered": "analytics_aggregation"})
        elif path == "/v1/admin/analytics/run" and "trigger-post-only-open" in sb.faults:
            if method != "POST":
                raise ApiError(405, "method_not_allowed", f"{method} not allowed; use POST")
            self._ok({"triggered": "analytics_aggregation"})  # no auth asked: the fault
        elif method == "GET" and path == "/v1/violet/usage":
            self._violet_usage()
        elif method == "POST" and path == "/v1/violet/prompt":
            self._violet_prompt()
        elif "unknown-route-html" in sb.faults:
            self._send(
                200,
                b"<!doctype html><title>Umbrella</title><div id=root></div>",
                "text/html; charset=utf-8",
                {},
            )
        else:
            raise ApiError(404, "not_found", f"no route for {method} {path}")

    @staticmethod
    def _limit(query: dict[str, list[str]]) -> int:
        raw = query.get("limit", ["20"])[0]
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise ApiError(400, "validation_error", "limit must be an integer 1..100", "limit")
        return int(raw)

    def _health(self) -> None:
        sb, faults = self.sb, self.sb.faults
        if "health-500" in faults:
            raise ApiError(500, "internal_error", "health handler crashed")
        database = "healthy"
        try:
            sb.query("SELECT 1")
        except (ApiError, sqlite3.Error):
            database = "unhealthy"
        kv = "unhealthy" if "health-unhealthy" in faults else "healthy"
        deps = {"database": database, "kv": kv, "storage": "healthy"}
        healthy = all(v == "healthy" for v in deps.values())
        if "dependency-degraded" in faults:
            deps["storage"] = "degraded"  # and still "healthy" overall: the drift to catch
        environment = sb.environment
        if "wrong-environment" in faults:
            environment = "staging" if environment == "production" else "production"
        stale = "stale-health-timestamp" in faults or "health-from-cache" in faults
        stamp = sb.clock.now() - (CACHED_FOR if stale else timedelta(0))
        stamp += timedelta(seconds=faults.value("health-clock", 0.0))
        data = {
            "status": "healthy" if healthy else "unhealthy",
            "service": "umbrella-api",
            "version": "" if "version-empty" in faults else sb.version,
            "timestamp": iso(stamp),
            "environment": environment,
            "uptime": round(time.monotonic() - sb.started, 1),
            "dependencies": deps,
        }
        if "health-no-environment" in faults:
            del data["environment"]
        self._ok(data, status=200 if healthy else 503)

    def _rate_headers(self, used: int, reset: datetime) -> dict[str, str]:
        limit = self.sb.daily_limit
        remaining = self._remaining(used)
        if "rate-limit-remaining-wrong" in self.sb.faults:
            remaining = limit - used + 1
        reset += timedelta(seconds=self.sb.faults.value("reset-off", 0.0))
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset.timestamp())),
        }

    def _remaining(self, used: int) -> int:
        counted = used + (1 if "remaining-off-by-one" in self.sb.faults else 0)
        return max(self.sb.daily_limit - counted, 0)

    def _violet_usage(self) -> None:
        account = self._account()
        if account is None:
            raise ApiError(401, "authentication_failed", "missing bearer token")
        key, reset = self.sb.window()
        used = self.sb.used(account, key)
        limit = self.sb.daily_limit
        if "usage-in-body" in self.sb.faults:
            left = max(limit - used, 0)
            body = {"quota": limit, "count": used, "left": left, "resetsAt": iso(reset)}
            self._ok(body)
            return
        self._ok(
            {
                "used": used,
                "limit": 100 if "usage-limit-wrong" in self.sb.faults else limit,
                "remaining": self._remaining(used),
                "resetAt": iso(reset),
            },
            headers=self._rate_headers(used, reset),
        )

    def _violet_prompt(self) -> None:
        sb = self.sb
        account = self._account()
        body = self._read_json()
        if "prompt-needs-model" in sb.faults and body.get("model") != "violet-1":
            raise ApiError(400, "validation_error", "model is required", "model")
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise ApiError(400, "validation_error", "prompt is required", "prompt")
        if account is None:
            raise ApiError(401, "authentication_failed", "missing bearer token")
        sb.counts["prompts"] += 1
        key, reset = sb.window()
        used = sb.used(account, key)
        allowed = sb.daily_limit + (1 if "rate-limit-off-by-one" in sb.faults else 0)
        if used >= allowed and "rate-limit-off" not in sb.faults:
            if sb.quick_minutes:  # before anything is stamped: Date and Retry-After agree
                sb.limiter_clock.skip_to_minute_end()
            headers = self._rate_headers(used, reset)
            if "reset-missing-on-429" in sb.faults:
                del headers["X-RateLimit-Reset"]
            sb.counts[f"refused:{account.user_id}"] += 1
            if "second-limiter" in sb.faults and sb.counts[f"refused:{account.user_id}"] > 1:
                # An edge rule in front of the Worker: its own headers, no Retry-After.
                headers["X-RateLimit-Remaining"] = str(sb.daily_limit - 1)
                self._error(ApiError(429, "RATE_LIMIT_EXCEEDED", "slow down"), headers)
                return
            if "retry-after-missing" not in sb.faults:
                wait = max(int((reset - sb.limiter_clock.now()).total_seconds()), 1)
                wait += int(sb.faults.value("reset-off", 0.0))
                headers["Retry-After"] = str(wait)
            self._error(ApiError(429, "RATE_LIMIT_EXCEEDED", "daily Violet limit reached"), headers)
            return
        sb.query(
            "INSERT INTO violet_usage (user_id, day, prompts) VALUES (?, ?, 1) "
            "ON CONFLICT (user_id, day) DO UPDATE SET prompts = prompts + 1",
            (account.user_id, key),
        )
        self._ok(
            {"reply": "Here is an idea for your next set."},
            headers=self._rate_headers(used + 1, reset),
        )

    def _control(self, path: str) -> None:
        sb = self.sb
        if path == "/__sandbox/faults" and self.command == "POST":
            body = self._read_json()
            try:
                sb.switch(parse_faults([str(spec) for spec in body.get("faults", [])]))
            except FaultError as exc:
                raise ApiError(400, "validation_error", str(exc)) from None
            self._json(200, {"faults": list(sb.faults.raw)}, {})
        elif path == "/__sandbox/state" and self.command == "GET":
            self._json(
                200,
                {
                    "counts": dict(sb.counts),
                    "events": list(sb.events),
                    "now": iso(sb.clock.now()),
                    **sb.describe(),
                },
                {},
            )
        else:
            self._json(404, {"error": "unknown control route"}, {})
