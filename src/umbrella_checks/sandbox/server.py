"""The sandbox: a real HTTP server that speaks the Umbrella API contract on real SQLite.

It binds a free loopback port, builds its own app checkout (``state.py``), and answers like
the Worker does — envelopes, auth rules, CORS, Violet's limit — unless a fault switch says
otherwise. ``/__sandbox/*`` is its own control surface (counters) and not part of the
contract.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from umbrella_checks.sandbox.faults import Faults
from umbrella_checks.sandbox.handler import Handler
from umbrella_checks.sandbox.info import SandboxInfo
from umbrella_checks.sandbox.issuers import Issuer
from umbrella_checks.sandbox.routes import VERSION, ApiError
from umbrella_checks.sandbox.services import Services, shape_services
from umbrella_checks.sandbox.state import (
    Account,
    AppState,
    build_app,
    cron_run,
    open_database,
    take_down,
    utc_day,
)

# burst-503 / burst-stall: how long a request waits for a burst's crowd to form (see
# ``Sandbox.crowd_past``); once one has, nobody waits.
CROWD_WAIT = 0.5


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
        # burst-503 / burst-stall: told when the crowd grows, and whether it has ever been
        # more than the platform takes (see ``crowd_past``).
        self._crowding = threading.Condition(self._lock)
        self._overflowed = False
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
            self.db = open_database(self.state.d1_sqlite)
        self.by_token = {account.token: account for account in self.state.accounts.values()}
        # Its own Clerk-like instance and another one: real tokens for the forged-token review.
        self.own_issuer, self.other_issuer = Issuer("umbrella"), Issuer("elsewhere")
        user = self.state.accounts["user"].clerk_id
        self.issued = {
            "expired": self.own_issuer.sign(user, time.time() - 3600),
            "other-issuer": self.other_issuer.sign(user, time.time() + 86400),
        }
        self._server = SandboxServer((host, port), Handler, self)
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

    @property
    def info(self) -> SandboxInfo:
        """What the sandbox tells a run about itself (the process prints it as one line)."""
        return SandboxInfo(
            url=self.url,
            environment=self.environment,
            version=self.version,
            app_dir=self.app_dir,
            d1_sqlite=self.d1_sqlite,
            tokens={**{key: a.token for key, a in self.accounts.items()}, **self.issued},
            services=self.services.describe(self.url),
            history=self.state.history,
            faults=self.faults.raw,
        )

    def describe(self) -> dict[str, Any]:
        return self.info.to_dict()

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

    def shutdown(self) -> None:
        """End ``serve_forever`` (from another thread); ``stop`` then cleans up."""
        self._stopping.set()
        self._server.shutdown()

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
            self._crowding.notify_all()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self.events.append(f"end {what}")

    def crowd_past(self, limit: int) -> bool:
        """Whether more than ``limit`` requests are being worked on now, this one included.
        Until that has happened once, a request waits up to ``CROWD_WAIT`` seconds for the
        crowd to form: the burst's requests leave the client close together, but a busy
        machine can spread them so thin that none overlap, and the fault would never see the
        burst it stands for (a real Worker takes time to answer; the sandbox takes almost none)."""
        with self._crowding:
            self._crowding.wait_for(
                lambda: self._overflowed or self._busy - self._stalled > limit, CROWD_WAIT
            )
            crowded = self._busy - self._stalled > limit
            self._overflowed = self._overflowed or crowded
            return crowded

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


class SandboxServer(ThreadingHTTPServer):
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
