"""The daily and weekly checks that read Cloudflare and Sentry: the windows they ask for, the
edges of their budgets, the figures they leave in the history, and how a failure lists what it
found. Cloudflare's GraphQL API and Sentry are local servers speaking their wire formats."""

from __future__ import annotations

import html
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from tests.fakes import FakeGraphQL, FakeSentry
from umbrella_checks import history

TRAFFIC = "checks/test_traffic.py"
CAPACITY = "checks/test_capacity.py"
TRENDS = "checks/test_trends.py"
SENTRY = "checks/test_sentry.py"


def _figures(suite_dir: Path) -> dict[str, float]:
    with sqlite3.connect(suite_dir / "reports" / "history.sqlite") as db:
        return {metric: value for metric, value in db.execute("SELECT metric, value FROM figures")}


def _near(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("tier", "period"),
    [
        pytest.param("daily", timedelta(days=1), id="daily-24h"),
        pytest.param("weekly", timedelta(days=7), id="weekly-7d"),
    ],
)
def test_traffic_compares_the_last_period_with_the_one_before(
    run_checks: RunChecks, cloudflare: FakeGraphQL, tier: str, period: timedelta
) -> None:
    """A drop is only a drop against the same length of time just before: this period ends now,
    the one before ends where it starts."""
    run_checks(TRAFFIC, "-m", tier)
    windows = [
        (start, end) for kind, start, end in cloudflare.windows if kind.startswith("workers")
    ]
    assert len(windows) == 2
    (this_start, this_end), (before_start, before_end) = windows
    now = datetime.now(UTC)
    assert _near(this_end, now)
    assert this_end - this_start == period
    assert before_end == this_start
    assert before_end - before_start == period


