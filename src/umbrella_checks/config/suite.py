"""The suite's thresholds: one checked-in TOML file, validated, overridable per environment.

The defaults below are the runbook's and the contract's numbers; ``umbrella.toml`` repeats them
so the team sees them in one place and records deliberate differences there (``[env.<name>]``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from umbrella_checks.config.units import Duration, Size


class ConfigError(Exception):
    """A config file problem, already phrased as one line for the user."""


def _at_least(low: int, high: int | None = None) -> Meta:
    return Meta(ge=low, le=high) if high is not None else Meta(ge=low)


_Fraction = Annotated[float, Meta(gt=0, le=1)]


class _Section(
    msgspec.Struct,
    forbid_unknown_fields=True,
    frozen=True,
    kw_only=True,
):
    """A config table: unknown keys are errors, values never change after loading. (Each
    section repeats frozen and kw_only for type checkers, which do not inherit them.)"""


class Target(_Section, frozen=True, kw_only=True):
    base_url: str | None = None
    environment: str | None = None


class Http(_Section, frozen=True, kw_only=True):
    connect_timeout: Duration = Duration(5.0)
    read_timeout: Duration = Duration(10.0)
    retries: Annotated[int, _at_least(0, 3)] = 0
    # Requests the target's client sends at once (prefetching a tier's planned requests);
    # 1 sends them one after another, as a check asks.
    concurrency: Annotated[int, _at_least(1, 64)] = 48


class Safety(_Section, frozen=True, kw_only=True):
    # pytest-selenium's idea: a URL matching this is treated as production whatever else is said.
    sensitive_url: str = r"^https?://(www\.|api\.)?umbrella\.app(/|:|$)"


class Health(_Section, frozen=True, kw_only=True):
    path: str = "/v1/health"
    # The service caches health for 10 s; a minute allows for that and modest clock drift.
    max_clock_skew: Duration = Duration(60.0)
    # Where the answer keeps each fact (dotted paths; "" for "this service does not say").
    status_field: str = "data.status"
    environment_field: str = "data.environment"
    version_field: str = "data.version"
    timestamp_field: str = "data.timestamp"
    dependencies_field: str = "data.dependencies"
    healthy: str = "healthy"


class Cors(_Section, frozen=True, kw_only=True):
    allowed_origins: list[str] = field(default_factory=lambda: ["https://umbrella.app"])
    disallowed_origin: str = "https://evil.example"
    preflight_path: str = "/v1/artists"
    # Browsers reuse a preflight for Access-Control-Max-Age (without it: 5 s); shorter than
    # this, the web app pays an extra round trip before most API calls.
    min_max_age: Duration = Duration(600.0)


class Budgets(_Section, frozen=True, kw_only=True):
    samples: Annotated[int, _at_least(1, 20)] = 3
    # Server-Timing metric names whose dur= is the whole answer's time (the first one present
    # counts). Any other metric (db, cache) times a part: the answer is then timed by its time
    # to first byte less a round trip, as it is when the header is absent.
    server_timing: list[str] = field(default_factory=lambda: ["total"])
    # However the service times itself, an answer slower than this (median wall-clock time of
    # the samples, sent one at a time) fails the latency gate.
    ceiling: Duration = Duration(3.0)
    overall_p95: Duration = Duration(0.5)
    error_rate: Annotated[float, Meta(ge=0, le=1)] = 0.01
    endpoints: dict[str, Duration] = field(
        default_factory=lambda: {
            "/v1/health": Duration(0.05),
            "/v1/artists": Duration(0.3),
            "/v1/gigs": Duration(0.4),
            "/v1/auth/session": Duration(0.2),
            "/v1/profile": Duration(0.3),
        }
    )

    def for_endpoint(self, name: str) -> float | None:
        """The budget in ms of the longest configured endpoint prefix of a request name
        (``/v1/artists/:id`` → ``/v1/artists``: profile views are judged against the artists
        budget, as the monitoring guide says)."""
        matches = [key for key in self.endpoints if name == key or name.startswith(key + "/")]
        return self.endpoints[max(matches, key=len)] * 1000 if matches else None


class CriticalPath(_Section, frozen=True, kw_only=True):
    """A request on the critical path: its path ({placeholders} from [routes]) and whether it
    needs the signed-in test user. Its budget is the longest [budgets.endpoints] prefix."""

    path: str
    signed_in: bool = False


class Routes(_Section, frozen=True, kw_only=True):
    # Ids that exist in this environment's data (per environment: [env.<name>.routes]).
    artist_id: str = "artist_1"
    profile_id: str = "artist_1"
    missing_artist_id: str = "artist_does_not_exist"
    list_limit: int = 5
    profile: str = "/v1/profile"
    artist: str = "/v1/artists/{artist_id}"
    # A route only the admin role may read (contract diff compares who gets what there).
    admin: str = "/v1/admin/stats"
    # A path no Worker route serves: it must answer the 404 envelope.
    unknown: str = "/v1/umbrella-checks-unknown-route"
    # name -> request: judged against its latency budget after a deploy, loaded by Locust.
    critical: dict[str, CriticalPath] = field(
        default_factory=lambda: {
            "health": CriticalPath(path="/v1/health"),
            "artists": CriticalPath(path="/v1/artists?limit={list_limit}", signed_in=True),
            "gigs": CriticalPath(path="/v1/gigs?limit={list_limit}", signed_in=True),
            "auth-session": CriticalPath(path="/v1/auth/session", signed_in=True),
            "profile": CriticalPath(path="/v1/profile", signed_in=True),
        }
    )

    def fill(self, path: str) -> str:
        """A path with its {artist_id}-style placeholders filled from these routes."""
        values = {name: getattr(self, name) for name in self.__struct_fields__}
        return path.format(**{k: v for k, v in values.items() if k != "critical"})

    def placeholders(self) -> list[str]:
        return [name for name in self.__struct_fields__ if name != "critical"]

    def measured_endpoints(self, health_path: str) -> list[str]:
        """The endpoints whose latency the suite measures: the critical paths (after a deploy
        and under load), the health route and an artist profile (under load)."""
        paths = [route.path for route in self.critical.values()] + [health_path, self.artist]
        return sorted({self.fill(path).partition("?")[0] for path in paths})


class RateLimitHeaders(_Section, frozen=True, kw_only=True):
    limit: str = "X-RateLimit-Limit"
    remaining: str = "X-RateLimit-Remaining"
    reset: str = "X-RateLimit-Reset"  # unix seconds
    retry_after: str = "Retry-After"


class Violet(_Section, frozen=True, kw_only=True):
    daily_limit: Annotated[int, _at_least(1)] = 50
    usage_path: str = "/v1/violet/usage"
    prompt_path: str = "/v1/violet/prompt"
    # The reset may be up to this much past the next 00:00 UTC (clock drift, rounding).
    reset_slack: Duration = Duration(60.0)
    # What a prompt sends: "{text}" becomes the suite's prompt; add the fields the service needs.
    prompt_body: dict[str, Any] = field(default_factory=lambda: {"prompt": "{text}"})
    # The usage answer's fields (dotted paths); reset: ISO-8601 time or unix seconds.
    limit_field: str = "data.limit"
    used_field: str = "data.used"
    remaining_field: str = "data.remaining"
    reset_field: str = "data.resetAt"
    headers: RateLimitHeaders = RateLimitHeaders()
    # Does the usage route carry the rate-limit headers? (Prompt answers always must.)
    headers_on_usage: bool = True

    def prompt(self, text: str) -> dict[str, Any]:
        return {
            k: v.replace("{text}", text) if isinstance(v, str) else v
            for k, v in self.prompt_body.items()
        }


_Identifier = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Database(_Section, frozen=True, kw_only=True):
    query_target: Duration = Duration(0.1)
    # None: wrangler.toml's migrations_table, else wrangler's default d1_migrations.
    migrations_table: _Identifier | None = None
    users_table: _Identifier = "users"
    binding: str = "DB"


class Cron(_Section, frozen=True, kw_only=True):
    job_name: str = "analytics_aggregation"
    table: _Identifier = "cron_logs"
    grace: Duration = Duration(1800.0)
    running_timeout: Duration = Duration(3600.0)
    # Used when wrangler.toml cannot be read: the runbook's schedule.
    default_schedule: list[str] = field(default_factory=lambda: ["0 0 * * *"])


class PerfWeights(_Section, frozen=True, kw_only=True):
    health: Annotated[int, _at_least(0)] = 1
    artist_profile: Annotated[int, _at_least(0)] = 4
    discovery: Annotated[int, _at_least(0)] = 3
    gigs: Annotated[int, _at_least(0)] = 2
    profile: Annotated[int, _at_least(0)] = 1


class Perf(_Section, frozen=True, kw_only=True):
    """The release load profile; run time, users and spawn rate live in pyproject.toml's
    [tool.locust], where Locust itself looks."""

    think_time_min: Duration = Duration(0.5)
    think_time_max: Duration = Duration(2.0)
    weights: PerfWeights = PerfWeights()
    # An endpoint with a budget but too few samples for a P95 is counted in the verdict line;
    # true makes it fail the gate (a release judged on every budget, or not at all).
    fail_unjudged: bool = False


class Analytics(_Section, frozen=True, kw_only=True):
    # None: the worker name from wrangler.toml for the environment.
    script_name: str | None = None
    volume_drop: _Fraction = 0.5
    # Wall-time quantiles to bound the P95 with, where introspection shows them (the public
    # schema has P50/P75/P90/P99/P999; a P95, where one exists, proves it exactly).
    latency_fields: list[str] = field(
        default_factory=lambda: [
            "wallTimeP50",
            "wallTimeP75",
            "wallTimeP90",
            "wallTimeP95",
            "wallTimeP99",
            "wallTimeP999",
        ]
    )


class Sentry(_Section, frozen=True, kw_only=True):
    fail_on: list[str] = field(default_factory=lambda: ["critical", "high"])
    critical_words: list[str] = field(
        default_factory=lambda: [
            "d1_error",
            "database",
            "sqlite",
            "sql",
            "no such table",
            "authentication",
            "clerk",
            "jwt",
            "d1",
        ]
    )
    max_pages: Annotated[int, _at_least(1, 100)] = 10


class Capacity(_Section, frozen=True, kw_only=True):
    d1_quota: Size = Size(10e9)
    r2_quota: Size = Size(10e9)
    alert_at: _Fraction = 0.8


class Trends(_Section, frozen=True, kw_only=True):
    max_ratio: Annotated[float, Meta(gt=1)] = 1.5
    weeks: Annotated[int, _at_least(2, 52)] = 4


class Baseline(_Section, frozen=True, kw_only=True):
    """A pre-deploy baseline and the comparison with it (--umbrella-baseline-out,
    --umbrella-baseline)."""

    # Latency samples per critical route, in the baseline and in the run compared with it:
    # enough for a rank test to tell a shift from noise (10 and 10: p down to 1e-5).
    samples: Annotated[int, _at_least(5, 50)] = 10
    # A baseline older than this is refused: it no longer says what the deploy changed.
    max_age: Duration = Duration(3600.0)
    # A route is slower than before when the rank test says so (p below alpha) and its median
    # grew by at least min_shift and by min_ratio: a 2 ms wobble is not news.
    alpha: Annotated[float, Meta(gt=0, lt=0.5)] = 0.01
    min_shift: Duration = Duration(0.025)
    min_ratio: Annotated[float, Meta(ge=1)] = 1.5


class Clerk(_Section, frozen=True, kw_only=True):
    # A JWT template name for minted tokens (Dashboard → JWT templates); None: session tokens.
    template: str | None = None
    # Re-mint a token when it has less than this left (Clerk session tokens live 60 s).
    refresh_margin: Duration = Duration(20.0)


class DocumentedLimit(_Section, frozen=True, kw_only=True):
    """A rate limit the service documents: how many requests per window, counted per client
    IP or per signed-in user, and the GET routes whose answers must show X-RateLimit-*."""

    limit: Annotated[int, _at_least(1)]
    window: Duration
    per: Literal["ip", "user"] = "user"
    routes: Annotated[list[str], Meta(min_length=1)]


class Security(_Section, frozen=True, kw_only=True):
    """Runbook › Weekly Review › Security Review."""

    # name -> documented limit; Violet's own (50/day) is judged by the Violet checks.
    rate_limits: dict[str, DocumentedLimit] = field(default_factory=dict)
    # Weekly: 401/403 at the edge fail when their share of requests grew this much over the
    # previous week, and there were at least auth_failures_min of them (noise floor).
    auth_failures_growth: Annotated[float, Meta(gt=1)] = 3.0
    auth_failures_min: Annotated[int, _at_least(0)] = 100

    # Trigger and maintenance routes a Worker like this one may have (the runbook's "manually
    # trigger analytics update"), with and without /v1: each must refuse anonymous callers.
    # Probed with the method it serves — "POST /v1/admin/analytics/run"; a bare path is a GET —
    # without a body or parameters, never with what would force work.
    maintenance_routes: list[str] = field(
        default_factory=lambda: [
            "/cron",
            "/v1/cron",
            "/v1/cron/analytics",
            "/jobs",
            "/v1/jobs",
            "/v1/jobs/analytics",
            "/admin",
            "/v1/admin",
            "/v1/admin/analytics",
            "/v1/admin/analytics/run",
            "/v1/analytics/aggregate",
            "/v1/analytics/trigger",
            "/v1/analytics/run",
            "/internal",
            "/v1/internal",
            "/debug",
            "/v1/debug",
        ]
    )


PROBE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Routes the platform answers before the Worker (wrangler dev's, Cloudflare's): probing them says
# nothing about the Worker, and on a dev server /__scheduled runs the cron for anyone.
PLATFORM_ROUTES = ("/__scheduled", "/cdn-cgi/")


def maintenance_probe(entry: str) -> tuple[str, str]:
    """``"POST /v1/jobs/run"`` -> ("POST", "/v1/jobs/run"); a bare path is a GET."""
    method, _, path = entry.strip().partition(" ")
    if path and method in PROBE_METHODS:
        return method, path.strip()
    return "GET", entry.strip()


class Tls(_Section, frozen=True, kw_only=True):
    # Fail when the certificate has fewer days left than this (renewals fail silently).
    min_days: Annotated[int, _at_least(1)] = 14
    # An extra CA bundle (a private CA); None: the platform's trust store.
    ca_file: str | None = None
    # The registered domain to check through RDAP (e.g. "umbrella.app"); None: not checked.
    domain: str | None = None
    rdap_url: str = "https://rdap.org/domain/{domain}"
    min_domain_days: Annotated[int, _at_least(1)] = 30


class Envelope(_Section, frozen=True, kw_only=True):
    """Which answers carry the contract's ``{success, data, meta}`` envelope."""

    # Routes (path prefixes) that answer bare JSON by design: read as if enveloped, so field
    # paths like data.status still hold, and never held to the envelope rule.
    bare_routes: list[str] = field(default_factory=list)


