"""The controller: the one place a run's reports become its findings and its verdict.

Registered only on the process that reports (a serial run, or pytest-xdist's controller),
never on a worker — pytest-xdist's own habit (``DSession`` is registered where it applies).
Every report passes through here, in the order the terminal shows them, before any reporter
reads it: so a serial run and ``-n 2`` give the same outcomes and the same verdict. In order:

1. one failure per root cause: a later check meeting a defect another check already failed on
   is stopped, naming it (its severity lent to that failure when higher);
2. ``--umbrella-strict-skips``: a check that did not judge for a missing input or "cannot
   judge" fails (the guard's refusals, "not applicable" and stopped checks stay skips);
3. the tally: failures, checks that judged, checks that did not, figures, requests.

When the checks end, the verdict is decided and written first; history, the incident draft,
Slack, the step summary and the report follow, each contained: what fails after the verdict is
one line beside it, never a different verdict or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from umbrella_checks.errors import STOPPED, CannotJudge
from umbrella_checks.operations import baseline
from umbrella_checks.operations.baseline import Seen
from umbrella_checks.operations.incident import SEVERITIES, Failure, grouped
from umbrella_checks.operations.verdict import (
    COULD_NOT_RUN,
    NotJudged,
    Verdict,
    step_summary,
    verdict_of,
)
from umbrella_checks.secrets import scrub
from umbrella_checks.target.safety import normalise_url
from umbrella_checks.wiring.aftermath import record_history, report_failures, revoke_minted
from umbrella_checks.wiring.html import withdraw_html_report
from umbrella_checks.wiring.keys import verdict_written
from umbrella_checks.wiring.outcomes import (
    DEFAULT_SEVERITY,
    EVIDENCE_PROPERTY,
    outcome_kind,
    skip_reason,
)
from umbrella_checks.wiring.probe import target_version
from umbrella_checks.wiring.runstate import FIGURE, run_of

# Skips --umbrella-strict-skips leaves alone: refusing is the guard's point, "not applicable" is
# a choice made in the config, and a stopped check's defect already failed once.
_CHOSEN = ("refused", "not-applicable", STOPPED)


class Controller:
    """The run's tally, verdict and summary (see the module's docstring)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run = run_of(config)
        self.passed = 0
        self.not_judged: list[NotJudged] = []
        # --umbrella-strict-skips: each reason's first check (node id), which failed for it.
        self.strict_reasons: dict[str, str] = {}

    # --- every report, in order ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._stop_repeats(report)
        self._strict(report)
        self._tally(report)

    def _stop_repeats(self, report: pytest.TestReport) -> None:
        """The first check to fail on a root cause keeps its failure; a later one is stopped,
        naming it and where it failed — one defect, one failure, however many workers met it."""
        cause = getattr(report, "umbrella_cause", None)
        if cause is None or not report.failed:
            return
        key, summary = cause
        first = self.run.root_causes.setdefault(key, report.nodeid)
        if first == report.nodeid:
            return
        outcome = CannotJudge(f"{summary} (failed once, in {first.split('::', 1)[-1]})")
        report.outcome = "skipped"
        report.umbrella_cause_first = first  # type: ignore[attr-defined]
        report.umbrella_outcome = STOPPED  # type: ignore[attr-defined]
        path, line, _ = report.location
        report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {outcome.message}")
        if not getattr(report, "umbrella_fixed", False):
            self._lend_severity(first, getattr(report, "umbrella_severity", DEFAULT_SEVERITY))

    def _lend_severity(self, first: str, level: str) -> None:
        """A stopped check lends the failure that stopped it its severity when higher: whichever
        check met the defect first, a health route answering 500 stays the SEV-1 it is."""
        failures = self.run.findings.failures
        for index, failure in enumerate(failures):
            if failure.nodeid == first and SEVERITIES.index(level) < SEVERITIES.index(
                failure.severity
            ):
                failures[index] = replace(failure, severity=level)

    def _strict(self, report: pytest.TestReport) -> None:
        """``--umbrella-strict-skips``: a check that did not judge fails — once per reason, as
        for a root cause: one missing token is one failure, the other checks it kept from
        judging are stopped, naming it."""
        if not report.skipped or not self.run.settings.strict_skips:
            return
        if hasattr(report, "wasxfail") or outcome_kind(report) in _CHOSEN:
            return
        reason = skip_reason(report)
        first = self.strict_reasons.setdefault(reason, report.nodeid)
        if first != report.nodeid:
            report.umbrella_outcome = STOPPED  # type: ignore[attr-defined]
            path, line, _ = report.location
            report.longrepr = (
                str(path),
                (line or 0) + 1,
                f"Skipped: {reason} (failed once under --umbrella-strict-skips, in "
                f"{first.split('::', 1)[-1]})",
            )
            return
        report.outcome = "failed"
        report.longrepr = f"--umbrella-strict-skips: this check did not judge: {reason}"

    def _tally(self, report: pytest.TestReport) -> None:
        findings = self.run.findings
        name = report.nodeid.split("::", 1)[-1]
        kind = outcome_kind(report)
        self._keep_for_the_baseline(report, name, kind)
        if report.when == "call" and report.passed:
            self.passed += 1
        for title, markup in getattr(report, "umbrella_sections", ()):
            findings.sections.append((title, markup))
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = skip_reason(report)
            self.not_judged.append(NotJudged(name, kind or "skipped", reason))
            if kind in ("cannot-judge", STOPPED):
                findings.not_judged.append((name, reason.removeprefix("cannot judge: ")))
        if report.failed:
            # Every phase: a hung target fails a check in its fixtures' setup, and pages too.
            route, expected = getattr(report, "umbrella_problem", (None, None))
            cause = getattr(report, "umbrella_cause", None)
            findings.failures.append(
                Failure(
                    report.nodeid,
                    _message(report)[:2000],
                    getattr(report, "umbrella_severity", DEFAULT_SEVERITY),
                    report.when or "call",
                    kind or "error",
                    route,
                    expected,
                    signature=getattr(report, "umbrella_signature", None),
                    cause=cause[1] if cause else None,
                )
            )
        if report.when != "teardown":
            return
        passed = findings.outcomes.get(name) == Seen("passed")
        for key, value in report.user_properties:
            if key == "requests" and hasattr(report, "node"):  # from an xdist worker
                findings.worker_requests += int(str(value))
            elif key == "answered" and hasattr(report, "node"):
                findings.worker_answered += int(str(value))
            elif key.startswith(FIGURE):
                findings.figures[key.removeprefix(FIGURE)] = value
            elif key == EVIDENCE_PROPERTY and passed:
                findings.evidence.setdefault(name, []).append(str(value))

    def _keep_for_the_baseline(
        self, report: pytest.TestReport, name: str, kind: str | None
    ) -> None:
        """Each check's outcome (a failure in any phase wins), the root causes met, and the
        latency samples: what a baseline keeps, and what a run is compared with it by."""
        findings = self.run.findings
        cause = getattr(report, "umbrella_cause", None)
        if cause is not None:
            findings.causes.add(cause[0])
        for route, samples in getattr(report, "umbrella_samples", {}).items():
            findings.latency.setdefault(route, []).extend(samples)
        before = findings.outcomes.get(name)
        if report.failed:
            reason = _message(report)[:300]
            signature = getattr(report, "umbrella_signature", None)
            findings.outcomes[name] = Seen("failed", kind or "error", signature, reason)
        elif report.skipped and (before is None or before.outcome == "passed"):
            findings.outcomes[name] = Seen("skipped", kind, None, skip_reason(report)[:300])
        elif report.when == "call" and report.passed and before is None:
            findings.outcomes[name] = Seen("passed")

    # --- when the checks end ------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """The verdict first, then everything a finished run leaves behind, each contained.
        tryfirst: before pytest-html and junitxml write their reports (and before the terminal
        summary, which pytest prints after every plain implementation)."""
        run = self.run
        run.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if exitstatus == pytest.ExitCode.USAGE_ERROR:
            # Nothing was judged: no history, no alert, no report — the last good evidence
            # stays where it is (see hooks.pytest_unconfigure); the entry point's cleanup
            # writes could-not-run.
            run.usage_error = True
            withdraw_html_report(self.config)  # pytest-html's summary line: no file, no line
            self._contained("closing the target's client", run.close_client)
            self._contained("revoking minted Clerk sessions", lambda: revoke_minted(run))
            return
        try:
            self._compare_with_the_baseline()
        except Exception as exc:  # our own error: doubt, never a verdict on the service
            run.findings.failures.append(
                Failure(
                    "comparing with the baseline",
                    scrub(f"comparing with the baseline failed: {type(exc).__name__}: {exc}"),
                    kind="error",
                )
            )
        verdict = verdict_of(
            exitstatus,
            run.findings.failures,
            passed=self.passed,
            not_judged=self.not_judged,
            warnings=run.findings.warnings,
        )
        run.findings.verdict = verdict
        self._write_verdict(verdict)
        if run.settings.baseline_out is not None:
            self._contained("writing the baseline", self._write_baseline)
        if verdict.word == COULD_NOT_RUN and self.passed == 0 and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # green without judgement: never
        self._contained("closing the target's client", run.close_client)
        self._contained("revoking minted Clerk sessions", lambda: revoke_minted(run))
        self._contained("the report's environment table", self._add_target_version)
        if verdict.word != COULD_NOT_RUN:  # a run in doubt measured nothing to trend
            self._contained("recording history", lambda: record_history(self.config, run))
        self._contained("alerting", lambda: report_failures(self.config, run))
        self._contained("writing the step summary", self._write_summary)

    def _compare_with_the_baseline(self) -> None:
        """With a baseline: lost identity is broken, failures already there are pre-existing,
        slower routes are warnings. Without one, the post-deploy gate says so once."""
        run, findings = self.run, self.run.findings
        if run.baseline is None:
            if run.tier == "postdeploy" and run.settings.baseline_out is None:
                findings.notes.append(
                    "no baseline: every failure is judged as new (a rollback may not fix one "
                    "that was there before the deploy); take one with --umbrella-baseline-out "
                    "just before deploying"
                )
            return
        findings.failures = baseline.compared(findings.failures, run.baseline)
        found = baseline.shifts(
            run.baseline.latency, findings.latency, run.settings.config.baseline
        )
        findings.warnings.extend(shift.line for shift in found)
        findings.changes = baseline.changes(
            findings.failures, findings.outcomes, run.baseline, found
        )
        findings.notes.append(f"compared with {run.baseline.described}")

    def _write_baseline(self) -> None:
        run, probe = self.run, self.run.settled_probe()
        settings = run.settings
        umbrella = (
            probe.error is None
            and probe.stranger is None
            and probe.platform is None
            and probe.status is not None
        )
        taken = baseline.taken(
            taken_at=run.started,
            identity=baseline.Identity(
                normalise_url(settings.base_url),
                umbrella,
                probe.environment,
                probe.version,
                settings.environment,
            ),
            outcomes=run.findings.outcomes.items(),
            causes=run.findings.causes,
            latency=run.findings.latency,
        )
        assert settings.baseline_out is not None
        taken.write(settings.baseline_out)
        run.findings.notes.append(f"baseline written to {settings.baseline_out}")

    def _contained(self, what: str, action: Callable[[], None]) -> None:
        """Run something that follows the verdict; if it fails, the verdict stands and one line
        says what failed (in the terminal, the step summary and the report)."""
        try:
            action()
        except Exception as exc:  # any failure here must not replace the verdict
            self.run.findings.notes.append(
                scrub(f"{what} failed after the verdict was written: {type(exc).__name__}: {exc}")
            )

    def _write_verdict(self, verdict: Verdict) -> None:
        target = self.config.getoption("umbrella_verdict_file")
        if target:
            write_verdict_file(Path(target), verdict.word)
        self.config.stash[verdict_written] = True

    def _add_target_version(self) -> None:
        from umbrella_checks.wiring.hooks import add_metadata

        add_metadata(self.config, **{"Target version": target_version(self.run.settled_probe())})

    def _write_summary(self) -> None:
        summary = self.config.getoption("umbrella_summary")
        run = self.run
        if not summary or run.findings.verdict is None:
            return
        with Path(summary).open("a", encoding="utf-8") as page:
            page.write(
                step_summary(
                    run.findings.verdict,
                    run.findings.failures,
                    [
                        *(f"warning (SEV-3): {w}" for w in run.findings.warnings),
                        *run.findings.not_judged_notes(),
                        *run.findings.notes,
                    ],
                    tier=run.tier,
                    target=run.settings.base_url or "no target",
                    report=str(run.reports.latest if run.reports else "none"),
                    changes=run.findings.changes,
                    evidence=run.findings.evidence,
                )
            )

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        run = self.run
        if run.usage_error:
            return
        write = terminalreporter.write_line
        write(f"umbrella: Target version: {target_version(run.probe)}")
        write(f"umbrella: {run.requests_line}")
        if run.findings.verdict is not None:
            write(f"umbrella: {run.findings.verdict.line}")
        for name, value in sorted(run.findings.figures.items()):
            write(f"umbrella: {name}: {value}")
        for group in grouped(run.findings.failures):
            if group.problem is not None:
                write(f"umbrella: {group.line(width=600)}")
        for warning in run.findings.warnings:
            write(f"umbrella: warning (SEV-3): {warning}")
        for note in [*run.findings.not_judged_notes(), *run.findings.notes]:
            write(f"umbrella: {note}")
        if run.findings.on_demand:
            listed = "; ".join(
                f"{node.split('::', 1)[-1]}: {what}" for node, what in run.findings.on_demand
            )
            write(
                f"umbrella: {len(run.findings.on_demand)} request(s) sent on demand, not declared "
                f"by the check that sent them (each drops what is prefetched): {listed}"
            )


def write_verdict_file(path: Path, word: str) -> None:
    """The verdict, alone on a line (a workflow reads it with ``cat``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{word}\n", encoding="utf-8")


def _message(report: pytest.TestReport) -> str:
    """A failure's own message: ours as it was set (an xdist worker's report would prepend its
    "[gw1] linux -- Python …" line to the text pytest renders), else pytest's."""
    if isinstance(report.longrepr, str):
        return report.longrepr.strip()
    return report.longreprtext.strip()
