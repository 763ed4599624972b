"""The run's verdict on the service, apart from pytest's exit code.

Exit code 1 says "something failed"; CI must not roll production back because pip could not
install, a secret is missing (``--umbrella-strict-skips``), the runner has no network or
Cloudflare's API did not answer. Only a check that judged the service from its answers (a
``CheckFailed``, not a ``CouldNotCheck``, an ``Unreachable`` or a skip made strict) makes the
verdict "broken".
No pytest import here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from umbrella_checks.operations.incident import Failure, grouped
from umbrella_checks.secrets import scrub

HEALTHY = "healthy"
BROKEN = "broken"
COULD_NOT_RUN = "could-not-run"

# Failure kinds that are a verdict on the service (``Failure.kind``).
JUDGED = frozenset({"failed"})


@dataclass(frozen=True)
class Verdict:
    word: str  # healthy, broken or could-not-run: what a workflow decides a rollback on
    why: str

    @property
    def line(self) -> str:
        return f"verdict: {self.word} — {self.why}"


def verdict_of(exitstatus: int, failures: list[Failure]) -> Verdict:
    judged = [failure for failure in failures if failure.kind in JUDGED]
    if judged:
        names = ", ".join(dict.fromkeys(failure.name for failure in judged[:5]))
        more = f" and {len(judged) - 5} more" if len(judged) > 5 else ""
        return Verdict(BROKEN, f"{len(judged)} check(s) judged the service broken: {names}{more}")
    if exitstatus == 0:
        return Verdict(HEALTHY, "no check judged the service broken")
    if failures:
        kinds = Counter(failure.kind for failure in failures)
        listed = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        return Verdict(
            COULD_NOT_RUN,
            f"no check judged the service broken, but {len(failures)} failed without a "
            f"verdict ({listed}): fix the run, not the service",
        )
    return Verdict(COULD_NOT_RUN, f"pytest ended with exit code {exitstatus} before judging")


def step_summary(
    verdict: Verdict,
    failures: list[Failure],
    notes: list[str],
    *,
    tier: str,
    target: str,
    report: str,
) -> str:
    """The verdict as Markdown for a CI job's summary page (``$GITHUB_STEP_SUMMARY``): on-call
    reads it on the run's page instead of downloading the report. Secrets scrubbed."""
    lines = [
        f"### umbrella-checks {tier} on {target}: **{verdict.word}**",
        "",
        _cell(verdict.why),
        "",
    ]
    if failures:
        lines += ["| SEV | failed | what |", "|---|---|---|"]
        for group in grouped(failures):
            names = ", ".join(f"`{f.name}`" for f in group.failures[:3])
            more = f" and {len(group.failures) - 3} more" if len(group.failures) > 3 else ""
            lines.append(f"| {group.severity} | {names}{more} | {_cell(group.line(400))} |")
        lines.append("")
    lines += [f"- {_cell(note)}" for note in notes]
    lines += ["", f"Report: `{report}`", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return scrub(" ".join(text.split())).replace("|", "\\|")
