"""What the real Worker still showed (issue: the field, second pass), each as a sandbox switch
and a self-test: two defects give two failures, a database error is called a leak, a root
cause leads its failure, a matrix row is recorded alone, a placeholder names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, RunChecks

HEALTH = "checks/test_health.py"
MATRIX = "checks/test_status_matrix.py"
ROW = "test_route_answers_its_status[{}]"


def test_bare_health_without_environment_is_two_failures(run_checks: RunChecks) -> None:
    """The envelope and the runbook's environment: two defects, each named; the fix offered for
    the environment is the Worker's answer, never a recording that would hide it."""
    run = run_checks(HEALTH, faults=["envelope-missing=/v1/health", "health-no-environment"])
    assert run.failed_names() == [
        "test_health_answers_200",
        "test_health_reports_the_expected_environment",
    ]
    envelope = run.message_of("test_health_answers_200")
    assert envelope.startswith("root cause: GET /v1/health answers without the envelope: ")
    environment = run.message_of("test_health_reports_the_expected_environment")
    assert 'expected field "data.environment" ("environment" at the top level: it answered ' in (
        environment
    )
    assert "add it to the Worker's health answer" in environment
    assert "bare_routes" not in environment


def test_a_bare_health_answer_is_degraded_not_a_rollback(
    run_checks: RunChecks, tmp_path: Path
) -> None:
    """An envelope missing is a difference from the contract (SEV-2), whichever check meets it
    first: never the SEV-1 of the health check it lands on."""
    verdict = tmp_path / "verdict"
    run_checks(HEALTH, f"--umbrella-verdict-file={verdict}", faults=["envelope-missing=/v1/health"])
    assert verdict.read_text() == "degraded\n"


def test_a_500_carrying_the_databases_words_is_called_a_leak(run_checks: RunChecks) -> None:
    run = run_checks("-m", "postdeploy", faults=["d1-error-500=/v1/gigs"])
    (failed,) = run.failed_names()
    message = run.message_of(failed)
    assert message.startswith("root cause: GET /v1/gigs?limit=5 answers 500: ")
    assert "the body leaks the database's own words ('D1_ERROR'" in message


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        pytest.param("route-5xx=/v1/gigs", "GET /v1/gigs?limit=5 answers 500", id="5xx"),
        pytest.param("platform-503", "the platform answers its own error page", id="platform"),
    ],
)
def test_a_root_cause_leads_the_failure_that_reports_it(
    run_checks: RunChecks, fault: str, cause: str
) -> None:
    run = run_checks("-m", "postdeploy", faults=[fault])
    (failed,) = run.failed_names()
    assert run.message_of(failed).startswith(f"root cause: {cause}")


CALLBACK = """
[[matrix.row]]
method = "POST"
path = "/v1/auth/callback"
who = "anonymous"
status = [400, 401]
"""


def test_a_matrix_row_is_added_from_umbrella_toml(run_checks: RunChecks) -> None:
    config = (REPO / "umbrella.toml").read_text() + CALLBACK + "destructive = true\n"
    run = run_checks(
        MATRIX, "-k", "callback", "--umbrella-allow-destructive", config=config, faults=[]
    )
    name = ROW.format("POST /v1/auth/callback [anonymous] -> 400/401")
    assert run.failed_names() == [name]  # the sandbox has no such route
    assert "expected status 400 or 401, got 404" in run.message_of(name)


def test_a_recorded_row_that_posts_must_say_it_is_destructive(run_checks: RunChecks) -> None:
    run = run_checks(MATRIX, config=(REPO / "umbrella.toml").read_text() + CALLBACK)
    assert run.ret == 4
    assert "umbrella.toml: matrix.row 1 (POST /v1/auth/callback) sends a POST" in run.stderr


def test_a_matrix_row_is_overridden_from_umbrella_toml(run_checks: RunChecks) -> None:
    """This environment lets any signed-in user read the admin stats, by design."""
    config = (REPO / "umbrella.toml").read_text() + (
        '\n[[matrix.row]]\nmethod = "GET"\npath = "/v1/admin/stats"\nwho = "user"\nstatus = 200\n'
    )
    run = run_checks(MATRIX, "-k", "admin", config=config, faults=["admin-not-enforced"])
    assert run.failed_names() == []
    assert ROW.format("GET /v1/admin/stats [user] -> 200") in run.passed_names()
    assert ROW.format("GET /v1/admin/stats [user] -> 403") not in run.outcomes


def test_a_placeholder_that_answers_404_names_its_key(run_checks: RunChecks) -> None:
    """Ids are random per seed: on a first run, the route says which [routes] key to set."""
    run = run_checks(MATRIX, "-k", "profile_id", faults=["ids-differ"])
    name = ROW.format("GET /v1/profile/{profile_id} [anonymous] -> 200")
    assert run.failed_names() == [name]
    assert "set [env.development.routes] profile_id to an id that does" in run.message_of(name)
