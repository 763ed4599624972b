"""The faults the runbook worries about, as switches on the sandbox.

A switch is ``name`` or ``name=value``. Each one exists because some check must be seen to fail
on it; the self-tests in ``tests/`` prove that, switch by switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# name -> (takes a value?, what it does). The README's fault table is generated from this.
FAULTS: dict[str, tuple[str | None, str]] = {
    "health-500": (None, "GET /v1/health answers 500"),
    "health-unhealthy": (None, "health answers 503 with status unhealthy (KV dependency down)"),
    "wrong-environment": (None, "health reports a different environment than expected"),
    "stale-health-timestamp": (None, "health's timestamp is 15 minutes old"),
    "stale-version": (None, "health reports the previous version 0.0.9 (deploy did not roll out)"),
    "slow": (
        "ROUTE:MS[,MS@PCT...]",
        "delay answers on routes starting with ROUTE (`*` = all) by MS ms; "
        "`100,600@10` delays 10% of answers by 600 ms and the rest by 100 ms",
    ),
    "route-5xx": ("ROUTE[:PCT]", "answer 500 on routes starting with ROUTE (PCT% of requests)"),
    "envelope-missing": ("ROUTE", "successful answers on ROUTE are bare JSON, no envelope"),
    "unknown-route-html": (None, "unknown /v1/ paths answer 200 with an HTML page"),
    "cors-missing": (None, "no Access-Control-Allow-Origin on any answer"),
    "cors-any-origin": (None, "any Origin is reflected with credentials"),
    "auth-not-enforced": (None, "signed-in routes answer 200 without a token"),
    "auth-broken": (None, "every bearer token is refused with 401 (wrong Clerk keys)"),
    "webhook-missing": (None, "POST /v1/auth/webhook answers 404 (route lost)"),
    "admin-not-enforced": (None, "admin routes answer 200 to any signed-in user"),
    "stack-trace": (None, "error bodies carry a stack trace with file paths"),
    "rate-limit-off": (None, "Violet's limit is not enforced (never 429)"),
    "rate-limit-off-by-one": (None, "Violet accepts prompt 51 before answering 429"),
    "retry-after-missing": (None, "Violet's 429 carries no Retry-After"),
    "rate-limit-per-minute": (None, "Violet's window is one minute instead of one UTC day"),
    "violet-limit": ("N", "Violet's daily limit is N instead of 50"),
    "rate-limit-global": (None, "one Violet quota shared by all accounts"),
    "rate-limit-remaining-wrong": (
        None,
        "X-RateLimit-Remaining is one more than the usage body says",
    ),
    "pending-migration": (None, "the repo has a migration the database has not applied"),
    "unknown-migration": (None, "the database records a migration the repo does not have"),
    "migration-misnamed": (None, "a migration file is named 2_violet_usage.sql (no NNNN_ prefix)"),
    "cron-missed": (None, "no analytics_aggregation run since the day before yesterday"),
    "cron-failed": (None, "the latest analytics_aggregation run failed"),
    "cron-stuck": (None, "an analytics_aggregation run has been 'running' for 3 hours"),
    "database-down": (None, "the D1 database is unreachable (file gone, routes 500, health 503)"),
    "hang": (None, "connections are accepted and never answered"),
}


class FaultError(ValueError):
    """An unknown or malformed fault switch, phrased for the user."""


@dataclass(frozen=True)
class Delay:
    route: str
    # (cumulative probability upper bound in 0..1, delay seconds), checked in order.
    steps: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Faults:
    names: frozenset[str] = frozenset()
    delays: tuple[Delay, ...] = ()
    errors: tuple[tuple[str, float], ...] = ()
    raw: tuple[str, ...] = field(default=())
    bare: tuple[str, ...] = ()
    limit: int | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def delay_for(self, path: str, draw: float) -> float:
        for delay in self.delays:
            if delay.route == "*" or path.startswith(delay.route):
                for bound, seconds in delay.steps:
                    if draw < bound:
                        return seconds
        return 0.0

    def is_bare(self, path: str) -> bool:
        return any(route == "*" or path.startswith(route) for route in self.bare)

    def error_share(self, path: str) -> float:
        for route, share in self.errors:
            if route == "*" or path.startswith(route):
                return share
        return 0.0


def _parse_slow(value: str) -> Delay:
    route, sep, spec = value.rpartition(":")
    if not sep or not route:
        raise FaultError(f"slow={value}: expected slow=ROUTE:MS, e.g. slow=/v1/artists:800")
    explicit: list[tuple[float, float]] = []
    base: float | None = None
    for part in spec.split(","):
        ms, at, pct = part.partition("@")
        try:
            seconds = float(ms) / 1000
            share = float(pct) / 100 if at else None
        except ValueError:
            raise FaultError(f"slow={value}: {part!r} is not MS or MS@PCT") from None
        if share is None:
            base = seconds
        else:
            explicit.append((share, seconds))
    steps: list[tuple[float, float]] = []
    bound = 0.0
    for share, seconds in explicit:
        bound += share
        steps.append((bound, seconds))
    if bound > 1:
        raise FaultError(f"slow={value}: the percentages add up to more than 100")
    steps.append((1.0 + 1e-9, base if base is not None else 0.0))
    return Delay(route, tuple(steps))


def _parse_5xx(value: str) -> tuple[str, float]:
    route, sep, pct = value.partition(":")
    if not route:
        raise FaultError("route-5xx needs a route, e.g. route-5xx=/v1/gigs or route-5xx=*:5")
    try:
        share = float(pct) / 100 if sep else 1.0
    except ValueError:
        raise FaultError(f"route-5xx={value}: {pct!r} is not a percentage") from None
    return route, share


def parse_faults(specs: list[str]) -> Faults:
    """Parse switches such as ``["health-500", "slow=/v1/artists:800"]``."""
    names: set[str] = set()
    delays: list[Delay] = []
    errors: list[tuple[str, float]] = []
    bare: list[str] = []
    limit: int | None = None
    for spec in (s.strip() for s in specs):
        if not spec:
            continue
        name, sep, value = spec.partition("=")
        if name not in FAULTS:
            raise FaultError(
                f"unknown sandbox fault {name!r}; known faults: {', '.join(sorted(FAULTS))}"
            )
        takes = FAULTS[name][0]
        if takes and not sep:
            raise FaultError(f"sandbox fault {name} needs a value: {name}={takes}")
        if not takes and sep:
            raise FaultError(f"sandbox fault {name} takes no value; use just {name}")
        if name == "slow":
            delays.append(_parse_slow(value))
        elif name == "route-5xx":
            errors.append(_parse_5xx(value))
        elif name == "envelope-missing":
            bare.append(value)
        elif name == "violet-limit":
            if not value.isdigit() or int(value) < 1:
                raise FaultError(
                    f"violet-limit={value}: give a whole number, e.g. violet-limit=100"
                )
            limit = int(value)
        names.add(name)
    return Faults(frozenset(names), tuple(delays), tuple(errors), tuple(specs), tuple(bare), limit)
