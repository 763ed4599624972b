"""The health checks pass on the healthy sandbox and fail on each health fault."""

from __future__ import annotations

import pytest

from tests.conftest import RunChecks, assert_on_call_message

HEALTH = [
    "test_health_answers_200",
    "test_health_reports_its_version",
    "test_health_reports_the_expected_environment",
    "test_health_says_healthy",
    "test_health_timestamp_is_current",
]


def test_health_passes_on_the_healthy_sandbox(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py")
    assert run.passed_names() == HEALTH
    assert run.ret == 0


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param("health-500", HEALTH, "status 200", id="health-500"),
        pytest.param(
            "health-unhealthy",
            ["test_health_answers_200", "test_health_says_healthy"],
            '"unhealthy"',
            id="health-unhealthy",
        ),
        pytest.param(
            "wrong-environment",
            ["test_health_reports_the_expected_environment"],
            '"development", got "production"',
            id="wrong-environment",
        ),
        pytest.param(
            "stale-health-timestamp",
            ["test_health_timestamp_is_current"],
            "serving a stale cached answer",
            id="stale-timestamp",
        ),
        pytest.param(
            "health-clock=120",
            ["test_health_timestamp_is_current"],
            # Judged against the answer's Date, which has whole seconds.
            " s off",
            id="timestamp-2x-skew-in-the-future",
        ),
        pytest.param(
            "health-clock=-120",
            ["test_health_timestamp_is_current"],
            " s off",
            id="timestamp-2x-skew-in-the-past",
        ),
        pytest.param(
            "version-empty",
            ["test_health_reports_its_version"],
            "expected a non-empty data.version, got ''",
            id="version-empty",
        ),
        pytest.param(
            "dependency-degraded",
            ["test_health_says_healthy"],
            "storage 'degraded'",
            id="dependency-degraded-inside-200",
        ),
        pytest.param(
            "database-down",
            ["test_health_answers_200", "test_health_says_healthy"],
            "database",
            id="database-down",
        ),
    ],
)
def test_health_checks_catch_their_fault(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks("checks/test_health.py", faults=[fault])
    assert run.failed_names() == sorted(failing)
    assert sorted(run.passed_names() + run.failed_names()) == HEALTH
    for name in failing:
        assert_on_call_message(run.message_of(name), "/v1/health")
    assert any(fragment in run.message_of(name) for name in failing)


@pytest.mark.parametrize("seconds", [pytest.param(30, id="ahead"), pytest.param(-30, id="behind")])
def test_a_clock_within_the_skew_passes(run_checks: RunChecks, seconds: int) -> None:
    run = run_checks("checks/test_health.py", faults=[f"health-clock={seconds}"])
    assert run.passed_names() == HEALTH


def test_health_500_is_explained(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", faults=["health-500"])
    assert "expected status 200, got 500" in run.message_of("test_health_answers_200")
    assert "consider rollback" in run.message_of("test_health_answers_200")


def test_version_mismatch_fails_the_version_check(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", "--expected-version=0.1.0", faults=["stale-version"])
    assert run.failed_names() == ["test_health_reports_its_version"]
    assert_on_call_message(
        run.message_of("test_health_reports_its_version"), "0.1.0", "0.0.9", "did not roll out"
    )


def test_matching_expected_version_passes(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", "--expected-version=0.1.0")
    assert run.failed_names() == []


def test_a_missing_field_names_what_the_answer_has(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", faults=["envelope-missing=/v1/health"])
    message = run.message_of("test_health_reports_the_expected_environment")
    assert 'expected field "data", got an answer with no envelope, top-level keys: ' in message
    assert "environment, service, status" in message
