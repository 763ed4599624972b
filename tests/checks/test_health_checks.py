"""The health checks pass on the healthy sandbox and fail on each health fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunChecks, assert_on_call_message, checks_in

HEALTH = checks_in("test_health.py")


def test_health_passes_on_the_healthy_sandbox(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py")
    assert run.passed_names() == HEALTH
    assert run.ret == 0


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        # Root cause first: the fields of a 500 are not read as four more failures.
        pytest.param("health-500", ["test_health_answers_200"], "status 200", id="health-500"),
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
    assert sorted(run.passed_names() + run.failed_names() + run.skipped_names()) == HEALTH
    for name in run.skipped_names():
        assert run.message_of(name).startswith(
            "cannot judge: GET /v1/health answers 500 (failed once, in test_health_answers_200)"
        )
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
    # The root cause, named once for every check it stops and every alert it sends.
    assert "root cause: GET /v1/health answers 500" in run.message_of("test_health_answers_200")


def test_version_mismatch_fails_the_version_check(run_checks: RunChecks) -> None:
    run = run_checks(
        "checks/test_health.py", "--umbrella-expected-version=0.1.0", faults=["stale-version"]
    )
    assert run.failed_names() == ["test_health_reports_its_version"]
    assert_on_call_message(
        run.message_of("test_health_reports_its_version"), "0.1.0", "0.0.9", "did not roll out"
    )


def test_matching_expected_version_passes(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", "--umbrella-expected-version=0.1.0")
    assert run.failed_names() == []


def test_a_missing_envelope_is_one_failure_naming_what_came(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_health.py", faults=["envelope-missing=/v1/health"])
    assert run.failed_names() == ["test_health_answers_200"]
    message = run.message_of("test_health_answers_200")
    assert "expected a JSON envelope with success and meta.timestamp, got 200" in message
    assert '"environment": "development"' in message
    for name in run.skipped_names():
        assert run.message_of(name).startswith(
            "cannot judge: GET /v1/health answers without the envelope (failed once, in "
            "test_health_answers_200)"
        )


def _health_recorded_bare(suite_dir: Path) -> None:
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + '\n[envelope]\nbare_routes = ["/v1/health"]\n')


def test_a_missing_required_fact_is_never_advised_away(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """Health without its environment: the hint is the runbook's requirement (fix the Worker,
    or name the path), not "record the route bare"; and once the route is recorded bare the
    message describes the bare answer as bare."""
    run = run_checks("checks/test_health.py", faults=["health-no-environment"])
    message = run.message_of("test_health_reports_the_expected_environment")
    assert "needs health to say which environment answers" in message
    assert "set [health] environment_field" in message
    assert "bare_routes" not in message

    _health_recorded_bare(suite_dir)
    run = run_checks(
        "checks/test_health.py",
        "-k",
        "environment",
        faults=["health-no-environment", "envelope-missing=/v1/health"],
    )
    message = run.message_of("test_health_reports_the_expected_environment")
    assert '"environment" at the top level: the route is recorded bare' in message
    assert "a bare answer ([envelope] bare_routes) whose top-level keys are: " in message
    assert "no envelope" not in message
    assert "needs health to say which environment answers" in message
