"""The faults the runbook worries about, as switches on the sandbox.

A switch is ``name`` or ``name=value``. Each one exists because some check must be seen to fail
on it; the self-tests in ``tests/`` prove that, switch by switch.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from umbrella_checks.sandbox.switches import (
    Fault,
    FaultError,
    Outgoing,
    credentials_on_preflights,
    milliseconds,
    parse_5xx,
    parse_limit,
    parse_slow,
    preflight_200,
    route_code,
    route_ms,
    route_value,
    seconds,
    without_max_age,
)

FAULTS_ENV = "UMBRELLA_SANDBOX_FAULTS"


# name -> switch. The README's fault table is generated from this (``fault_table``), and a
# self-test fails when the two differ.
FAULTS: dict[str, Fault] = {
    "health-500": Fault(None, "GET /v1/health answers 500"),
    "health-unhealthy": Fault(
        None, "health answers 503 with status unhealthy (KV dependency down)"
    ),
    "dependency-degraded": Fault(
        None, "health answers 200 healthy while its storage dependency reports degraded"
    ),
    "wrong-environment": Fault(None, "health reports a different environment than expected"),
    "health-no-environment": Fault(None, "health does not say which environment answers"),
    "stale-health-timestamp": Fault(None, "health's timestamp is 15 minutes old"),
    "health-from-cache": Fault(
        None,
        "health is served from a cache: its timestamp and its Date are both 15 minutes old",
    ),
    "version-empty": Fault(None, "health reports an empty version"),
    "health-clock": Fault(
        "SECONDS",
        "health's timestamp is SECONDS ahead of the real time (negative: behind)",
        seconds,
    ),
    "stale-version": Fault(
        None, "health reports the previous version 0.0.9 (deploy did not roll out)"
    ),
    "distance": Fault(
        "MS",
        "every answer arrives MS ms later, as from a distant edge: network time, outside the "
        "service's own (its Server-Timing leaves it out)",
        milliseconds,
    ),
    "routes-lost": Fault(
        None, "every API route answers the 404 envelope, health too (the Worker lost its routes)"
    ),
    "no-server-timing": Fault(
        None, "answers carry no Server-Timing header (as a Worker in production sends none)"
    ),
    "partial-server-timing": Fault(
        None, "Server-Timing times only the database query (db;dur=…), not the whole answer"
    ),
    "one-at-a-time": Fault(
        None, "requests are served one at a time, as one `wrangler dev` workerd process does"
    ),
    "slow": Fault(
        "ROUTE:MS[,MS@PCT...]",
        "delay answers on routes starting with ROUTE (`*` = all) by MS ms; "
        "`100,600@10` delays 10% of answers by 600 ms and the rest by 100 ms",
        parse_slow,
    ),
    "slow-but-first": Fault(
        "ROUTE:MS",
        "delay every answer on ROUTE by MS ms except the first: most samples over a budget, "
        "not all",
        route_ms,
    ),
    "slow-every-other": Fault(
        "ROUTE:MS",
        "delay every other answer on ROUTE by MS ms, the first among them: a route whose "
        "latency varies on its own, alone as in a burst",
        route_ms,
    ),
    "slow-at-first": Fault(
        "ROUTE:MS",
        "the first 3 answers on ROUTE (the tier's samples among its burst) take MS ms, as its "
        "own Server-Timing says; later ones, sent alone, are fast",
        route_ms,
    ),
    "burst-503": Fault(
        "N",
        "with more than N requests in flight, the platform answers the extra ones with its own "
        "503 HTML page (a dev server shedding load)",
        parse_limit,
    ),
    "burst-stall": Fault(
        "N",
        "with more than N requests in flight, the extra ones stall until the client gives up "
        "(one workerd process under a burst), and are answered alone",
        parse_limit,
    ),
    "platform-503": Fault(
        None, "every route answers 503 with the platform's own HTML error page, health too"
    ),
    "route-5xx": Fault(
        "ROUTE[:PCT]", "answer 500 on routes starting with ROUTE (PCT% of requests)", parse_5xx
    ),
    "envelope-missing": Fault(
        "ROUTE", "successful answers on ROUTE are bare JSON, no envelope", route_value
    ),
    "usage-in-body": Fault(
        None,
        "drift: Violet's usage route carries no X-RateLimit-* headers; its body says quota, "
        "count, left, resetsAt",
    ),
    "prompt-needs-model": Fault(
        None, 'drift: a Violet prompt needs "model": "violet-1" beside "prompt" (else 400)'
    ),
    "ids-differ": Fault(None, "drift: this environment's artists are art_1…art_5, not artist_1…"),
    "cors-origins-differ": Fault(
        None, "drift: this environment allows only https://staging.umbrella.app"
    ),
    "error-codes-lowercase": Fault(
        None, "drift: error codes are spelled in lower case (rate_limit_exceeded, …)"
    ),
    "unknown-route-html": Fault(
        None,
        "every unknown path, any method, answers 200 with the web app's HTML shell (a Worker "
        "that serves its single-page app as the fallback)",
    ),
    "dev-server": Fault(
        None,
        "the target is `wrangler dev`: its own GET /__scheduled runs the analytics cron for "
        "anyone (a row in cron_logs), and /cdn-cgi/handler/scheduled answers its own 500 page",
    ),
    "d1-error-500": Fault(
        "ROUTE",
        "routes starting with ROUTE answer 500 with D1's own words in the body (D1_ERROR: no "
        "such table … SQLITE_ERROR)",
        route_value,
    ),
    "cors-missing": Fault(None, "no Access-Control-Allow-Origin on any answer"),
    "preflight-max-age": Fault(
        "SECONDS",
        "preflight answers say Access-Control-Max-Age: SECONDS (browsers then ask again that "
        "often before every cross-origin call)",
        seconds,
        reshape=lambda answer, seconds: (
            answer.headers.update({"Access-Control-Max-Age": f"{seconds:g}"})
            if answer.method == "OPTIONS"
            else None
        ),
    ),
    "preflight-no-max-age": Fault(
        None,
        "preflight answers carry no Access-Control-Max-Age (browsers reuse them for 5 s)",
        reshape=without_max_age,
    ),
    "cors-any-origin": Fault(None, "any Origin is reflected with credentials"),
    "preflight-200": Fault(
        None,
        "harmless: preflight answers are 200 instead of 204 (as many CORS middlewares answer)",
        reshape=preflight_200,
    ),
    "credentials-on-every-preflight": Fault(
        None,
        "harmless: every preflight carries Access-Control-Allow-Credentials: true, an origin "
        "that is not allowed too (it still gets no Access-Control-Allow-Origin)",
        reshape=credentials_on_preflights,
    ),
    "cors-no-credentials": Fault(
        None, "allowed origins get no Access-Control-Allow-Credentials (cookies dropped)"
    ),
    "error-code": Fault(
        "ROUTE:CODE", "errors on routes starting with ROUTE carry the code CODE", route_code
    ),
    "success-on-error": Fault(None, 'error envelopes say "success": true'),
    "echo-token": Fault(None, "401 and 403 messages echo the request's bearer token"),
    "auth-not-enforced": Fault(None, "signed-in routes answer 200 without a token"),
    "auth-broken": Fault(None, "every bearer token is refused with 401 (wrong Clerk keys)"),
    "auth-skips-verification": Fault(
        None, "any JWT-shaped bearer token is accepted: signature, expiry and issuer unchecked"
    ),
    "auth-accepts-unsigned": Fault(None, "a bearer JWT with alg: none is accepted"),
    "auth-ignores-expiry": Fault(
        None, "a token of the service's own Clerk instance is accepted after it expired"
    ),
    "auth-trusts-any-issuer": Fault(
        None,
        "a token signed by another Clerk instance is accepted (keys looked up by the token's "
        "own issuer)",
    ),
    "open-trigger-route": Fault(
        None, "GET /v1/analytics/trigger runs the analytics job for anyone (200)"
    ),
    "trigger-validates-first": Fault(
        None,
        "GET /v1/cron/analytics answers 400 'force must be true' before asking who calls; with "
        "force=true it runs the job for anyone",
    ),
    "trigger-post-only-open": Fault(
        None,
        "/v1/admin/analytics/run serves POST only (GET: 405) and runs the job for any caller",
    ),
    "webhook-missing": Fault(None, "POST /v1/auth/webhook answers 404 (route lost)"),
    "admin-not-enforced": Fault(None, "admin routes answer 200 to any signed-in user"),
    "stack-trace": Fault(None, "error bodies carry a stack trace with file paths"),
    "rate-limit-off": Fault(None, "Violet's limit is not enforced (never 429)"),
    "rate-limit-off-by-one": Fault(None, "Violet accepts prompt 51 before answering 429"),
    "retry-after-missing": Fault(None, "Violet's 429 carries no Retry-After"),
    "reset-missing-on-429": Fault(None, "Violet's 429 carries no X-RateLimit-Reset"),
    "rate-limit-per-minute": Fault(None, "Violet's window is one minute instead of one UTC day"),
    "second-limiter": Fault(
        None,
        "Violet's later 429s come from a second limiter: Remaining 49 and no Retry-After",
    ),
    "limit-account-exhausted": Fault(
        None, "the limit test account has used up today's Violet quota before the run"
    ),
    "violet-limit": Fault("N", "Violet's daily limit is N instead of 50", parse_limit),
    "rate-limit-global": Fault(None, "one Violet quota shared by all accounts"),
    "rate-limit-remaining-wrong": Fault(
        None,
        "X-RateLimit-Remaining is one more than the usage body says",
    ),
    "usage-limit-wrong": Fault(
        None, "Violet's usage body says limit 100 while its headers say the real limit"
    ),
    "remaining-off-by-one": Fault(
        None, "Violet's remaining (headers and body) is limit - used - 1: a prompt counted twice"
    ),
    "reset-off": Fault(
        "SECONDS",
        "Violet's X-RateLimit-Reset and Retry-After point SECONDS past the real reset",
        seconds,
    ),
    "pending-migration": Fault(None, "the repo has a migration the database has not applied"),
    "unknown-migration": Fault(None, "the database records a migration the repo does not have"),
    "migration-misnamed": Fault(
        None, "a migration file is named 2_violet_usage.sql (no NNNN_ prefix)"
    ),
    "cron-missed": Fault(None, "no analytics_aggregation run since the day before yesterday"),
    "cron-failed": Fault(None, "the latest analytics_aggregation run failed"),
    "cron-running-long": Fault(
        None,
        "an analytics_aggregation run has been 'running' for 30 minutes (the job takes 4 s; "
        "under the 1 h running_timeout)",
    ),
    "cron-duplicate-row": Fault(
        None, "the latest run left a 'running' row beside its own 'completed' row"
    ),
    "cron-stuck": Fault(None, "an analytics_aggregation run has been 'running' for 3 hours"),
    "database-down": Fault(
        None, "the D1 database is unreachable (file gone, routes 500, health 503)"
    ),
    "hang": Fault(None, "connections are accepted and never answered"),
    "no-history": Fault(
        None, "the sandbox has no past: no earlier weeks of figures for the weekly trends"
    ),
    "traffic-errors": Fault(
        "PCT",
        "Cloudflare analytics: PCT% of the Worker's invocations in the last day were errors",
        seconds,
    ),
    "traffic-drop": Fault(
        None, "Cloudflare analytics: the Worker's requests fell to a third of the period before"
    ),
    "traffic-slow": Fault(
        None, "Cloudflare analytics: the Worker's wall time P90 is 800 ms, P99 3 s (P95 > 500 ms)"
    ),
    "r2-full": Fault(None, "Cloudflare analytics: the R2 bucket holds 9.5 GB of its 10 GB quota"),
    "auth-failures-surge": Fault(
        None, "Cloudflare analytics: 401/403 at the edge this week are 30 times last week's"
    ),
    "cloudflare-down": Fault(None, "Cloudflare's API answers 502 to everything"),
    "sentry-critical": Fault(None, "Sentry: a new D1_ERROR issue since yesterday (critical)"),
    "sentry-down": Fault(None, "Sentry's API answers 502 to everything"),
}


@dataclass(frozen=True)
class Faults:
    """The switches one sandbox runs with; valued ones keep their parsed values in order."""

    names: frozenset[str] = frozenset()
    values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    raw: tuple[str, ...] = ()

    def __contains__(self, name: object) -> bool:
        """Is the switch ``name`` on? Looked up through the registry: a name no fault has (a
        typo in the sandbox's code) raises instead of reading as "off" forever."""
        return _known(str(name)) in self.names

    def values_of(self, name: str) -> tuple[Any, ...]:
        return self.values.get(_known(name), ())

    @property
    def limit(self) -> int | None:
        limit = self.value("violet-limit")
        return int(limit) if limit is not None else None

    def delay_for(self, path: str, draw: float) -> float:
        for delay in self.values_of("slow"):
            if delay.route == "*" or path.startswith(delay.route):
                for bound, seconds in delay.steps:
                    if draw < bound:
                        return float(seconds)
        return 0.0

    def value(self, name: str, default: Any = None) -> Any:
        """The last value given for a valued switch."""
        given = self.values_of(name)
        return given[-1] if given else default

    def is_bare(self, path: str) -> bool:
        return any(r == "*" or path.startswith(r) for r in self.values_of("envelope-missing"))

    def reshape(self, answer: Outgoing) -> None:
        """Apply every switched-on fault's ``reshape`` to an answer about to go out."""
        for name in sorted(self.names):
            fault = FAULTS[name]
            if fault.reshape is not None:
                for value in self.values_of(name) or (None,):
                    fault.reshape(answer, value)

    def error_share(self, path: str) -> float:
        for route, share in self.values_of("route-5xx"):
            if route == "*" or path.startswith(route):
                return float(share)
        return 0.0


def _known(name: str) -> str:
    if name not in FAULTS:
        raise KeyError(f"no sandbox fault is called {name!r} (sandbox/faults.py's FAULTS)")
    return name


def parse_faults(specs: list[str], environ: Mapping[str, str] | None = None) -> Faults:
    """Parse switches such as ``["health-500", "slow=/v1/artists:800"]``, after those in
    ``UMBRELLA_SANDBOX_FAULTS`` (comma-separated) when ``environ`` is given."""
    listed = [s for s in (environ or {}).get(FAULTS_ENV, "").split(",") if s.strip()]
    names: set[str] = set()
    values: dict[str, list[Any]] = {}
    given = tuple(s.strip() for s in [*listed, *specs] if s.strip())
    for spec in given:
        name, sep, value = spec.partition("=")
        fault = FAULTS.get(name)
        if fault is None:
            close = difflib.get_close_matches(name, FAULTS, n=1)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "python -m umbrella_checks sandbox --fault-table lists them"
            )
            raise FaultError(f"unknown sandbox fault {name!r}; {hint}")
        if fault.value and not sep:
            raise FaultError(f"sandbox fault {name} needs a value: {fault.usage(name)}")
        if not fault.value and sep:
            raise FaultError(f"sandbox fault {name} takes no value; use just {name}")
        if fault.parse is not None:
            values.setdefault(name, []).append(fault.parse(value))
        names.add(name)
    return Faults(frozenset(names), {k: tuple(v) for k, v in values.items()}, given)


def fault_table() -> str:
    """The README's fault table, as Markdown."""
    rows = [f"| `{fault.usage(name)}` | {fault.effect} |" for name, fault in FAULTS.items()]
    return "\n".join(["| fault | effect |", "|---|---|", *rows])
