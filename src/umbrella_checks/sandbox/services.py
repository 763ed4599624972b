"""The outside services the daily and weekly tiers read, as the sandbox plays them: Cloudflare's
GraphQL Analytics API, Sentry's issues API, and a Slack incoming webhook — on their documented
wire formats (../shared/external-apis.md), with state a fault switch (or a self-test) changes.

One implementation: the sandbox serves these under its own URL (``/client/v4/graphql``,
``/api/0/…``, ``/services/…``), and the self-tests' local servers (``tests/fakes.py``) answer
with the same objects. No HTTP here: each answers a request's parts with (status, body,
headers).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Traffic:
    """Cloudflare's ``POST /client/v4/graphql``: Workers invocations, R2 storage and the zone's
    HTTP requests, for the window the variables ask."""

    # The fields the public schema offers for quantiles (no P95): microseconds.
    quantile_fields: list[str] = field(
        default_factory=lambda: [
            "cpuTimeP50",
            "cpuTimeP99",
            "wallTimeP50",
            "wallTimeP75",
            "wallTimeP90",
            "wallTimeP99",
            "wallTimeP999",
        ]
    )
    current: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": 10_000,
            "errors": 20,
            "quantiles": {
                "cpuTimeP50": 1500.0,
                "cpuTimeP99": 9000.0,
                "wallTimeP50": 40_000.0,
                "wallTimeP75": 70_000.0,
                "wallTimeP90": 120_000.0,
                "wallTimeP99": 300_000.0,
                "wallTimeP999": 900_000.0,
            },
        }
    )
    previous: dict[str, Any] = field(
        default_factory=lambda: {"requests": 9_000, "errors": 10, "quantiles": {}}
    )
    r2_bytes: int = 2_000_000_000
    # Zone HTTP analytics: (requests, [(status, country, path, count)]) per period.
    auth_current: tuple[int, list[tuple[int, str, str, int]]] = (
        100_000,
        [(401, "PT", "/v1/profile", 150), (403, "DE", "/v1/admin/stats", 20)],
    )
    auth_previous: tuple[int, list[tuple[int, str, str, int]]] = (
        90_000,
        [(401, "PT", "/v1/profile", 140)],
    )
    # What was asked, for self-tests: each query, its variables, and each window by dataset.
    queries: list[str] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)
    windows: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    # "graphql-errors": GraphQL's own 200 with an errors array.
    refusing: bool = False

    def respond(self, body: dict[str, Any]) -> Answer:
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        self.queries.append(query)
        self.variables.append(variables)
        if "from" in variables and "to" in variables:
            dataset = re.search(r"(\w+AdaptiveGroups|workersInvocationsAdaptive)", query)
            self.windows.append(
                (
                    dataset.group(1) if dataset else "?",
                    datetime.fromisoformat(variables["from"]),
                    datetime.fromisoformat(variables["to"]),
                )
            )
        if self.refusing:
            refusal = {"message": "not authorized for that account", "path": ["viewer"]}
            return 200, {"data": None, "errors": [refusal]}, {}
        if "__type" in query:
            return (
                200,
                {"data": {"__type": {"fields": [{"name": n} for n in self.quantile_fields]}}},
                {},
            )
        if "r2StorageAdaptiveGroups" in query:
            groups = [{"max": {"payloadSize": self.r2_bytes, "metadataSize": 0, "objectCount": 10}}]
            return (
                200,
                {"data": {"viewer": {"accounts": [{"r2StorageAdaptiveGroups": groups}]}}},
                {},
            )
        to = datetime.fromisoformat(variables["to"])
        recent = datetime.now(to.tzinfo) - to < timedelta(minutes=5)
        if "httpRequestsAdaptiveGroups" in query:
            return 200, self._zone(variables, to, recent), {}
        return self._invocations(query, recent)

    def _zone(self, variables: dict[str, Any], to: datetime, recent: bool) -> dict[str, Any]:
        """Zone analytics by the window asked for: this week, the week before, or a window
        nothing was recorded in."""
        start = datetime.fromisoformat(variables["from"])
        week, slack = timedelta(days=7), timedelta(minutes=5)
        if recent and abs(to - start - week) < slack:
            total, refused = self.auth_current
        elif abs(datetime.now(to.tzinfo) - week - to) < slack and abs(to - start - week) < slack:
            total, refused = self.auth_previous
        else:
            total, refused = 0, []
        zone = {
            "total": [{"count": total}],
            "refused": [
                {
                    "count": count,
                    "dimensions": {
                        "edgeResponseStatus": status,
                        "clientCountryName": country,
                        "clientRequestPath": path,
                    },
                }
                for status, country, path, count in refused
            ],
        }
        return {"data": {"viewer": {"zones": [zone]}}}

    def _invocations(self, query: str, recent: bool) -> Answer:
        period = self.current if recent else self.previous
        asked = re.search(r"quantiles \{([^}]*)\}", query)
        names = asked.group(1).split() if asked else []
        unknown = [name for name in names if name not in self.quantile_fields]
        if unknown:  # as GraphQL does: a field the type does not have is an error
            return 200, {"data": None, "errors": [{"message": f"unknown field {unknown[0]!r}"}]}, {}
        offered: dict[str, float | None] = period["quantiles"]
        group = {
            "sum": {"requests": period["requests"], "errors": period["errors"], "subrequests": 0},
            "quantiles": {name: offered.get(name) for name in names},
        }
        return (
            200,
            {"data": {"viewer": {"accounts": [{"workersInvocationsAdaptive": [group]}]}}},
            {},
        )


@dataclass
class Issues:
    """Sentry's ``GET /api/0/organizations/{org}/issues/`` with Link-header pagination, and the
    project lookup ``GET /api/0/projects/{org}/{slug}/``."""

    org: str = "umbrella"
    project: str = "42"
    slug: str = "umbrella-api"
    pages: list[list[dict[str, Any]]] = field(default_factory=lambda: [[], []])
    queries: list[str] = field(default_factory=list)
    project_id: str = ""

    def __post_init__(self) -> None:
        self.project_id = self.project_id or self.project

    @staticmethod
    def issue(title: str, level: str = "error", culprit: str = "worker.ts") -> dict[str, Any]:
        return {
            "title": title,
            "culprit": culprit,
            "level": level,
            "count": "3",
            "firstSeen": "2026-11-26T01:00:00Z",
            "permalink": "https://sentry.example/i/1",
            "metadata": {},
        }

    def respond(self, path: str, root: str) -> Answer:
        self.queries.append(path)
        if path == f"/api/0/projects/{self.org}/{self.slug}/":
            return 200, {"id": self.project_id, "slug": self.slug}, {}
        if not path.startswith(f"/api/0/organizations/{self.org}/issues/"):
            return 404, {"detail": "not found"}, {}
        page = 1 if "cursor=page2" in path else 0
        base = f"{root}/api/0/organizations/{self.org}/issues/"
        more = "true" if page == 0 else "false"
        link = (
            f'<{base}?cursor=page0>; rel="previous"; results="false"; cursor="page0", '
            f'<{base}?cursor=page2>; rel="next"; results="{more}"; cursor="page2"'
        )
        return 200, self.pages[page], {"Link": link}


@dataclass
class Services:
    """The sandbox's outside services and the credentials it hands the suite for them (fresh
    each start: nothing to leak, nothing to reuse)."""

    traffic: Traffic = field(default_factory=Traffic)
    issues: Issues = field(default_factory=Issues)
    cloudflare_token: str = field(default_factory=lambda: f"sbx-cf-{secrets.token_hex(12)}")
    sentry_token: str = field(default_factory=lambda: f"sbx-sentry-{secrets.token_hex(12)}")
    slack_path: str = field(
        default_factory=lambda: f"/services/TSANDBOX/BSANDBOX/{secrets.token_hex(12)}"
    )
    account: str = "sandbox-account"
    zone: str = "sandbox-zone"
    # Texts the sandbox's Slack webhook took.
    slack_posts: list[str] = field(default_factory=list)
    # Faults on the services themselves: down (502), refusing the token (401).
    down: set[str] = field(default_factory=set)

    def describe(self, root: str) -> dict[str, str]:
        """What the suite needs to read these services as it reads the real ones."""
        return {
            "cloudflare_api": f"{root}/client/v4",
            "cloudflare_token": self.cloudflare_token,
            "cloudflare_account": self.account,
            "cloudflare_zone": self.zone,
            "sentry_url": root,
            "sentry_token": self.sentry_token,
            "sentry_org": self.issues.org,
            "sentry_project": self.issues.project,
            "slack_webhook": f"{root}{self.slack_path}",
        }

    def serves(self, path: str) -> bool:
        return path.startswith(("/client/v4/", "/api/0/", "/services/"))

    def respond(self, method: str, path: str, authorization: str, body: Any, root: str) -> Answer:
        """Answer a request for one of the services, as the service would."""
        if path.startswith("/services/"):
            if method != "POST" or path != self.slack_path:
                return 404, "no_service", {"Content-Type": "text/plain"}
            self.slack_posts.append(str((body or {}).get("text", "")))
            return 200, "ok", {"Content-Type": "text/plain"}
        service = "cloudflare" if path.startswith("/client/v4/") else "sentry"
        if service in self.down:
            return 502, "<html>502 Bad Gateway</html>", {"Content-Type": "text/html"}
        token = self.cloudflare_token if service == "cloudflare" else self.sentry_token
        if authorization != f"Bearer {token}":
            return 401, {"errors": [{"message": "Invalid access token"}]}, {}
        if service == "cloudflare":
            if path != "/client/v4/graphql":
                return 404, {"errors": [{"message": "not found"}]}, {}
            return self.traffic.respond(body or {})
        return self.issues.respond(path, root)


def shape_services(services: Services, faults: Any) -> None:
    """The services as the fault switches say (``Faults``; healthy without any)."""
    fresh = Traffic()
    traffic = services.traffic
    traffic.current, traffic.previous = fresh.current, fresh.previous
    traffic.r2_bytes, traffic.auth_current = fresh.r2_bytes, fresh.auth_current
    share = faults.value("traffic-errors")
    if share is not None:
        traffic.current = {
            **traffic.current,
            "errors": int(traffic.current["requests"] * share / 100),
        }
    if "traffic-drop" in faults:
        traffic.current = {**traffic.current, "requests": 3_000, "errors": 6}
    if "traffic-slow" in faults:
        slow = {"wallTimeP90": 800_000.0, "wallTimeP99": 3_000_000.0, "wallTimeP999": 5_000_000.0}
        traffic.current = {**traffic.current, "quantiles": {**traffic.current["quantiles"], **slow}}
    if "r2-full" in faults:
        traffic.r2_bytes = 9_500_000_000
    if "auth-failures-surge" in faults:
        traffic.auth_current = (100_000, [(401, "RU", "/v1/profile", 5_000)])
    critical = Issues.issue("D1_ERROR: no such table: gigs", culprit="db.ts")
    services.issues.pages = [[critical], []] if "sentry-critical" in faults else [[], []]
    services.down = {name for name in ("cloudflare", "sentry") if f"{name}-down" in faults}
