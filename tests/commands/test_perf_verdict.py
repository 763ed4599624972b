"""The release gate's verdict on Locust's figures: the runbook's thresholds, at their edges."""

from __future__ import annotations

import pytest

from umbrella_checks.commands.perf import EndpointStats, judge, limit_warnings, load_test_refused
from umbrella_checks.config.loading import validate
from umbrella_checks.config.suite import Budgets, Safety, SuiteConfig
from umbrella_checks.target.safety import Reported


def stats(name: str, p95: float, requests: int = 100, failures: int = 0) -> EndpointStats:
    return EndpointStats(name, requests, failures, p95 / 2, p95, p95 * 1.2)


@pytest.mark.parametrize(
    ("name", "budget"),
    [
        pytest.param("/v1/artists/:id", 300, id="profile-view-uses-artists"),
        pytest.param("/v1/gigs", 400, id="exact"),
        pytest.param("/v1/unknown", None, id="no-budget"),
        pytest.param("/v1/healthz", None, id="prefix-is-not-a-path-segment"),
    ],
)
def test_budget_lookup(name: str, budget: float | None) -> None:
    assert Budgets().for_endpoint(name) == budget


def test_the_verdict_table_names_the_broken_endpoint() -> None:
    passed, table = judge(
        [stats("/v1/gigs", 450), stats("/v1/health", 10)],
        stats("overall", 300, requests=200),
        Budgets(),
    )
    assert not passed
    assert "/v1/gigs" in [line.split()[0] for line in table.splitlines() if "FAIL" in line]


def test_no_requests_is_not_a_pass() -> None:
    passed, table = judge(
        [stats("/v1/gigs", 10, requests=0)], stats("overall", 0, requests=0), Budgets()
    )
    assert not passed
    assert _verdict_of(table, "/v1/gigs") == "FAIL: errors 100.0%"


def test_too_few_samples_for_a_p95_is_said_not_judged() -> None:
    passed, table = judge(
        [stats("/v1/gigs", 900, requests=12)], stats("overall", 100, requests=200), Budgets()
    )
    assert passed
    line = next(row for row in table.splitlines() if row.startswith("/v1/gigs"))
    assert line.endswith("ok; P95 not judged: 12 samples (< 20)")


def _verdict_of(table: str, name: str) -> str:
    return next(row for row in table.splitlines() if row.startswith(name)).split("  ")[-1]


@pytest.mark.parametrize(
    ("p95", "verdict"),
    [
        pytest.param(399, "ok", id="just-under-passes"),
        pytest.param(400, "FAIL: P95 over budget", id="at-the-budget-fails"),
    ],
)
def test_an_endpoints_p95_must_be_under_its_budget(p95: float, verdict: str) -> None:
    passed, table = judge([stats("/v1/gigs", p95)], stats("overall", 100), Budgets())
    assert passed is (verdict == "ok")
    assert _verdict_of(table, "/v1/gigs") == verdict


@pytest.mark.parametrize(
    ("p95", "passes"),
    [pytest.param(499, True, id="499ms-passes"), pytest.param(500, False, id="500ms-fails")],
)
def test_the_overall_p95_must_be_under_500_ms(p95: float, passes: bool) -> None:
    passed, table = judge([], stats("overall", p95), Budgets())
    assert passed is passes
    assert _verdict_of(table, "overall") == ("ok" if passes else "FAIL: P95 over budget")
    assert "<500ms" in next(r for r in table.splitlines() if r.startswith("overall"))


@pytest.mark.parametrize(
    ("failures", "passes"),
    [pytest.param(1, True, id="0.5%-passes"), pytest.param(2, False, id="1%-fails")],
)
def test_the_error_rate_must_be_under_one_percent(failures: int, passes: bool) -> None:
    total = stats("overall", 100, requests=200, failures=failures)
    endpoint = stats("/v1/health", 10, requests=200, failures=failures)
    passed, table = judge([endpoint], total, Budgets())
    assert passed is passes
    assert table.splitlines()[-2].endswith("ok" if passes else "FAIL: error rate over budget")
    assert ("errors 1.0%" in _verdict_of(table, "/v1/health")) is not passes


