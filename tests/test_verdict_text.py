"""The run's verdict line and the CI step summary, as pure functions of the typed failures:
what a workflow decides a rollback on and what on-call reads on the run's page."""

from __future__ import annotations

import pytest

from umbrella_checks.operations.incident import Failure
from umbrella_checks.operations.verdict import Verdict, step_summary, verdict_of


def _failed(count: int, kind: str = "failed") -> list[Failure]:
    return [
        Failure(f"checks/t.py::test_{n}", "m", severity="SEV-2", kind=kind) for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "more"),
    [pytest.param(5, "", id="five-named"), pytest.param(6, " and 1 more", id="six-five-named")],
)
def test_a_broken_verdict_names_five_checks_and_counts_the_rest(count: int, more: str) -> None:
    verdict = verdict_of(1, _failed(count))
    names = ", ".join(f"test_{n}" for n in range(5))
    assert verdict.line == (
        f"verdict: broken — {count} check(s) judged the service broken: {names}{more}"
    )


def test_failures_without_a_verdict_are_could_not_run_and_counted_by_kind() -> None:
    verdict = verdict_of(1, [*_failed(2, "could-not-check"), *_failed(1, "error")])
    assert verdict == Verdict(
        "could-not-run",
        "no check judged the service broken, but 3 failed without a verdict "
        "(2 could-not-check, 1 error): fix the run, not the service",
    )


def test_an_exit_before_judging_is_could_not_run() -> None:
    assert verdict_of(4, []).why == "pytest ended with exit code 4 before judging"


def _summary(failures: list[Failure]) -> str:
    return step_summary(
        verdict_of(1 if failures else 0, failures),
        failures,
        ["a note"],
        tier="postdeploy",
        target="https://staging.umbrella.app",
        report="reports/postdeploy-latest.html",
    )


def test_a_healthy_summary_has_no_failure_table() -> None:
    text = _summary([])
    assert "| SEV | failed | what |" not in text
    assert "- a note" in text


@pytest.mark.parametrize(
    ("count", "named"),
    [
        pytest.param(3, "`test_0`, `test_1`, `test_2`", id="three-named"),
        pytest.param(4, "`test_0`, `test_1`, `test_2` and 1 more", id="four-three-named"),
    ],
)
def test_a_failure_table_names_three_checks_of_a_group_and_counts_the_rest(
    count: int, named: str
) -> None:
    same = [
        Failure(f"checks/t.py::test_{n}", "m", route=f"/v1/r{n}", expected="no stack trace")
        for n in range(count)
    ]
    text = _summary([*same, *_failed(1)])
    rows = [line for line in text.splitlines() if line.startswith("| SEV-")]
    assert len(rows) == 2
    assert f"| {named} |" in rows[0]
    assert rows[1].startswith("| SEV-2 | `test_0` | test_0 — m |")
