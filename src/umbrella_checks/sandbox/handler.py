"""The sandbox's request handler: the HTTP plumbing every answer shares — envelopes, CORS,
credentials, the fault switches that act before or instead of a route (a hang, the platform's
503, a stall under load, a delay) — then the route itself (``routes.py``).
"""

from __future__ import annotations

import json
import random
import select
import socket
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from umbrella_checks.sandbox.issuers import BadToken, kid_of
from umbrella_checks.sandbox.routes import CACHED_FOR, ApiError, answer, control
from umbrella_checks.sandbox.state import (
    Account,
    iso,
)
from umbrella_checks.sandbox.switches import Outgoing

if TYPE_CHECKING:
    from umbrella_checks.sandbox.server import Sandbox, SandboxServer

PLATFORM_PAGE = (
    b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>Error 503</h1><p>Service Temporarily Unavailable</p></body></html>"
)
ALLOWED_ORIGINS = ("https://umbrella.app", "http://localhost:5173")
STAGING_ORIGINS = ("https://staging.umbrella.app",)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every answer, which would swamp the latency budgets being tested.
    disable_nagle_algorithm = True
    server: SandboxServer
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
                control(self, path)
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
        if shed is not None and sb.crowd_past(shed):
            self._read_body()
            self._send(503, PLATFORM_PAGE, "text/html", {})
            return True
        if stall is not None and sb.crowd_past(stall):
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
            answer(self, self.command, path, parse_qs(url.query))
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
