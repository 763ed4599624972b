"""Runbook › Morning Health Check 2 (Check Cloudflare Analytics: past 24 h) and Weekly Review ›
Performance Analysis (7 days): request count, error rate < 1%, P95 < 500 ms, sudden drops.

Read from Cloudflare's GraphQL Analytics API for the Worker named in wrangler.toml.
"""

from datetime import datetime, timedelta

import pytest

from umbrella_checks.api import (
    Figures,
    GraphQL,
    Invocations,
    Settings,
    cannot_judge,
    fail,
    p95_bounds,
    saw,
)

PERIODS = [
    pytest.param(timedelta(days=1), id="24h", marks=pytest.mark.daily),
    pytest.param(timedelta(days=7), id="7d", marks=pytest.mark.weekly),
]

# SEV-2 unless a check declares its own (runbook › Incident Response).
pytestmark = [pytest.mark.severity("SEV-2")]


@pytest.fixture(params=PERIODS, scope="module")
def period(request: pytest.FixtureRequest) -> timedelta:
    value: timedelta = request.param
    return value


@pytest.fixture(scope="module")
def quantile_fields(graphql: GraphQL, settings: Settings) -> list[str]:
    offered = graphql.quantile_fields()
    wanted = [*settings.config.analytics.latency_fields, "cpuTimeP50", "cpuTimeP99"]
    return [name for name in wanted if name in offered]


@pytest.fixture(scope="module")
def traffic(
    graphql: GraphQL, worker_script: str, period: timedelta, quantile_fields: list[str]
) -> tuple[Invocations, Invocations]:
    """This period and the one before it, of the same length."""
    end = datetime.now().astimezone().replace(microsecond=0)
    this = graphql.invocations(worker_script, end - period, end, quantile_fields)
    before = graphql.invocations(worker_script, end - 2 * period, end - period, quantile_fields)
    return this, before


def test_worker_error_rate_is_under_budget(
    traffic: tuple[Invocations, Invocations],
    settings: Settings,
    worker_script: str,
    figures: Figures,
) -> None:
    """Runbook: error rate < 1% (alert > 5%)."""
    this, _ = traffic
    if this.requests == 0:
        fail(
            f"Cloudflare analytics for {worker_script}: expected requests in the period, got "
            "none (wrong worker name, or the Worker receives no traffic)"
        )
    rate = this.errors / this.requests
    figures.record(f"{worker_script} error rate", round(rate, 5))
    budget = settings.config.budgets.error_rate
    if rate >= budget:
        fail(
            f"Cloudflare analytics for {worker_script}: expected error rate < {budget:.0%}, got "
            f"{rate:.2%} ({this.errors} of {this.requests} invocations); see Sentry and "
            "Common Issues › Issue 6"
        )
    saw(
        f"{worker_script} error rate",
        f"{rate:.2%} ({this.errors} of {this.requests} invocations)",
        f"expected < {budget:.0%}",
    )


def test_request_volume_did_not_drop(
    traffic: tuple[Invocations, Invocations],
    settings: Settings,
    worker_script: str,
    figures: Figures,
) -> None:
    """Runbook alert: "Worker Requests: sudden drop (< 50% of normal)"."""
    this, before = traffic
    figures.record(f"{worker_script} requests", this.requests)
    floor = settings.config.analytics.volume_drop
    if not before.requests:
        cannot_judge(
            f"{worker_script} had no requests in the previous period to compare with "
            f"({this.requests} in this one)"
        )
    if this.requests < before.requests * floor:
        fail(
            f"Cloudflare analytics for {worker_script}: expected at least {floor:.0%} of the "
            f"previous period's {before.requests} requests, got {this.requests} "
            f"({this.requests / before.requests:.0%}): clients may be failing before reaching "
            "the Worker (DNS, routes, a broken web app)"
        )
    saw(
        f"{worker_script} requests",
        f"{this.requests} ({this.requests / before.requests:.0%} of the previous period's "
        f"{before.requests})",
        f"expected at least {floor:.0%}",
    )


def test_worker_latency_is_under_target(
    traffic: tuple[Invocations, Invocations],
    quantile_fields: list[str],
    settings: Settings,
    worker_script: str,
    figures: Figures,
) -> None:
    """Runbook: P95 < 500 ms — by bounds from the wall-time quantiles the API really offers:
    a P99 under budget proves the P95 is; a P50 (or P75, P90) over it proves it is not."""
    this, _ = traffic
    for name in ("cpuTimeP50", "cpuTimeP99"):
        value = this.quantiles.get(name)
        if value is not None:
            figures.record(f"{worker_script} {name} (ms)", round(value / 1000, 2))
    bounds = p95_bounds(this.quantiles, settings.config.analytics.latency_fields)
    for name, milliseconds in filter(None, (bounds.lower, bounds.upper)):
        figures.record(f"{worker_script} {name} (ms)", round(milliseconds, 1))
    target = settings.config.budgets.overall_p95 * 1000
    verdict = bounds.verdict(target)
    if verdict is False:
        fail(
            f"Cloudflare analytics for {worker_script}: expected P95 < {target:.0f} ms, got "
            f"{bounds.describe()} (the P95 is at least the lower one); see Common Issues › "
            "Issue 2 (High Latency)"
        )
    if verdict is None:
        cannot_judge(
            f"the P95 of {worker_script} is neither proven under {target:.0f} ms nor over it "
            f"by the quantiles the GraphQL API offers ({bounds.describe()}); client-side P95 is "
            "the release gate's job (tox -e perf)"
        )
    saw(f"{worker_script} P95", bounds.describe(), f"expected < {target:.0f} ms")
