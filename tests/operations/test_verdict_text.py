"""The verdict as a pure function of the typed findings (docs/verdict.md's precedence), and the
CI step summary: what a workflow decides a rollback on and what on-call reads on the run's page.
The situations themselves, against real servers, are tests/operations/test_verdict_model.py."""

from __future__ import annotations

import pytest

from umbrella_checks.operations.incident import Failure
from umbrella_checks.operations.verdict import NotJudged, Verdict, step_summary, verdict_of


def _failed(count: int, kind: str = "failed", severity: str = "SEV-1") -> list[Failure]:
    return [
        Failure(f"checks/t.py::test_{kind}_{n}", "m", severity=severity, kind=kind)
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "more"),
    [pytest.param(5, "", id="five-named"), pytest.param(6, " and 1 more", id="six-five-named")],
)
def test_a_broken_verdict_names_five_checks_and_counts_the_rest(count: int, more: str) -> None:
    verdict = verdict_of(1, _failed(count))
    names = ", ".join(f"test_failed_{n}" for n in range(5))
    assert verdict.line == (
        f"verdict: broken — {count} check(s) judged the service broken in a way the runbook "
        f"rolls back on (SEV-1): {names}{more}"
    )


@pytest.mark.parametrize(
    ("severity", "word"),
    [
        pytest.param("SEV-1", "broken", id="sev1-rolls-back"),
        pytest.param("SEV-2", "degraded", id="sev2-a-person-decides"),
        pytest.param("SEV-3", "degraded", id="sev3-tracked"),
    ],
)
def test_a_judged_failure_acts_by_its_severity(severity: str, word: str) -> None:
    assert verdict_of(1, _failed(1, severity=severity)).word == word


@pytest.mark.parametrize(
    ("failures", "word"),
    [
        pytest.param([*_failed(1), *_failed(1, "unreachable")], "broken", id="broken-beats-doubt"),
        pytest.param(
            [*_failed(1, severity="SEV-2"), *_failed(1, "could-not-check")],
            "could-not-run",
            id="doubt-beats-degraded",
        ),
        pytest.param(
            [*_failed(1, severity="SEV-2"), Failure("t.py::x", "m", "SEV-1", pre_existing=True)],
            "degraded",
            id="degraded-beats-pre-existing",
        ),
        pytest.param(
            [Failure("t.py::x", "m", "SEV-1", pre_existing=True)],
            "pre-existing",
            id="sev1-failing-before-too",
        ),
    ],
)
def test_the_first_verdict_that_applies_wins(failures: list[Failure], word: str) -> None:
    assert verdict_of(1, failures, passed=3).word == word


def test_failures_without_a_verdict_are_could_not_run_and_counted_by_kind() -> None:
    verdict = verdict_of(1, [*_failed(2, "could-not-check"), *_failed(1, "error")])
    assert verdict == Verdict(
        "could-not-run",
        "no check judged the service broken, but 3 failed without a verdict on it "
        "(2 could-not-check, 1 error): fix the run, not the service",
    )


def test_doubt_names_what_else_was_found() -> None:
    verdict = verdict_of(1, [*_failed(1, "unreachable"), *_failed(1, severity="SEV-2")])
    assert verdict.why.endswith("; also found: 1 degraded (test_failed_0)")


def test_an_exit_before_judging_is_could_not_run() -> None:
    assert verdict_of(4, []).why == "pytest ended with exit code 4 before judging"


def test_nothing_judged_is_could_not_run_saying_why() -> None:
    refused = [
        NotJudged(f"test_{n}", "refused", "safety guard: the target did not say") for n in range(6)
    ]
    verdict = verdict_of(0, [], passed=0, not_judged=refused)
    assert verdict.word == "could-not-run"
    assert verdict.why.startswith(
        "no selected check judged the service: the safety guard refused all 6 (safety guard: "
        "the target did not say); to let them through, the target's health route must answer "
        "200 naming its environment"
    )


def test_healthy_counts_what_judged_and_names_what_did_not_for_lack_of_input() -> None:
    verdict = verdict_of(
        0,
        [],
        passed=3,
        not_judged=[
            NotJudged("test_a", "refused", "x"),
            NotJudged("test_b", "missing-input", "UMBRELLA_USER_TOKEN is not set"),
        ],
    )
    assert verdict == Verdict(
        "healthy",
        "3 check(s) judged the service; none failed; 2 did not judge (1 missing-input, "
        "1 refused): test_b",
    )


def _summary(failures: list[Failure]) -> str:
    return step_summary(
        verdict_of(1 if failures else 0, failures, passed=1),
        failures,
        ["a note"],
        tier="postdeploy",
        target="https://staging.umbrella.app",
        report="reports/postdeploy-latest.html",
    )


def test_a_healthy_summary_has_no_failure_table() -> None:
    text = _summary([])
    assert "| SEV | verdict | failed | what |" not in text
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
    text = _summary([*same, *_failed(1, severity="SEV-2")])
    rows = [line for line in text.splitlines() if line.startswith("| SEV-")]
    assert len(rows) == 2
    assert f"| degraded | {named} |" in rows[0]
    assert rows[1].startswith("| SEV-2 | degraded | `test_failed_0` | test_failed_0 — m |")
