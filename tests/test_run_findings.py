"""What a run keeps while it goes, read by its closing lines: "could not judge" notes grouped
by reason, and a health answer that is or is not the Umbrella API's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import RunChecks
from umbrella_checks.target.answer import Answer
from umbrella_checks.wiring.probe import not_the_api
from umbrella_checks.wiring.runstate import Findings


def _notes(*not_judged: tuple[str, str]) -> list[str]:
    return Findings(not_judged=list(not_judged)).not_judged_notes()


def test_one_check_is_named_with_its_reason() -> None:
    assert _notes(("test_a", "no token")) == ["could not judge test_a: no token"]


@pytest.mark.parametrize(
    ("count", "listed"),
    [
        pytest.param(5, "test_0, test_1, test_2, test_3, test_4", id="five-listed"),
        pytest.param(6, "test_0, test_1, test_2, test_3, test_4 and 1 more", id="six"),
    ],
)
def test_checks_stopped_by_one_reason_are_one_line(count: int, listed: str) -> None:
    notes = _notes(*((f"test_{n}", "target hung") for n in range(count)))
    assert notes == [f"could not judge {count} checks: target hung — {listed}"]


def test_each_reason_has_its_line_in_the_order_met() -> None:
    notes = _notes(("test_a", "no token"), ("test_b", "hung"), ("test_c", "hung"))
    assert notes == [
        "could not judge test_a: no token",
        "could not judge 2 checks: hung — test_b, test_c",
    ]


def _health(status: int, body: bytes) -> Answer:
    return Answer("GET", "http://t/v1/health", httpx.Response(status, content=body), 0.1)


@pytest.mark.parametrize(
    ("status", "body", "stranger"),
    [
        pytest.param(500, b"<html>oops</html>", False, id="500-is-the-api-failing"),
        pytest.param(499, b"<html>hi</html>", True, id="499-html-is-not-the-api"),
        pytest.param(200, b'{"success": true}', False, id="200-json-object"),
    ],
)
def test_a_health_answer_is_the_api_or_a_stranger(status: int, body: bytes, stranger: bool) -> None:
    assert (not_the_api(_health(status, body)) is not None) is stranger


def test_a_second_run_writes_beside_the_first(run_checks: RunChecks, suite_dir: Path) -> None:
    """The reports folder exists from the first run: the second adds its own report."""
    for _ in range(2):
        run = run_checks("checks/test_health.py", "-m", "postdeploy", "-k", "answers_200")
        assert run.passed_names() == ["test_health_answers_200"]
    assert len(list((suite_dir / "reports").glob("postdeploy-2*.html"))) == 2