@pytest.mark.parametrize(
    ("requests", "judged"),
    [pytest.param(19, False, id="19-samples-not-judged"), pytest.param(20, True, id="20-judged")],
)
def test_a_p95_needs_20_samples(requests: int, judged: bool) -> None:
    passed, table = judge(
        [stats("/v1/gigs", 900, requests=requests)], stats("overall", 100), Budgets()
    )
    assert passed is not judged
    assert _verdict_of(table, "/v1/gigs").startswith("FAIL" if judged else "ok; P95 not judged")


def test_an_endpoint_without_a_budget_is_judged_on_errors_only() -> None:
    passed, table = judge([stats("/v1/unknown", 5000)], stats("overall", 100), Budgets())
    assert passed
    row = next(row for row in table.splitlines() if row.startswith("/v1/unknown"))
    assert row.split()[-2:] == ["-", "ok"]


def _config(limit: int, window: str, think: str = "1s") -> SuiteConfig:
    return validate(
        {
            "perf": {"think_time_min": think, "think_time_max": think},
            "security": {
                "rate_limits": {"api": {"limit": limit, "window": window, "routes": ["/v1/gigs"]}}
            },
        }
    )


@pytest.mark.parametrize(
    ("limit", "think", "warned"),
    [
        pytest.param(399, "500ms", True, id="20-users-exceed-399-per-10s"),
        pytest.param(400, "500ms", False, id="20-users-reach-400-per-10s"),
        pytest.param(100000, "0s", True, id="no-think-time-trips-any-limit"),
    ],
)
def test_a_load_over_a_documented_limit_is_warned_about(
    limit: int, think: str, warned: bool
) -> None:
    warnings = limit_warnings(20, _config(limit, "10s", think))
    assert bool(warnings) is warned
    if warned and think != "0s":
        assert warnings == [
            "perf: warning: about 400 requests per 10 s from one user would trip the documented "
            f"limit 'api' ({limit}); expect 429s, or lower the users (-u)"
        ]


@pytest.mark.parametrize(
    ("host", "environment", "reported", "refused"),
    [
        pytest.param("https://api.umbrella.app", "staging", "staging", True, id="production-url"),
        pytest.param("HTTPS://API.Umbrella.app:443/", "staging", "staging", True, id="url-case"),
        pytest.param("http://127.0.0.1:8787", "production", "staging", True, id="production-env"),
        pytest.param("http://127.0.0.1:8787", "staging", "production", True, id="says-prod"),
        pytest.param("http://127.0.0.1:8787", "staging", None, True, id="says-nothing"),
        pytest.param("http://127.0.0.1:8787", "staging", "staging", False, id="staging"),
    ],
)
def test_load_runs_only_where_the_target_is_known_not_to_be_production(
    host: str, environment: str, reported: str | None, refused: bool
) -> None:
    config = SuiteConfig(safety=Safety(sensitive_url=r"^https://api\.umbrella\.app"))
    said = Reported(reported, None if reported else "GET …/v1/health answered 500")
    reason = load_test_refused(host, environment, config, said)
    assert (reason is not None) is refused
    if refused:
        assert reason is not None
        assert reason.startswith(f"refused to load-test {host}: ")


def test_the_overall_p95_needs_enough_samples_too() -> None:
    passed, table = judge([], stats("overall", 100, requests=2), Budgets())
    assert not passed
    assert _verdict_of(table, "overall") == "FAIL: P95 cannot be judged on 2 samples (< 20)"


@pytest.mark.parametrize(
    ("fail_unjudged", "passes"),
    [pytest.param(False, True, id="counted"), pytest.param(True, False, id="made-to-fail")],
)
def test_endpoints_not_judged_are_counted_in_the_verdict(fail_unjudged: bool, passes: bool) -> None:
    passed, table = judge(
        [stats("/v1/gigs", 900, requests=12)], stats("overall", 100), Budgets(), fail_unjudged
    )
    assert passed is passes
    verdict = table.splitlines()[-1]
    assert "1 endpoint(s) with a budget not judged for too few samples" in verdict
    assert verdict.startswith("verdict: PASS" if passes else "verdict: FAIL")
