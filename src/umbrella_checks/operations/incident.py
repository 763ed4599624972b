"""A failed run leaves a pre-filled incident log (runbook › Incident Log Template)."""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The runbook's levels, most severe first: SEV-1 production down or auth open (immediate),
# SEV-2 degraded (< 15 min), SEV-3 minor (< 1 h).
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3")


@dataclass(frozen=True)
class Failure:
    nodeid: str
    message: str
    # Declared on the check (``@pytest.mark.severity``), never guessed from its wording.
    severity: str = "SEV-3"
    # The phase it failed in: "setup" (a fixture: the target hung, a credential expired),
    # "call" or "teardown".
    phase: str = "call"
    # The typed outcome ("failed": judged the service; "could-not-check", "unreachable",
    # "missing-input" under --umbrella-strict-skips …; "error": the suite itself broke).
    kind: str = "failed"
    # The request and the expectation it missed (``CheckFailed.route/expected``), when an
    # answer failed the check: what groups one problem on many routes.
    route: str | None = None
    expected: str | None = None
    # The same check failed for the same reason in the pre-deploy baseline: a rollback would
    # not fix it (``operations/baseline.py``).
    pre_existing: bool = False
    # The reason, the same run after run (``CheckFailed.signature``); None for the suite's own
    # errors.
    signature: str | None = None
    # The root cause this failure reports ("GET /v1/health answers 500"), whichever check met
    # it first: what alerts and incidents name, and what makes two runs the same incident.
    cause: str | None = None

    @property
    def what(self) -> str:
        """What failed, for alerts: the root cause, else the check."""
        return f"root cause: {self.cause}" if self.cause else self.name

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]


@dataclass(frozen=True)
class Group:
    """Failures with one signature: the same expectation missed, on one or more routes."""

    failures: tuple[Failure, ...]
    problem: str | None = None  # "expected …" when the failures share one across routes
    routes: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return severity(list(self.failures))

    def line(self, width: int = 300) -> str:
        """One line for a timeline or a summary: the problem and its routes, or the failure."""
        if self.problem is None:
            only = self.failures[0]
            where = "" if only.phase == "call" else f" (in {only.phase})"
            return f"{only.name}{where} — {shorten(only.message, width)}"
        listed = ", ".join(self.routes[:5])
        more = f" and {len(self.routes) - 5} more" if len(self.routes) > 5 else ""
        return shorten(
            f"one problem on {len(self.routes)} routes, {len(self.failures)} checks: expected "
            f"{self.problem} — {listed}{more}",
            width,
        )


def shorten(text: str, width: int) -> str:
    """Whitespace folded, cut at a word boundary (never mid-word) with an ellipsis."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder=" …")


def grouped(failures: list[Failure]) -> list[Group]:
    """Failures with the same expectation missed on two or more routes (a stack trace in
    every error body, every route answering HTML) as one group each; the rest one by one, in
    the order they came."""
    by_problem: dict[str, list[Failure]] = {}
    for failure in failures:
        if failure.route and failure.expected:
            by_problem.setdefault(failure.expected, []).append(failure)
    groups: list[Group] = []
    placed: set[int] = set()
    for failure in failures:
        if id(failure) in placed:
            continue
        members = by_problem.get(failure.expected or "", []) if failure.route else []
        routes = tuple(dict.fromkeys(member.route or "" for member in members))
        if len(routes) >= 2:
            placed.update(id(member) for member in members)
            groups.append(Group(tuple(members), failure.expected, routes))
        else:
            placed.add(id(failure))
            groups.append(Group((failure,)))
    return groups


def severity(failures: list[Failure]) -> str:
    """The incident's level: the most severe level declared by a failed check."""
    levels = [f.severity for f in failures if f.severity in SEVERITIES]
    return min(levels, key=SEVERITIES.index) if levels else SEVERITIES[-1]


def draft(
    failures: list[Failure],
    *,
    tier: str,
    target: str,
    started: datetime,
    report: Path,
    changes: list[tuple[str, str, str]] | None = None,
) -> str:
    """The runbook's Incident Log Template, pre-filled (long: it is the template's text); with
    a baseline, what changed since it goes under Root Cause, before and after."""
    sev = severity(failures)
    first = failures[0].what if failures else "unknown"
    timeline = "\n".join(
        f"- {started:%H:%M} - Detected by umbrella-checks ({tier}) [{group.severity}]: "
        f"{group.line()}"
        for group in grouped(failures)
    )
    since = "\n".join(
        f"- {what}: before the deploy {shorten(before, 200)}; after {shorten(after, 200)}"
        for what, before, after in changes or []
    )
    cause = (
        f"Since the pre-deploy baseline:\n{since}"
        if since
        else "[Description of what caused the incident]"
    )
    return f"""## Incident: {tier} checks failed on {target} ({first})

**Date:** {started:%Y-%m-%d}
**Time:** {started:%H:%M} UTC
**Severity:** {sev}
**Status:** Open

### Timeline
{timeline}
- HH:MM - Team notified
- HH:MM - Investigation started
- HH:MM - Mitigation applied
- HH:MM - Issue resolved

### Impact
- Users affected: [number/percentage]
- Duration: [minutes/hours]
- Services impacted: [list]

### Root Cause
{cause}

### Resolution
[Description of how it was fixed]

### Action Items
- [ ] Fix underlying issue
- [ ] Add monitoring/alerting
- [ ] Update runbook
- [ ] Review with team

### Lessons Learned
[What we learned and how to prevent in future]

Report: {report}
"""


def signature(failures: list[Failure]) -> str:
    """What failed — each root cause, else each check: one incident per signature and UTC day,
    however a run's workers met the cause first."""
    names = "\n".join(sorted({f.cause or f.nodeid for f in failures}))
    return hashlib.sha256(names.encode()).hexdigest()[:10]


def write(
    reports_dir: Path, text: str, started: datetime, failures: list[Failure], tier: str
) -> tuple[Path, bool]:
    """The draft for this incident, and whether it is new. A run that fails the same way the
    same day adds one line to the existing draft instead of a second incident."""
    path = reports_dir / f"incident-{started:%Y-%m-%d}-{signature(failures)}.md"
    if path.exists():
        with path.open("a", encoding="utf-8") as draft_file:
            draft_file.write(f"- {started:%H:%M} - Seen again by umbrella-checks ({tier})\n")
        return path, False
    path.write_text(text, encoding="utf-8")
    return path, True
