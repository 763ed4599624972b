"""The sandbox's routes: what the Worker answers on each route of the contract's table, and
the sandbox's own control routes (``/__sandbox/*``). Called by the request handler
(``handler.py``) with itself as ``h``; the fault switches that reshape a whole answer live in
the handler, the ones that change what a route says live here.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from umbrella_checks.sandbox.faults import parse_faults
from umbrella_checks.sandbox.state import (
    iso,
)
from umbrella_checks.sandbox.switches import FaultError

if TYPE_CHECKING:
    from umbrella_checks.sandbox.handler import Handler

VERSION = "0.1.0"
# How old a health answer a cache kept is (health-from-cache), like a stale timestamp.
CACHED_FOR = timedelta(minutes=15)


_PUBLIC_ONE = re.compile(r"^/v1/(artists|profile)/([^/]+)$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def answer(h: Handler, method: str, path: str, query: dict[str, list[str]]) -> None:
    """One branch per route of the contract's table, in its order (long on purpose: it
    reads like the table it implements)."""
    sb = h.sb
    if method == "GET" and path == "/v1/health":
        _health(h)
        return
    match = _PUBLIC_ONE.match(path)
    if method == "GET" and match:
        rows = sb.query("SELECT id, name, genre, city FROM artists WHERE id = ?", (match.group(2),))
        if not rows:
            raise ApiError(404, "not_found", f"{match.group(1)[:-1]} not found")
        h._ok(dict(rows[0]))
        return
    if method == "GET" and path == "/v1/artists":
        h._account()
        rows = sb.query("SELECT id, name, genre, city FROM artists LIMIT ?", (_limit(query),))
        h._ok([dict(r) for r in rows])
    elif method == "GET" and path == "/v1/gigs":
        h._account()
        rows = sb.query("SELECT id, title, venue_name, date FROM gigs LIMIT ?", (_limit(query),))
        h._ok([dict(r) for r in rows])
    elif method == "GET" and path in ("/v1/profile", "/v1/auth/session"):
        account = h._account()
        who = account or next(iter(sb.accounts.values()))
        h._ok({"userId": who.user_id, "role": who.role})
    elif method == "POST" and path == "/v1/auth/webhook" and "webhook-missing" not in sb.faults:
        missing = [
            name
            for name in ("svix-id", "svix-timestamp", "svix-signature")
            if not h.headers.get(name)
        ]
        if missing:
            raise ApiError(400, "validation_error", "missing svix headers", missing[0])
        raise ApiError(400, "validation_error", "invalid webhook signature", "svix-signature")
    elif method == "GET" and path == "/v1/admin/stats":
        account = h._account()
        if account and account.role != "admin" and "admin-not-enforced" not in sb.faults:
            raise ApiError(403, "authorization_failed", "admin role required")
        users = sb.query("SELECT COUNT(*) AS n FROM users")[0]["n"]
        h._ok({"users": users, "artists": 5, "gigs": 5})
    elif method == "GET" and path == "/v1/analytics/trigger" and "open-trigger-route" in sb.faults:
        h._ok({"triggered": "analytics_aggregation"})  # and no auth asked: the fault
    elif path == "/v1/cron/analytics" and "trigger-validates-first" in sb.faults:
        # Validates its parameters before it asks who is calling: with force=true it runs.
        if query.get("force") != ["true"]:
            raise ApiError(400, "validation_error", "force must be true", "force")
        h._ok({"triggered": "analytics_aggregation"})
    elif path == "/v1/admin/analytics/run" and "trigger-post-only-open" in sb.faults:
        if method != "POST":
            raise ApiError(405, "method_not_allowed", f"{method} not allowed; use POST")
        h._ok({"triggered": "analytics_aggregation"})  # no auth asked: the fault
    elif method == "GET" and path == "/v1/violet/usage":
        _violet_usage(h)
    elif method == "POST" and path == "/v1/violet/prompt":
        _violet_prompt(h)
    elif "unknown-route-html" in sb.faults:
        h._send(
            200,
            b"<!doctype html><title>Umbrella</title><div id=root></div>",
            "text/html; charset=utf-8",
            {},
        )
    else:
        raise ApiError(404, "not_found", f"no route for {method} {path}")


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["20"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ApiError(400, "validation_error", "limit must be an integer 1..100", "limit")
    return int(raw)


def _health(h: Handler) -> None:
    sb, faults = h.sb, h.sb.faults
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
    h._ok(data, status=200 if healthy else 503)


def _rate_headers(h: Handler, used: int, reset: datetime) -> dict[str, str]:
    limit = h.sb.daily_limit
    remaining = _remaining(h, used)
    if "rate-limit-remaining-wrong" in h.sb.faults:
        remaining = limit - used + 1
    reset += timedelta(seconds=h.sb.faults.value("reset-off", 0.0))
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset.timestamp())),
    }


def _remaining(h: Handler, used: int) -> int:
    counted = used + (1 if "remaining-off-by-one" in h.sb.faults else 0)
    return max(h.sb.daily_limit - counted, 0)


def _violet_usage(h: Handler) -> None:
    account = h._account()
    if account is None:
        raise ApiError(401, "authentication_failed", "missing bearer token")
    key, reset = h.sb.window()
    used = h.sb.used(account, key)
    limit = h.sb.daily_limit
    if "usage-in-body" in h.sb.faults:
        left = max(limit - used, 0)
        body = {"quota": limit, "count": used, "left": left, "resetsAt": iso(reset)}
        h._ok(body)
        return
    h._ok(
        {
            "used": used,
            "limit": 100 if "usage-limit-wrong" in h.sb.faults else limit,
            "remaining": _remaining(h, used),
            "resetAt": iso(reset),
        },
        headers=_rate_headers(h, used, reset),
    )


def _violet_prompt(h: Handler) -> None:
    sb = h.sb
    account = h._account()
    body = h._read_json()
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
        headers = _rate_headers(h, used, reset)
        if "reset-missing-on-429" in sb.faults:
            del headers["X-RateLimit-Reset"]
        sb.counts[f"refused:{account.user_id}"] += 1
        if "second-limiter" in sb.faults and sb.counts[f"refused:{account.user_id}"] > 1:
            # An edge rule in front of the Worker: its own headers, no Retry-After.
            headers["X-RateLimit-Remaining"] = str(sb.daily_limit - 1)
            h._error(ApiError(429, "RATE_LIMIT_EXCEEDED", "slow down"), headers)
            return
        if "retry-after-missing" not in sb.faults:
            wait = max(int((reset - sb.limiter_clock.now()).total_seconds()), 1)
            wait += int(sb.faults.value("reset-off", 0.0))
            headers["Retry-After"] = str(wait)
        h._error(ApiError(429, "RATE_LIMIT_EXCEEDED", "daily Violet limit reached"), headers)
        return
    sb.query(
        "INSERT INTO violet_usage (user_id, day, prompts) VALUES (?, ?, 1) "
        "ON CONFLICT (user_id, day) DO UPDATE SET prompts = prompts + 1",
        (account.user_id, key),
    )
    h._ok(
        {"reply": "Here is an idea for your next set."},
        headers=_rate_headers(h, used + 1, reset),
    )


def control(h: Handler, path: str) -> None:
    sb = h.sb
    if path == "/__sandbox/faults" and h.command == "POST":
        body = h._read_json()
        try:
            sb.switch(parse_faults([str(spec) for spec in body.get("faults", [])]))
        except FaultError as exc:
            raise ApiError(400, "validation_error", str(exc)) from None
        h._json(200, {"faults": list(sb.faults.raw)}, {})
    elif path == "/__sandbox/state" and h.command == "GET":
        h._json(
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
        h._json(404, {"error": "unknown control route"}, {})
