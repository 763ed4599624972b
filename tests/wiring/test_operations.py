"""Daily and weekly tiers against local servers speaking the GraphQL, Sentry and Slack formats;
trends over a seeded history; the consecutive-failure alert rule; the incident draft."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from tests.fakes import FakeGraphQL, FakeSentry, SlackHook
from umbrella_checks import history
from umbrella_checks.config.suite import Sentry
from umbrella_checks.sandbox import Sandbox, parse_faults
from umbrella_checks.services import sentry

TRAFFIC = "checks/test_traffic.py"
ERROR_ANSWERS = [
    pytest.param("bad-token", "refused the token in CLOUDFLARE_API_TOKEN (HTTP 401)", id="401"),
    pytest.param("rate-limited", "rate limiting (HTTP 429, Retry-After: 30 s)", id="429"),
    pytest.param("server-error", "failed (HTTP 502)", id="5xx"),
    pytest.param("malformed", "with malformed JSON", id="malformed-json"),
]


def test_traffic_passes_on_healthy_analytics(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    run = run_checks(TRAFFIC)
    assert run.passed_names() == [
        "test_request_volume_did_not_drop[24h]",
        "test_request_volume_did_not_drop[7d]",
        "test_worker_error_rate_is_under_budget[24h]",
        "test_worker_error_rate_is_under_budget[7d]",
        # The public schema's fields (no P95): a P99 of 300 ms proves the P95 under 500 ms.
        "test_worker_latency_is_under_target[24h]",
        "test_worker_latency_is_under_target[7d]",
    ]
    assert any("__type" in q for q in cloudflare.queries)
    assert any("scriptName: $script" in q for q in cloudflare.queries)


@pytest.mark.parametrize(
    ("change", "failing", "fragment"),
    [
        pytest.param(
            {"errors": 300},
            "test_worker_error_rate_is_under_budget",
            "expected error rate < 1%, got 3.00% (300 of 10000",
            id="error-rate",
        ),
        pytest.param(
            {"requests": 3000, "errors": 0},
            "test_request_volume_did_not_drop",
            "expected at least 50% of the previous period's 9000 requests, got 3000",
            id="volume-drop",
        ),
        pytest.param(
            {"quantiles": {"wallTimeP95": 850_000.0}},
            "test_worker_latency_is_under_target",
            "expected P95 < 500 ms, got wallTimeP95 850 ms",
            id="latency-p95",
        ),
        pytest.param(
            {"quantiles": {"wallTimeP90": 600_000.0, "wallTimeP99": 900_000.0}},
            "test_worker_latency_is_under_target",
            "expected P95 < 500 ms, got wallTimeP90 600 ms",
            id="latency-p90-over-proves-p95-over",
        ),
        pytest.param(
            {"quantiles": {"wallTimeP50": None}},
            "test_worker_latency_is_under_target",
            "could not check: the Cloudflare GraphQL API answered null for wallTimeP50",
            id="null-quantile-is-not-zero",
        ),
    ],
)
def test_traffic_checks_fail_on_their_finding(
    run_checks: RunChecks,
    cloudflare: FakeGraphQL,
    change: dict[str, object],
    failing: str,
    fragment: str,
) -> None:
    changed: dict[str, float | None] = change.get("quantiles", {})  # type: ignore[assignment]
    quantiles = {**cloudflare.current["quantiles"], **changed}
    cloudflare.current = {**cloudflare.current, **change, "quantiles": quantiles}
    if "wallTimeP95" in changed:  # where the schema offers one, it decides alone
        cloudflare.quantile_fields = [*cloudflare.quantile_fields, "wallTimeP95"]
    run = run_checks(TRAFFIC, "-m", "daily")
    assert run.failed_names() == [f"{failing}[24h]"]
    assert fragment in run.message_of(f"{failing}[24h]")


@pytest.mark.parametrize(
    ("offered", "quantiles"),
    [
        pytest.param(
            ["wallTimeP50", "wallTimeP99"],
            {"wallTimeP50": 100_000.0, "wallTimeP99": 900_000.0},
            id="p50-under-p99-over",
        ),
        pytest.param(["cpuTimeP50", "cpuTimeP99"], {}, id="cpu-time-only"),
    ],
)
def test_latency_the_quantiles_cannot_bound_is_cannot_judge(
    run_checks: RunChecks,
    cloudflare: FakeGraphQL,
    offered: list[str],
    quantiles: dict[str, float],
) -> None:
    cloudflare.quantile_fields = ["cpuTimeP50", "cpuTimeP99", *offered]
    cloudflare.current = {**cloudflare.current, "quantiles": {"cpuTimeP50": 1.0, **quantiles}}
    name = "test_worker_latency_is_under_target[24h]"
    run = run_checks(TRAFFIC, "-m", "daily", "-k", "latency")
    assert run.skipped_names() == [name]
    assert "cannot judge: the P95 of" in run.message_of(name)
    strict = run_checks(TRAFFIC, "-m", "daily", "-k", "latency", "--umbrella-strict-skips")
    assert strict.failed_names() == [name]


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        *ERROR_ANSWERS,
        pytest.param("graphql-errors", "returned errors: not authorized", id="200-with-errors"),
    ],
)
def test_graphql_outages_are_could_not_check(
    run_checks: RunChecks, cloudflare: FakeGraphQL, mode: str, fragment: str
) -> None:
    cloudflare.mode = mode
    run = run_checks(TRAFFIC, "-m", "daily")
    assert run.passed_names() == []
    for name in run.failed_names():
        message = run.message_of(name)
        assert "could not check: " in message
        assert fragment in message
        assert FakeGraphQL.TOKEN not in message
        assert "Traceback" not in message


def test_sentry_classifies_across_pages_and_fails_on_critical(
    run_checks: RunChecks, sentry_api: FakeSentry, suite_dir: Path
) -> None:
    sentry_api.pages = [
        [
            FakeSentry.issue("D1_ERROR: no such table: gigs"),
            FakeSentry.issue("HTTP 422 validation failed"),
        ],
        [
            FakeSentry.issue("Deprecated API used", level="warning"),
            FakeSentry.issue("TypeError: cannot read properties of undefined"),
        ],
    ]
    run = run_checks("checks/test_sentry.py")
    message = run.message_of("test_no_new_critical_or_high_sentry_issues")
    assert "expected no new critical or high issues in 24 h, got 2" in message
    assert (
        "[critical] D1_ERROR: no such table: gigs (worker.ts, 3 events) https://sentry.example/i/1"
        in message
    )
    assert "[high] TypeError" in message
    assert len(sentry_api.queries) == 2  # followed the Link header's next cursor once
    assert "firstSeen%3A-24h" in sentry_api.queries[0]
    assert "environment=development" in sentry_api.queries[0]
    html = (suite_dir / "reports" / "custom-latest.html").read_text()
    assert "[medium] HTTP 422 validation failed" in html
    assert "[low] Deprecated API used" in html


def test_sentry_passes_with_only_medium_and_low(
    run_checks: RunChecks, sentry_api: FakeSentry
) -> None:
    sentry_api.pages = [
        [FakeSentry.issue("HTTP 403 on /v1/admin")],
        [FakeSentry.issue("HTTP 404 on /v1/x"), FakeSentry.issue("slow", "warning")],
    ]
    run = run_checks("checks/test_sentry.py")
    assert run.passed_names() == ["test_no_new_critical_or_high_sentry_issues"]


@pytest.mark.parametrize(
    ("title", "level", "priority"),
    [
        pytest.param("HTTP 401: jwt expired", "error", "low", id="expired-jwt-401-is-noise"),
        pytest.param("GET /v1/x 404 not found", "error", "low", id="404-is-noise"),
        pytest.param("D1_ERROR: no such table: gigs", "error", "critical", id="d1-error"),
        pytest.param("Clerk: authentication failed", "error", "critical", id="auth"),
        pytest.param("postgresql-style cast failed", "error", "high", id="sql-only-whole-word"),
        pytest.param("HTTP 422 validation failed", "error", "medium", id="422-medium"),
    ],
)
def test_sentry_priorities_follow_the_runbook(title: str, level: str, priority: str) -> None:
    assert sentry.classify(sentry.Issue.of({"title": title, "level": level}), Sentry()) == priority


def test_a_sentry_project_slug_is_resolved_to_its_id(
    run_checks: RunChecks, sentry_api: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_PROJECT", FakeSentry.SLUG)
    run = run_checks("checks/test_sentry.py")
    assert run.passed_names() == ["test_no_new_critical_or_high_sentry_issues"]
    assert f"project={FakeSentry.PROJECT}" in sentry_api.queries[1]


def test_a_sentry_slug_without_a_numeric_id_is_could_not_check(
    run_checks: RunChecks, sentry_api: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_PROJECT", FakeSentry.SLUG)
    sentry_api.project_id = "umbrella-api"
    run = run_checks("checks/test_sentry.py")
    assert run.message_of("test_no_new_critical_or_high_sentry_issues") == (
        "could not check: the Sentry API has no numeric id for project umbrella/umbrella-api"
    )


@pytest.mark.parametrize(("mode", "fragment"), ERROR_ANSWERS)
def test_sentry_outages_are_could_not_check(
    run_checks: RunChecks, sentry_api: FakeSentry, mode: str, fragment: str
) -> None:
    sentry_api.mode = mode
    run = run_checks("checks/test_sentry.py")
    message = run.message_of("test_no_new_critical_or_high_sentry_issues")
    assert "could not check: the Sentry API" in message
    assert fragment.replace("CLOUDFLARE_API_TOKEN", "SENTRY_AUTH_TOKEN") in message
    assert FakeSentry.TOKEN not in message


def test_missing_credentials_skip_and_strict_skips_fails(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    """A real target, and no credentials for the services it is read through (a sandbox run
    would read the sandbox's own)."""
    target = sandbox_server().url
    run = run_checks(
        TRAFFIC,
        "checks/test_sentry.py",
        "-m",
        "daily",
        "--umbrella-environment=development",
        target=target,
    )
    assert "set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID" in run.message_of(
        "test_worker_error_rate_is_under_budget[24h]"
    )
    assert "set SENTRY_AUTH_TOKEN, SENTRY_ORG, SENTRY_PROJECT" in run.message_of(
        "test_no_new_critical_or_high_sentry_issues"
    )
    strict = run_checks(
        TRAFFIC,
        "checks/test_sentry.py",
        "-m",
        "daily",
        "--umbrella-strict-skips",
        "--umbrella-environment=development",
        target=target,
    )
    assert strict.ret == 1
    # One failure per missing credential; the other checks it kept from judging name it.
    assert strict.failed_names() == [
        "test_no_new_critical_or_high_sentry_issues",
        "test_worker_error_rate_is_under_budget[24h]",
    ]
    for name in strict.skipped_names():
        assert "in test_worker_error_rate_is_under_budget[24h]" in strict.message_of(name)


def test_capacity_fails_at_80_percent_of_quota(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    cloudflare.r2_bytes = 9_000_000_000
    run = run_checks("checks/test_capacity.py", config='[capacity]\nd1_quota = "70KB"\n')
    assert run.failed_names() == [
        "test_d1_database_is_under_its_size_quota",
        "test_r2_bucket_is_under_its_storage_quota",
    ]
    assert (
        "R2 bucket umbrella-sandbox: expected under 80% of the 10 GB quota, got 9.00 GB (90%)"
        in (run.message_of("test_r2_bucket_is_under_its_storage_quota"))
    )


def _seed(path: Path, metric: str, weeks_ago_values: dict[int, float]) -> None:
    now = datetime.now(UTC)
    for weeks, value in weeks_ago_values.items():
        for day in range(3):
            history.append(
                path,
                now - timedelta(weeks=weeks, days=day, hours=1),
                "postdeploy",
                "sandbox",
                [(metric, value)],
            )


def test_a_2x_p95_regression_fails_the_weekly_trend_with_a_chart(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    store = suite_dir / "reports" / "history.sqlite"
    _seed(store, "median GET /v1/artists (ms)", {3: 100.0, 2: 110.0, 1: 105.0, 0: 210.0})
    _seed(store, "users", {3: 100.0, 0: 400.0})  # growth is shown, not judged
    run = run_checks("checks/test_trends.py")
    message = run.message_of("test_no_figure_degraded_week_over_week")
    assert (
        "expected median GET /v1/artists (ms) [postdeploy] within 1.5× the weeks before (105), "
        "got 210 (2.0×)" in message
    )
    assert "users" not in message
    html = (suite_dir / "reports" / "custom-latest.html").read_text()
    assert "&lt;svg" in html or "<svg" in html
    assert "polyline" in html
    assert "point" in html  # every run a dot
    assert "postdeploy" in html  # the tier that measured it, in its own column


def test_a_chart_draws_every_run_on_a_time_axis() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    spaced = history.chart(
        [(start, 1.0), (start + timedelta(days=1), 2.0), (start + timedelta(days=9), 3.0)]
    )
    xs = [float(x) for x in re.findall(r'class="point" cx="([\d.]+)"', spaced)]
    assert len(xs) == 3
    assert (xs[2] - xs[1]) > 7 * (xs[1] - xs[0])  # time on the x axis, not the run's index


def test_only_this_weeks_figures_is_cannot_judge(run_checks: RunChecks, suite_dir: Path) -> None:
    _seed(suite_dir / "reports" / "history.sqlite", "median GET /v1/artists (ms)", {0: 100.0})
    name = "test_no_figure_degraded_week_over_week"
    run = run_checks("checks/test_trends.py", faults=["no-history"])
    assert run.skipped_names() == [name]
    assert run.message_of(name).startswith(
        "cannot judge: no figure has both this week's value and earlier weeks'"
    )


def test_no_requests_in_the_previous_period_is_cannot_judge(
    run_checks: RunChecks, cloudflare: FakeGraphQL
) -> None:
    cloudflare.previous = {**cloudflare.previous, "requests": 0}
    run = run_checks(TRAFFIC, "-m", "daily", "-k", "volume")
    name = "test_request_volume_did_not_drop[24h]"
    assert run.skipped_names() == [name]
    assert "had no requests in the previous period to compare with" in run.message_of(name)


def test_every_run_adds_its_figures_to_the_history(run_checks: RunChecks, suite_dir: Path) -> None:
    run_checks("-m", "postdeploy")
    with sqlite3.connect(suite_dir / "reports" / "history.sqlite") as db:
        metrics = {
            row[0] for row in db.execute("SELECT metric FROM figures WHERE target = 'sandbox'")
        }
    assert "median GET /v1/artists (ms)" in metrics
    assert "users" in metrics


def _failing_daily(pytester: pytest.Pytester, target: Sandbox, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-m", "daily", f"--base-url={target.url}", "--umbrella-environment=development", *args
    )


def test_a_failed_run_without_alert_posts_nothing_and_drafts_nothing(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = _failing_daily(pytester, sandbox_server("health-500"))
    assert result.ret == 1
    assert slack.posts == []
    assert list((suite_dir / "reports").glob("incident-*.md")) == []


def test_alert_posts_once_and_drafts_one_incident_per_signature_and_day(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    broken = sandbox_server("health-500")
    result = _failing_daily(pytester, broken, "--umbrella-alert", "-n", "2")
    assert result.ret == 1
    assert len(slack.posts) == 1  # the controller posts; xdist workers never do
    assert "daily" in slack.posts[0]
    assert "root cause: GET /v1/health answers 500" in slack.posts[0]  # whichever worker met it
    drafts = list((suite_dir / "reports").glob("incident-*.md"))
    assert len(drafts) == 1
    text = drafts[0].read_text()
    assert "**Severity:** SEV-1" in text
    assert "Detected by umbrella-checks (daily) [SEV-1]: test_health_" in text
    assert " — root cause: GET /v1/health answers 500: " in text
    report = (suite_dir / "reports" / "daily-latest.html").read_text()
    assert SlackHook.SECRET not in report
    assert SlackHook.SECRET not in result.stdout.str()
    assert "(SEV-1)" in result.stdout.str()
    again = _failing_daily(pytester, broken, "--umbrella-alert")  # the same incident, again
    assert "(SEV-1, same incident as earlier today)" in again.stdout.str()
    assert list((suite_dir / "reports").glob("incident-*.md")) == drafts
    assert "Seen again by umbrella-checks (daily)" in drafts[0].read_text()


@pytest.mark.parametrize(
    ("fault", "severity", "first"),
    [
        pytest.param(
            "auth-not-enforced",
            "SEV-1",
            "test_protected_route_refuses_anonymous",
            id="auth-open-is-sev1",
        ),
        pytest.param(
            "slow=*:400",
            "SEV-2",
            "test_critical_path_meets_its_latency_budget[health]",
            id="over-budget-is-sev2",
        ),
        pytest.param(
            # Every browser call from the web app fails: unavailable to its users.
            "cors-missing",
            "SEV-1",
            "test_cors_preflight_allows_each_configured_origin",
            id="cors-lost-is-sev1",
        ),
        pytest.param(
            "unknown-route-html",
            "SEV-3",
            "test_unknown_route_answers_404_envelope",
            id="spa-fallback-is-sev3",
        ),
    ],
)
def test_the_incident_draft_carries_the_runbooks_severity(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
    fault: str,
    severity: str,
    first: str,
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    target = sandbox_server(fault)
    result = pytester.runpytest_subprocess(
        "checks/test_smoke.py",
        f"--base-url={target.url}",
        "--umbrella-environment=development",
        "--umbrella-alert",
    )
    assert result.ret == 1
    (draft,) = (suite_dir / "reports").glob("incident-*.md")
    text = draft.read_text()
    assert text.startswith(f"## Incident: custom checks failed on {target.url} ({first})\n")
    assert f"**Severity:** {severity}" in text


def test_a_failure_in_setup_pages_too(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    """A hung target fails the health checks in their fixture's setup: that pages as a call
    failure would, at the check's declared severity."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + '\n[env.development.http]\nread_timeout = "1s"\n')
    target = sandbox_server("hang")
    result = pytester.runpytest_subprocess(
        "checks/test_health.py",
        f"--base-url={target.url}",
        "--umbrella-environment=development",
        "--umbrella-alert",
    )
    assert result.ret == 1
    # One defect, one failure: the first check meets the hung target, the rest cannot judge.
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 1
    assert outcomes["skipped"] >= 1
    assert "passed" not in outcomes
    assert len(slack.posts) == 1
    assert "1 failed (SEV-1)" in slack.posts[0]
    (draft,) = (suite_dir / "reports").glob("incident-*.md")
    text = draft.read_text()
    assert "**Severity:** SEV-1" in text
    assert (
        "[SEV-1]: test_health_answers_200 (in setup) — root cause: the target did not answer "
        "the start-of-run probe: no answer to the start-of-run" in text
    )


def test_a_sandbox_run_alerts_only_the_sandboxs_own_slack(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackHook
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = pytester.runpytest_subprocess(
        "checks/test_health.py",
        "--umbrella-sandbox",
        "--umbrella-sandbox-fault=health-500",
        "--umbrella-alert",
    )
    assert result.ret == 1
    assert slack.posts == []  # never the environment's webhook
    result.stdout.fnmatch_lines(["umbrella: Slack alerted"])


def test_reports_keep_the_newest_runs_per_tier(run_checks: RunChecks, suite_dir: Path) -> None:
    reports = suite_dir / "reports"
    reports.mkdir()
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        for suffix in (".html", ".xml"):
            (reports / f"postdeploy-{stamp}{suffix}").write_text("earlier run")
    (reports / "daily-20260101T000000Z.html").write_text("another tier")
    config = (suite_dir / "umbrella.toml").read_text() + "\n[reports]\nkeep = 2\n"
    run_checks("checks/test_health.py", "-m", "postdeploy", config=config)
    kept = sorted(p.name for p in reports.glob("postdeploy-2*"))
    assert kept[:2] == ["postdeploy-20260103T000000Z.html", "postdeploy-20260103T000000Z.xml"]
    assert len(kept) == 4  # the newest earlier run and this one, .html and .xml each
    assert (reports / "daily-20260101T000000Z.html").exists()


@pytest.mark.parametrize(
    "mode", ["invalid-payload", "gone", "forbidden", "server-error", "rate-limited"]
)
def test_slack_errors_are_one_line(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
    mode: str,
) -> None:
    slack.answer(mode)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = _failing_daily(pytester, sandbox_server("health-500"), "--umbrella-alert")
    lines = [x for x in result.stdout.lines if "could not alert Slack" in x]
    assert len(lines) == 1
    assert SlackHook.SECRET not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def _monitor(url: str, state: Path, env: dict[str, str]) -> int:
    return _monitor_run(url, state, env).returncode


def _monitor_run(url: str, state: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "umbrella_checks",
            "monitor",
            "--once",
            f"--base-url={url}",
            f"--state={state}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_monitor_alerts_on_the_second_failure_and_once_on_recovery(
    tmp_path: Path, slack: SlackHook
) -> None:
    target = Sandbox(parse_faults(["health-500"])).start()
    state = tmp_path / "monitor.json"
    try:
        env = {**os.environ, "SLACK_WEBHOOK_URL": slack.url}
        assert _monitor(target.url, state, env) == 1
        assert slack.posts == []  # one failure: no alert
        assert _monitor(target.url, state, env) == 1
        assert len(slack.posts) == 1  # two: one alert
        assert _monitor(target.url, state, env) == 1
        assert len(slack.posts) == 1  # three: still one
        target.faults = parse_faults([])  # the same target recovers
        assert _monitor(target.url, state, env) == 0
        assert len(slack.posts) == 2  # recovery: one message
        assert "recovered" in slack.posts[1]
        assert _monitor(target.url, state, env) == 0
        assert len(slack.posts) == 2
    finally:
        target.stop()


def test_monitor_state_is_per_target(
    tmp_path: Path, slack: SlackHook, sandbox_server: Callable[..., Sandbox]
) -> None:
    """Pointing the monitor at another target neither announces a recovery nor carries the
    first target's failures over."""
    broken, healthy = sandbox_server("health-500"), sandbox_server()
    state = tmp_path / "monitor.json"
    env = {**os.environ, "SLACK_WEBHOOK_URL": slack.url}
    assert _monitor(broken.url, state, env) == 1
    assert _monitor(broken.url, state, env) == 1
    assert len(slack.posts) == 1
    assert _monitor(healthy.url, state, env) == 0
    assert len(slack.posts) == 1  # no "recovered": it is another target
    assert _monitor(broken.url, state, env) == 1
    assert len(slack.posts) == 1  # counting afresh for the broken one: one failure so far


def test_monitor_warns_but_never_pages_on_a_200_it_does_not_recognise(
    tmp_path: Path, slack: SlackHook, sandbox_server: Callable[..., Sandbox]
) -> None:
    bare = sandbox_server("envelope-missing=/v1/health")
    env = {**os.environ, "SLACK_WEBHOOK_URL": slack.url}
    for _ in range(3):
        done = _monitor_run(bare.url, tmp_path / "monitor.json", env)
        assert done.returncode == 0
        assert "ok (warning: 200, but no data.status in the body)" in done.stdout
    assert slack.posts == []


@pytest.mark.parametrize(
    "flag", [pytest.param("--help", id="long"), pytest.param("-h", id="short")]
)
def test_help_lists_every_command_with_what_it_does(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", flag], capture_output=True, text=True
    )
    assert done.returncode == 0
    for command in ("perf", "monitor", "contract", "sandbox", "docs"):
        assert re.search(rf"^  {command} +\S", done.stdout, re.M), done.stdout


@pytest.mark.parametrize(
    "args", [pytest.param([], id="none"), pytest.param(["--verbose"], id="an-option")]
)
def test_no_command_says_so_and_lists_them(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", *args], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("python -m umbrella_checks: give a command\n")
    assert "  contract  contract diff" in done.stderr


def test_an_unknown_command_is_one_line_with_the_closest() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "perff"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "python -m umbrella_checks: unknown command 'perff'; did you mean 'perf'? "
        "(python -m umbrella_checks --help lists them)"
    )


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        pytest.param("monitor", ["--once"], "monitor: no target", id="monitor"),
        pytest.param(
            "monitor",
            ["--once", "--base-url=ftp://x"],
            "is not an http(s) URL",
            id="monitor-bad-url",
        ),
        pytest.param("perf", [], "perf: no target", id="perf"),
        pytest.param("contract", ["diff"], "contract: no target", id="contract"),
        pytest.param(
            "contract",
            ["diff", "--base-url=https://x.example", "--umbrella-config=missing.toml"],
            "config file missing.toml does not exist",
            id="contract-bad-config",
        ),
    ],
)
def test_the_commands_say_what_is_missing_in_one_line(
    tmp_path: Path, command: str, args: list[str], expected: str
) -> None:
    from tests.conftest import SUITE_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", command, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert expected in lines[0]


def test_cannot_judge_is_listed_and_fails_under_strict_skips(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "checks/test_trends.py", "--umbrella-sandbox", "--umbrella-sandbox-fault=no-history"
    )
    assert result.ret == 1  # nothing judged: could-not-run, never green
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["umbrella: verdict: could-not-run — no selected check judged*"])
    result.stdout.fnmatch_lines(
        ["umbrella: could not judge test_no_figure_degraded_week_over_week: *no history yet*"]
    )
    html = (suite_dir / "reports" / "custom-latest.html").read_text()
    assert "could not judge test_no_figure_degraded_week_over_week" in html
    strict = pytester.runpytest_subprocess(
        "checks/test_trends.py",
        "--umbrella-sandbox",
        "--umbrella-sandbox-fault=no-history",
        "--umbrella-strict-skips",
    )
    assert strict.ret == 1
    strict.assert_outcomes(failed=1)
