"""Latency verdicts on the production path: no Server-Timing, a partial one, a target that
serves one request at a time, and answers late however the service times itself."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import REPO, RunChecks
from umbrella_checks.target.timing import BY_BYTES, server_time, server_timing

BUDGET = "test_critical_path_meets_its_latency_budget[{}]"
ALL_BUDGETS = [BUDGET.format(n) for n in ("artists", "auth-session", "gigs", "health", "profile")]


def _answer(header: str | None) -> httpx.Response:
    return httpx.Response(200, headers={"Server-Timing": header} if header else {})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("total;dur=12.5", {"total": 0.0125}, id="one-metric"),
        pytest.param(
            'db;dur=2, total;desc="whole";dur=40', {"db": 0.002, "total": 0.04}, id="two-metrics"
        ),
        pytest.param("cache;desc=hit, total;dur=abc", {}, id="no-usable-dur"),
        pytest.param("total;dur=5, total;dur=9", {"total": 0.005}, id="first-of-a-name"),
    ],
)
def test_server_timing_is_read_by_metric_name(header: str, expected: dict[str, float]) -> None:
    assert server_timing(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("total;dur=20", (0.02, "Server-Timing total"), id="named-metric"),
        pytest.param("db;dur=2", (0.7, BY_BYTES), id="part-only-falls-back"),
        pytest.param(None, (0.7, BY_BYTES), id="absent-falls-back"),
    ],
)
def test_only_a_whole_answer_metric_times_the_answer(
    header: str | None, expected: tuple[float, str]
) -> None:
    spent, how = server_time(_answer(header), ttfb=0.8, rtt=0.1, metrics=("total",))
    assert (round(spent, 3), how) == expected


def test_a_one_at_a_time_target_without_server_timing_passes(run_checks: RunChecks) -> None:
    """Such a target would queue the samples behind each other: until answers show it serves in
    parallel, each sample waits its turn alone, in the run's own queue, not the target's."""
    # 60 ms an answer against a health budget of 150 ms: a sample alone is well inside it even
    # on a loaded machine (50 ms against 30 ms once failed there), samples queued behind the
    # burst's requests are not (60, 120, 180… ms).
    shipped = (REPO / "umbrella.toml").read_text(encoding="utf-8")
    config = shipped.replace('"/v1/health" = "50ms"', '"/v1/health" = "150ms"')
    assert config != shipped
    run = run_checks(
        "checks/test_smoke.py",
        "-k",
        "latency_budget",
        faults=["one-at-a-time", "no-server-timing", "slow=*:60"],
        config=config,
    )
    assert run.passed_names() == ALL_BUDGETS, run.output
    assert "one at a time (ms)" not in run.output  # nothing to confirm: no sample queued


def test_no_server_timing_times_the_answer_by_its_bytes(run_checks: RunChecks) -> None:
    run = run_checks(
        "checks/test_smoke.py",
        "-k",
        "latency_budget",
        faults=["no-server-timing", "slow=/v1/gigs:450"],
    )
    assert run.failed_names() == [BUDGET.format("gigs")]
    message = run.message_of(BUDGET.format("gigs"))
    assert f"(timed by {BY_BYTES}) — every sample taken, got 4" in message
    assert "sent again alone 4" in message


def test_a_partial_server_timing_is_not_taken_for_the_whole(run_checks: RunChecks) -> None:
    """A Worker that times only its query (db;dur=…) while the answer is slow fails."""
    run = run_checks(
        "checks/test_smoke.py",
        "-k",
        "latency_budget",
        faults=["partial-server-timing", "slow=/v1/artists:400"],
    )
    assert run.failed_names() == [BUDGET.format("artists")]
    assert f"timed by {BY_BYTES}" in run.message_of(BUDGET.format("artists"))


def test_a_partial_server_timing_on_a_healthy_target_passes(run_checks: RunChecks) -> None:
    run = run_checks(
        "checks/test_smoke.py", "-k", "latency_budget", faults=["partial-server-timing"]
    )
    assert run.passed_names() == ALL_BUDGETS


def test_late_answers_fail_the_ceiling_whatever_server_timing_says(run_checks: RunChecks) -> None:
    """distance= delays every answer outside the service's own (reported) time."""
    config = (REPO / "umbrella.toml").read_text().replace('ceiling = "3s"', 'ceiling = "250ms"')
    run = run_checks(
        "checks/test_smoke.py",
        "-k",
        "latency_budget and health",
        faults=["distance=400"],
        config=config,
    )
    assert run.failed_names() == [BUDGET.format("health")]
    message = run.message_of(BUDGET.format("health"))
    assert "median wall-clock time ≤ 0.25 s over 3 requests ([budgets] ceiling" in message


def test_a_server_timing_metric_name_is_configurable(run_checks: RunChecks) -> None:
    """A service that calls its whole-answer metric something else says so in [budgets]."""
    config = (
        (REPO / "umbrella.toml")
        .read_text()
        .replace('server_timing = ["total"]', 'server_timing = ["db"]')
    )
    run = run_checks(
        "checks/test_smoke.py",
        "-k",
        "latency_budget and artists",
        faults=["partial-server-timing", "slow=/v1/artists:400"],
        config=config,
    )
    # db;dur= is a tenth of the sandbox's time: 40 ms, inside the 300 ms budget, under 3 s.
    assert run.passed_names() == [BUDGET.format("artists")]
