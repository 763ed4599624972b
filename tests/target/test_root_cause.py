"""Root cause first: a target that is not the Umbrella API, or one defect met by many checks,
gives one failure that names it; the checks it stops cannot judge, naming it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from umbrella_checks.operations.incident import Failure, draft, grouped
from umbrella_checks.sandbox import Sandbox

NOT_THE_API = "cannot judge: the target does not answer as the Umbrella API (failed once, in "


def _one_failure_both_readings(run: object) -> None:
    failed = run.failed_names()  # type: ignore[attr-defined]
    assert len(failed) == 1, failed
    message = run.message_of(failed[0])  # type: ignore[attr-defined]
    assert "answered 404" in message
    assert "is API_URL / --base-url right?" in message
    assert "the Worker lost its routes" in message
    skipped = run.skipped_names()  # type: ignore[attr-defined]
    stopped = [n for n in skipped if run.message_of(n).startswith(NOT_THE_API)]  # type: ignore[attr-defined]
    assert len(stopped) >= 30
    assert all("auth is not enforced" not in run.message_of(n) for n in skipped)  # type: ignore[attr-defined]


def test_some_other_site_is_one_failure_not_38(run_checks: RunChecks, static_site: str) -> None:
    run = run_checks("-m", "postdeploy", "--umbrella-environment=development", target=static_site)
    _one_failure_both_readings(run)
    assert run.passed_names() == []


def test_a_worker_that_lost_its_routes_is_one_failure(run_checks: RunChecks) -> None:
    run = run_checks("-m", "postdeploy", faults=["routes-lost"])
    _one_failure_both_readings(run)


def test_one_route_failing_is_one_failure_across_xdist_workers(run_checks: RunChecks) -> None:
    """The workers each meet the 500 first; the controller keeps one failure."""
    run = run_checks("-m", "postdeploy", "-n", "2", faults=["route-5xx=/v1/gigs"])
    assert len(run.failed_names()) == 1, run.failed_names()
    assert "GET /v1/gigs?limit=5 answers 500 (failed once, in " in run.output
    # Rewritten before the terminal counts it: the summary line says one failure too.
    assert re.search(r"= 1 failed, \d+ passed, \d+ skipped", run.output), run.output[-600:]


def test_a_stopped_check_lends_its_severity_to_the_root_cause(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/v1/gigs failing is met first by its latency check (SEV-2); the anonymous row it stops
    is SEV-1 (auth): the incident stays SEV-1."""
    target = sandbox_server("route-5xx=/v1/gigs")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", target.accounts["user"].token)
    run = run_checks(
        "-m",
        "postdeploy",
        "--umbrella-environment=development",
        "--umbrella-alert",
        target=target.url,
    )
    assert run.failed_names() == ["test_critical_path_meets_its_latency_budget[gigs]"]
    (incident,) = (suite_dir / "reports").glob("incident-*.md")
    assert "**Severity:** SEV-1" in incident.read_text()


def test_one_problem_on_many_routes_is_grouped_in_the_summary(run_checks: RunChecks) -> None:
    run = run_checks("-m", "postdeploy", faults=["stack-trace"])
    assert len(run.failed_names()) > 5
    assert (
        "umbrella: one problem on 11 routes, 13 checks: expected a body without stack "
        "traces, file paths or SQL — GET " in run.output
    )


def _failure(route: str, problem: str, severity: str = "SEV-3") -> Failure:
    return Failure(
        f"checks/test_x.py::test_{route.strip('/').replace('/', '_')}",
        f"GET https://api.example{route}: expected {problem}, got something (a hint)",
        severity,
        route=f"GET {route}",
        expected=problem,
    )


def test_an_incident_timeline_has_one_line_per_problem() -> None:
    failures = [
        _failure("/v1/a", "no stack traces"),
        _failure("/v1/b", "no stack traces", "SEV-2"),
        _failure("/v1/c", "status 200"),
        Failure("checks/test_y.py::test_cron", "the job did not run " + "word " * 100),
    ]
    groups = grouped(failures)
    assert [g.problem for g in groups] == ["no stack traces", None, None]
    assert groups[0].routes == ("GET /v1/a", "GET /v1/b")
    assert groups[0].severity == "SEV-2"
    text = draft(
        failures, tier="postdeploy", target="t", started=datetime.now(UTC), report=Path("r")
    )
    assert "one problem on 2 routes, 2 checks: expected no stack traces — GET /v1/a, GET /v1/b" in (
        text
    )
    cron = next(line for line in text.splitlines() if "test_cron" in line)
    assert cron.endswith("word …")  # cut between words, never inside one