def test_capacity_reads_r2_storage_over_the_last_day(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    run_checks(CAPACITY, "-k", "r2")
    [(kind, start, end)] = cloudflare.windows
    assert kind == "r2StorageAdaptiveGroups"
    assert _near(end, datetime.now(UTC))
    assert end - start == timedelta(days=1)


@pytest.mark.parametrize(
    ("used", "verdict"),
    [
        pytest.param(8_000_000_000, "failed", id="at-80-percent-fails"),
        pytest.param(7_999_999_999, "passed", id="just-under-80-percent-passes"),
    ],
)
def test_capacity_alerts_from_80_percent_of_the_quota(
    run_checks: RunChecks, cloudflare: FakeGraphQL, used: int, verdict: str
) -> None:
    cloudflare.r2_bytes = used
    run = run_checks(CAPACITY, "-k", "r2")
    assert run.named(verdict) == ["test_r2_bucket_is_under_its_storage_quota"]


ERROR_RATE = ("error_rate", "test_worker_error_rate_is_under_budget[24h]")
VOLUME = ("volume", "test_request_volume_did_not_drop[24h]")


@pytest.mark.parametrize(
    ("check", "change", "verdict"),
    [
        pytest.param(ERROR_RATE, {"errors": 100}, "failed", id="error-rate-at-1-percent-fails"),
        pytest.param(ERROR_RATE, {"errors": 99}, "passed", id="error-rate-under-1-percent"),
        pytest.param(ERROR_RATE, {"requests": 1, "errors": 0}, "passed", id="one-request"),
        pytest.param(VOLUME, {"requests": 4500, "errors": 0}, "passed", id="half-of-before"),
        pytest.param(VOLUME, {"requests": 4499, "errors": 0}, "failed", id="under-half"),
    ],
)
def test_traffic_budget_edges(
    run_checks: RunChecks,
    cloudflare: FakeGraphQL,
    check: tuple[str, str],
    change: dict[str, int],
    verdict: str,
) -> None:
    """Error rate: under 1% passes, 1% fails; volume: half the period before still passes."""
    cloudflare.current = {**cloudflare.current, **change}
    run = run_checks(TRAFFIC, "-m", "daily", "-k", check[0])
    assert run.named(verdict) == [check[1]]


def test_no_requests_at_all_fails_naming_the_worker(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    cloudflare.current = {**cloudflare.current, "requests": 0, "errors": 0}
    run = run_checks(TRAFFIC, "-m", "daily", "-k", "error_rate")
    name = "test_worker_error_rate_is_under_budget[24h]"
    assert run.failed_names() == [name]
    assert "expected requests in the period, got none" in run.message_of(name)


def test_a_p90_just_over_500_ms_proves_the_p95_over(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    quantiles = {**cloudflare.current["quantiles"], "wallTimeP90": 500_200.0}
    quantiles["wallTimeP99"] = 900_000.0
    cloudflare.current = {**cloudflare.current, "quantiles": quantiles}
    run = run_checks(TRAFFIC, "-m", "daily", "-k", "latency")
    name = "test_worker_latency_is_under_target[24h]"
    assert run.failed_names() == [name]
    assert "expected P95 < 500 ms, got wallTimeP90 " in run.message_of(name)


def test_traffic_leaves_cpu_time_and_latency_bounds_in_milliseconds(
    run_checks: RunChecks, cloudflare: FakeGraphQL, suite_dir: Path
) -> None:
    run_checks(TRAFFIC, "-m", "daily", "-k", "latency")
    figures = {
        metric.split(" ", 1)[1]: value
        for metric, value in _figures(suite_dir).items()
        if "(ms)" in metric
    }
    # The fake's microseconds: CPU 1500/9000 µs; wall time P90 120 ms, P99 300 ms.
    assert figures["cpuTimeP50 (ms)"] == 1.5
    assert figures["cpuTimeP99 (ms)"] == 9.0
    assert figures["wallTimeP99 (ms)"] == 300.0


def test_traffic_records_no_cpu_figure_the_api_answered_null_for(
    run_checks: RunChecks, cloudflare: FakeGraphQL, suite_dir: Path
) -> None:
    quantiles = {**cloudflare.current["quantiles"], "cpuTimeP50": None}
    cloudflare.current = {**cloudflare.current, "quantiles": quantiles}
    run_checks(TRAFFIC, "-m", "daily", "-k", "latency")
    names = [metric.split(" ", 1)[1] for metric in _figures(suite_dir)]
    assert "cpuTimeP99 (ms)" in names
    assert "cpuTimeP50 (ms)" not in names


def _seed(path: Path, metric: str, weeks_ago_values: dict[int, float]) -> None:
    now = datetime.now(UTC)
    for weeks, value in weeks_ago_values.items():
        for day in range(3):
            at = now - timedelta(weeks=weeks, days=day, hours=1)
            history.append(path, at, "postdeploy", "sandbox", [(metric, value)])


def _report(suite_dir: Path) -> str:
    """The HTML report's text as a reader sees it (pytest-html keeps it as escaped JSON)."""
    raw = html.unescape((suite_dir / "reports" / "custom-latest.html").read_text())
    return raw.replace('\\"', '"').replace("\\u2013", "–")


def _red_charts(report: str) -> int:
    return report.count(f'<polyline fill="none" stroke="{history.BAD}"')


def test_a_figure_at_exactly_the_trend_limit_is_not_degraded(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    store = suite_dir / "reports" / "history.sqlite"
    _seed(store, "median GET /v1/artists (ms)", {2: 100.0, 1: 100.0, 0: 150.0})  # 1.5×
    run = run_checks(TRENDS)
    assert run.passed_names() == ["test_no_figure_degraded_week_over_week"]
    assert _red_charts(_report(suite_dir)) == 0


def test_only_the_degraded_figure_is_drawn_red_and_a_new_one_has_no_before(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    store = suite_dir / "reports" / "history.sqlite"
    _seed(store, "median GET /v1/artists (ms)", {2: 100.0, 1: 100.0, 0: 210.0})  # degraded
    _seed(store, "median GET /v1/profile (ms)", {2: 100.0, 1: 100.0, 0: 101.0})  # steady
    _seed(store, "users", {2: 100.0, 0: 400.0})  # growth: shown, never judged
    _seed(store, "median GET /v1/new (ms)", {0: 50.0})  # first week: nothing before
    run = run_checks(TRENDS)
    message = run.message_of("test_no_figure_degraded_week_over_week")
    assert "expected median GET /v1/artists (ms) [postdeploy] within 1.5×" in message
    assert "/v1/profile" not in message
    report = _report(suite_dir)
    assert _red_charts(report) == 1
    assert "<td>50</td><td>–</td>" in report


def _blocking(count: int) -> list[list[dict[str, object]]]:
    return [[FakeSentry.issue(f"D1_ERROR: no such table: t{n}") for n in range(count)], []]


@pytest.mark.parametrize(
    ("count", "listed", "more"),
    [
        pytest.param(5, 5, "", id="five-all-listed"),
        pytest.param(6, 5, "; and 1 more", id="six-five-listed-and-1-more"),
    ],
)
def test_a_sentry_failure_lists_five_issues_and_counts_the_rest(
    run_checks: RunChecks, sentry_api: FakeSentry, count: int, listed: int, more: str
) -> None:
    sentry_api.pages = _blocking(count)
    run = run_checks(SENTRY)
    message = run.message_of("test_no_new_critical_or_high_sentry_issues")
    assert f"got {count}: " in message
    assert message.count("[critical] D1_ERROR") == listed
    assert message.rstrip().endswith(f"https://sentry.example/i/1{more}")


def test_sentry_leaves_a_count_per_priority_in_the_history(
    run_checks: RunChecks, sentry_api: FakeSentry, suite_dir: Path
) -> None:
    sentry_api.pages = [
        [FakeSentry.issue("D1_ERROR: no such table: gigs"), FakeSentry.issue("HTTP 422 bad")],
        [FakeSentry.issue("Deprecated API used", level="warning")],
    ]
    run_checks(SENTRY, "-m", "daily")  # a tier's run: its figures join the history
    figures = _figures(suite_dir)
    assert figures["Sentry new issues: critical"] == 1
    assert figures["Sentry new issues: high"] == 0
    assert figures["Sentry new issues: medium"] == 1
    assert figures["Sentry new issues: low"] == 1
