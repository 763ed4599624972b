"""Cloudflare's GraphQL Analytics API: Workers invocations and R2 storage for a period.

Fields read, and why:
- ``workersInvocationsAdaptive.sum.requests`` / ``sum.errors``: the error rate. ``errors``
  counts invocations that did not succeed (exceptions, exceeded resources, internal errors) —
  the Worker-side 5xx; ``dimensions.status`` is an outcome, not an HTTP status, so it is not used.
- ``sum.requests`` of the previous period of the same length: the runbook's "sudden drop".
- Wall-time quantiles that introspection of ``AccountWorkersInvocationsAdaptiveQuantiles``
  shows ([analytics] latency_fields; the public schema has ``wallTimeP50/P75/P90/P99/P999``, no
  P95). The P95 is judged by bounds (``p95_bounds``): the nearest quantile at or below 95 and
  the nearest at or above it. ``cpuTimeP50`` / ``cpuTimeP99`` are CPU time, not latency, and
  are reported but not judged. A null quantile is "could not check", never 0.
- ``r2StorageAdaptiveGroups.max.payloadSize`` + ``metadataSize``: bytes stored in a bucket.
GraphQL answers 200 with an ``errors`` array on bad queries or permissions: that is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.secrets import Secret
from umbrella_checks.services.external import ReadOnlyService
from umbrella_checks.transport import RequestCounter

QUANTILES_TYPE = "AccountWorkersInvocationsAdaptiveQuantiles"

INVOCATIONS = """
query Invocations($account: String!, $script: String!, $from: Time!, $to: Time!) {
  viewer { accounts(filter: {accountTag: $account}) {
    workersInvocationsAdaptive(limit: 10000, filter: {scriptName: $script,
        datetime_geq: $from, datetime_leq: $to}) {
      sum { requests errors subrequests }
      quantiles { %s }
    }
  } }
}
"""

R2_STORAGE = """
query R2Storage($account: String!, $bucket: String!, $from: Time!, $to: Time!) {
  viewer { accounts(filter: {accountTag: $account}) {
    r2StorageAdaptiveGroups(limit: 1, filter: {bucketName: $bucket,
        datetime_geq: $from, datetime_leq: $to}) {
      max { payloadSize metadataSize objectCount }
    }
  } }
}
"""


AUTH_FAILURES = """
query AuthFailures($zone: String!, $from: Time!, $to: Time!) {
  viewer { zones(filter: {zoneTag: $zone}) {
    total: httpRequestsAdaptiveGroups(limit: 1, filter: {datetime_geq: $from, datetime_leq: $to}) {
      count
    }
    refused: httpRequestsAdaptiveGroups(limit: 1000, filter: {datetime_geq: $from,
        datetime_leq: $to, edgeResponseStatus_in: [401, 403]}) {
      count
      dimensions { edgeResponseStatus clientCountryName clientRequestPath }
    }
  } }
}
"""


@dataclass(frozen=True)
class AuthFailures:
    """401/403 answers at the zone's edge in a period, and where they came from."""

    requests: int
    refused: int
    by_country: dict[str, int]
    by_path: dict[str, int]

    @property
    def rate(self) -> float:
        return self.refused / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Invocations:
    requests: int
    errors: int
    # Microseconds; None where the API answered null for a field it was asked for.
    quantiles: dict[str, float | None]


_QUANTILE = re.compile(r"P(\d+)$")


def quantile_of(name: str) -> float | None:
    """``wallTimeP95`` → 95, ``wallTimeP999`` → 99.9; None for a name without one."""
    found = _QUANTILE.search(name)
    if not found:
        return None
    digits = found.group(1)
    return float(digits[:2] + "." + digits[2:]) if len(digits) > 2 else float(digits)


@dataclass(frozen=True)
class P95Bounds:
    """What the offered quantiles prove about the P95: ``lower`` ≤ P95 ≤ ``upper`` (each the
    quantile's name and its value in ms, or None where no such quantile is offered)."""

    lower: tuple[str, float] | None
    upper: tuple[str, float] | None

    def verdict(self, budget_ms: float) -> bool | None:
        """True: P95 within budget is proven; False: over budget is proven; None: neither."""
        # Over budget first: quantiles that contradict each other never make a pass.
        if self.lower is not None and self.lower[1] >= budget_ms:
            return False
        if self.upper is not None and self.upper[1] < budget_ms:
            return True
        return None

    def describe(self) -> str:
        # One decimal, so a P90 of 500.2 ms never reads as a budget of 500 ms met.
        shown = [f"{b[0]} {round(b[1], 1):g} ms" for b in (self.lower, self.upper) if b is not None]
        return ", ".join(dict.fromkeys(shown)) or "no wall-time quantile"


