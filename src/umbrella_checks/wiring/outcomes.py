"""Outcomes mapped once: where the domain's typed outcomes (``errors.py``) become pytest's, and
every report carries its type, severity and root cause as attributes (never a message prefix).

Registered wherever the suite runs, xdist workers included: a report is typed where it is made
and travels typed to the controller, which alone decides what the run's reports add up to
(``controller.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from umbrella_checks.errors import CheckFailed, NotJudged, Outcome, RootCause
from umbrella_checks.evidence import Seen
from umbrella_checks.operations.incident import SEVERITIES
from umbrella_checks.wiring.runstate import run_of

DEFAULT_SEVERITY = "SEV-3"

# Latency samples a check took, by request line, in ms (``Figures.samples``): carried on its
# report to the controller, for the baseline.
samples_key = pytest.StashKey[dict[str, list[float]]]()
# What a check saw and held it to, in its setup and call (``evidence.py``).
seen_key = pytest.StashKey[list[Seen]]()
# Sections a check adds to the top of the HTML report: (title, markup) (``ReportNotes.section``).
sections_key = pytest.StashKey[list[tuple[str, str]]]()
# The title of the report section that holds it (the HTML row shows it expanded), and the name
# of the user property (JUnit) that carries each line.
EVIDENCE = "umbrella: what it saw, and what it held it to"
EVIDENCE_PROPERTY = "evidence"

if TYPE_CHECKING:
    from _pytest.outcomes import Failed, Skipped
else:
    Failed = pytest.fail.Exception  # pytest's public names for them
    Skipped = pytest.skip.Exception


class _Reported(Failed):
    """A ``CheckFailed`` on its way through pytest, as a failure without a traceback
    (``pytrace=False``): pytest shows its message and never formats the frames and their
    locals, which could hold a token (and which cost time on every failing check)."""

    def __init__(self, failure: CheckFailed) -> None:
        super().__init__(failure.message, pytrace=False)
        self.outcome: Outcome = failure


class _NotJudged(Skipped):
    """A ``NotJudged`` outcome on its way through pytest: a skip, its type kept for the report
    (which ``pytest_runtest_makereport`` locates at the check, not at a fixture)."""

    def __init__(self, outcome: NotJudged) -> None:
        super().__init__(outcome.message)
        self.outcome: Outcome = outcome


@contextlib.contextmanager
def mapped_outcomes() -> Iterator[None]:
    """The one place domain outcomes become pytest's."""
    try:
        yield
    except CheckFailed as failure:
        raise _Reported(failure) from None
    except NotJudged as outcome:
        raise _NotJudged(outcome) from None


def _outcome_of(call: pytest.CallInfo[None]) -> Outcome | None:
    value = call.excinfo.value if call.excinfo is not None else None
    if isinstance(value, _Reported | _NotJudged):
        return value.outcome
    return value if isinstance(value, Outcome) else None


def severity_of(item: pytest.Item) -> str:
    """The check's declared SEV level (its own marker, else its module's), else SEV-3."""
    marker = item.get_closest_marker("severity")
    level = str(marker.args[0]) if marker is not None and marker.args else DEFAULT_SEVERITY
    if level not in SEVERITIES:
        raise pytest.UsageError(
            f"{item.nodeid}: severity {level!r} is not one of {', '.join(SEVERITIES)}; "
            "mark it @pytest.mark.severity('SEV-2')"
        )
    return level


def most_severe(*levels: str | None) -> str:
    return min((level for level in levels if level), key=SEVERITIES.index)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    outcome = _outcome_of(call)
    # Typed, so the controller, reports, --umbrella-strict-skips, notes and alerts never parse
    # a message (the attributes travel with the report from xdist workers).
    severity = severity_of(item)
    if outcome is not None:
        report.umbrella_outcome = outcome.kind  # type: ignore[attr-defined]
    if isinstance(outcome, NotJudged) and report.skipped:
        report.longrepr = skip_at_check(item, outcome.message)
    if isinstance(outcome, CheckFailed):
        # The message is the whole story: no traceback, so no locals that could hold a token. A
        # root cause leads with itself: whichever check met it first, the line names what failed.
        cause = f"root cause: {outcome.summary}: " if isinstance(outcome, RootCause) else ""
        report.longrepr = cause + outcome.message
        report.umbrella_signature = outcome.signature  # type: ignore[attr-defined]
        if outcome.route and outcome.expected:
            report.umbrella_problem = [outcome.route, outcome.expected]  # type: ignore[attr-defined]
    if isinstance(outcome, RootCause):
        report.umbrella_cause = (outcome.cause, outcome.summary)  # type: ignore[attr-defined]
        report.umbrella_fixed = outcome.fixed  # type: ignore[attr-defined]
        if outcome.fixed and outcome.severity:
            severity = outcome.severity
        else:
            severity = most_severe(severity, outcome.severity)
    report.umbrella_severity = severity  # type: ignore[attr-defined]
    if report.when == "call" and samples_key in item.stash:
        report.umbrella_samples = item.stash[samples_key]  # type: ignore[attr-defined]
    if report.when == "call" and sections_key in item.stash:
        report.umbrella_sections = item.stash[sections_key]  # type: ignore[attr-defined]
    if report.when == "call" and item.stash.get(seen_key, None):
        lines = "\n".join(seen.line for seen in item.stash[seen_key])
        report.sections.append((EVIDENCE, lines))
    _attach_exchanges(item, report)
    return report


def _attach_exchanges(item: pytest.Item, report: pytest.TestReport) -> None:
    """What the check sent and got (method, URL, status, time; never a header or body), as a
    section of its report: the HTML report shows the evidence of a pass, not only of a fail."""
    client = run_of(item.config).client
    if client is None or report.when == "teardown":
        return
    if report.when == "setup" and report.passed:
        return  # kept for the call's report, with what the check itself sends
    lines = client.exchanges.pop(item.nodeid, [])
    if lines:
        report.sections.append(("umbrella: requests sent and answers", "\n".join(lines)))


def skip_at_check(item: pytest.Item, message: str) -> tuple[str, int, str]:
    """A skip as pytest shows it, located at the check (not the fixture that raised it)."""
    return (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {message}")


def skip_reason(report: pytest.TestReport) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return str(reason).removeprefix("Skipped: ")


def outcome_kind(report: pytest.TestReport) -> str | None:
    """The typed outcome a report carries ("cannot-judge", "refused"…), None for pytest's own."""
    return getattr(report, "umbrella_outcome", None)