class Errors(_Section, frozen=True, kw_only=True):
    """How the service spells its error codes. Checks name a code by the contract's name
    (``not_found``, ``authentication_failed``, ``authorization_failed``, ``validation_error``,
    ``RATE_LIMIT_EXCEEDED``); ``codes`` maps a name to the service's own spelling."""

    # Compare codes exactly; by default "rate_limit_exceeded" is RATE_LIMIT_EXCEEDED.
    strict_case: bool = False
    codes: dict[str, str] = field(default_factory=dict)


class Reports(_Section, frozen=True, kw_only=True):
    # Runs kept per tier in reports/ (their HTML and JUnit files); older ones are removed.
    keep: Annotated[int, _at_least(1)] = 30


class Matrix(_Section, frozen=True, kw_only=True):
    # Relative to the folder pytest runs from (its rootdir).
    file: str = "checks/status_matrix.toml"
    # Single rows recorded here ([[matrix.row]], the file's keys): one with the same method,
    # path, caller and why as a row of the file replaces it; any other is added. Validated as
    # the file's rows are (config/matrix.py).
    row: list[dict[str, Any]] = field(default_factory=list)


class SuiteConfig(_Section, frozen=True, kw_only=True):
    target: Target = Target()
    http: Http = Http()
    safety: Safety = Safety()
    health: Health = Health()
    cors: Cors = Cors()
    budgets: Budgets = Budgets()
    routes: Routes = Routes()
    violet: Violet = Violet()
    database: Database = Database()
    cron: Cron = Cron()
    matrix: Matrix = Matrix()
    reports: Reports = Reports()
    security: Security = Security()
    tls: Tls = Tls()
    errors: Errors = Errors()
    envelope: Envelope = Envelope()
    perf: Perf = Perf()
    analytics: Analytics = Analytics()
    sentry: Sentry = Sentry()
    capacity: Capacity = Capacity()
    trends: Trends = Trends()
    clerk: Clerk = Clerk()
    baseline: Baseline = Baseline()