def p95_bounds(quantiles: dict[str, float | None], fields: list[str]) -> P95Bounds:
    """The tightest bounds on the P95 that the quantiles ``fields`` give (µs in, ms out).
    A field asked for whose value is null raises CouldNotCheck: a missing number is never 0."""
    below: list[tuple[float, str, float]] = []
    above: list[tuple[float, str, float]] = []
    for name in fields:
        q = quantile_of(name)
        if q is None or name not in quantiles:
            continue
        value = quantiles[name]
        if value is None:
            raise CouldNotCheck(f"the Cloudflare GraphQL API answered null for {name}")
        entry = (q, name, value / 1000)
        if q <= 95:
            below.append(entry)
        if q >= 95:
            above.append(entry)
    lower = max(below) if below else None
    upper = min(above) if above else None
    return P95Bounds(
        (lower[1], lower[2]) if lower else None, (upper[1], upper[2]) if upper else None
    )


class GraphQL:
    def __init__(
        self, api_base: str, account: str, token: Secret, http: Http, counter: RequestCounter
    ) -> None:
        self.url = f"{api_base.rstrip('/')}/graphql"
        self.account = account
        self.service = ReadOnlyService("the Cloudflare GraphQL API", token, http, counter)

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer (which reports errors with HTTP 200)."""
        what = self.service.what
        response = self.service.call(
            "POST", self.url, json={"query": query, "variables": variables}
        )
        body = self.service.json_of(response)
        if not isinstance(body, dict):
            raise CouldNotCheck(f"{what} answered something other than a JSON object")
        errors = body.get("errors")
        if errors:
            first = errors[0].get("message", errors[0]) if isinstance(errors, list) else errors
            raise CouldNotCheck(f"{what} returned errors: {first}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise CouldNotCheck(f"{what} answered without data")
        return data

    def quantile_fields(self) -> list[str]:
        data = self.query(f'{{ __type(name: "{QUANTILES_TYPE}") {{ fields {{ name }} }} }}', {})
        found = (data.get("__type") or {}).get("fields") or []
        return [str(field["name"]) for field in found if isinstance(field, dict)]

    def _accounts(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(data["viewer"]["accounts"][0])
        except (KeyError, IndexError, TypeError):
            raise CouldNotCheck(
                f"no analytics for account {self.account} (wrong account id?)"
            ) from None

    def invocations(
        self, script: str, start: datetime, end: datetime, quantiles: list[str]
    ) -> Invocations:
        query = INVOCATIONS % (" ".join(quantiles) or "cpuTimeP50")
        data = self.query(
            query,
            {
                "account": self.account,
                "script": script,
                "from": start.isoformat(),
                "to": end.isoformat(),
            },
        )
        groups = self._accounts(data).get("workersInvocationsAdaptive") or []
        requests = sum(int(g["sum"]["requests"]) for g in groups)
        errors = sum(int(g["sum"]["errors"]) for g in groups)
        merged: dict[str, float | None] = {}
        for group in groups:
            for name, value in (group.get("quantiles") or {}).items():
                if value is None:
                    merged.setdefault(name, None)
                else:
                    merged[name] = max(merged.get(name) or 0.0, float(value))
        return Invocations(requests, errors, merged)

    def r2_bytes(self, bucket: str, start: datetime, end: datetime) -> int | None:
        data = self.query(
            R2_STORAGE,
            {
                "account": self.account,
                "bucket": bucket,
                "from": start.isoformat(),
                "to": end.isoformat(),
            },
        )
        groups = self._accounts(data).get("r2StorageAdaptiveGroups") or []
        if not groups:
            return None
        peak = groups[0]["max"]
        return int(peak.get("payloadSize") or 0) + int(peak.get("metadataSize") or 0)

    def auth_failures(self, zone: str, start: datetime, end: datetime) -> AuthFailures:
        data = self.query(
            AUTH_FAILURES, {"zone": zone, "from": start.isoformat(), "to": end.isoformat()}
        )
        try:
            found = data["viewer"]["zones"][0]
        except (KeyError, IndexError, TypeError):
            raise CouldNotCheck(f"no HTTP analytics for zone {zone} (wrong zone id?)") from None
        requests = sum(int(g.get("count") or 0) for g in found.get("total") or [])
        by_country: dict[str, int] = {}
        by_path: dict[str, int] = {}
        refused = 0
        for group in found.get("refused") or []:
            count = int(group.get("count") or 0)
            dims = group.get("dimensions") or {}
            refused += count
            country = str(dims.get("clientCountryName") or "unknown")
            path = str(dims.get("clientRequestPath") or "unknown")
            by_country[country] = by_country.get(country, 0) + count
            by_path[path] = by_path.get(path, 0) + count
        return AuthFailures(requests, refused, by_country, by_path)
