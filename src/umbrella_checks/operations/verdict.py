"""The run's verdict on the service, apart from pytest's exit code: the one word CI acts on.

The model and its table of situations are ``docs/verdict.md``; this is that table as code.
Exit code 1 says "something failed"; CI must not roll production back because pip could not
install, a secret is missing, the runner has no network, the URL is wrong or Cloudflare's API
did not answer — nor because a route is 50 ms over its budget, which the runbook leaves to a
person. Only a check that judged the service from its answers (``Failure.kind`` "failed"),
at a severity the runbook rolls back on (SEV-1), and — with a baseline — new since the deploy,
makes the verdict ``broken``. No pytest import here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from umbrella_checks.operations.incident import Failure, grouped
from umbrella_checks.secrets import scrub
from umbrella_checks.target.safety import LET_THROUGH

HEALTHY = "healthy"
BROKEN = "broken"
DEGRADED = "degraded"
PRE_EXISTING = "pre-existing"
COULD_NOT_RUN = "could-not-run"

# Every verdict, the first that applies winning (docs/verdict.md): evidence of a rollback-worthy
# failure is acted on whatever else happened; doubt comes before degradation, because a gate
# that did not finish judging cannot say the damage is only degradation.
VERDICTS = (BROKEN, COULD_NOT_RUN, DEGRADED, PRE_EXISTING, HEALTHY)

# Failure kinds that are a verdict on the service (``Failure.kind``); every other kind of
# failure — could-not-check, unreachable, not-the-api, would-trip-limit, missing-input and
# cannot-judge made strict, error (the suite's own) — is doubt about the run.
JUDGED = frozenset({"failed"})

# What the runbook does about a judged failure, by its severity (Rollback Procedures › When to
# Rollback; Incident Response › Severity Levels).
ACTION = {
    "SEV-1": BROKEN,  # "roll back if … health check failing, critical functionality broken …"
    "SEV-2": DEGRADED,  # "consider rollback if caused by recent deployment": a person decides
    "SEV-3": DEGRADED,  # "create issue for tracking"
}

# pytest's exit codes after which the checks' findings are all there is (0 passed, 1 failed):
# any other (interrupted, internal error, usage error, nothing collected) ended before judging.
_FINISHED = (0, 1)


@dataclass(frozen=True)
class Verdict:
    word: str  # one of VERDICTS: what a workflow decides a rollback on
    why: str

    @property
    def line(self) -> str:
        return f"verdict: {self.word} — {self.why}"

    @property
    def rolls_back(self) -> bool:
        return self.word == BROKEN


@dataclass(frozen=True)
class NotJudged:
    """A check that gave no verdict, as a skip: why, and its outcome's kind ("refused",
    "not-applicable", "missing-input", "cannot-judge"; "stopped" by a root cause)."""

    name: str
    kind: str
    reason: str


def _names(failures: Sequence[Failure], limit: int = 5) -> str:
    names = list(dict.fromkeys(failure.what for failure in failures))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _counted(kinds: Sequence[str]) -> str:
    counts = Counter(kinds)
    return ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))


def is_doubt(failure: Failure) -> bool:
    return failure.kind not in JUDGED


def action_of(failure: Failure) -> str:
    """What one failure asks of CI on its own: its verdict word."""
    if is_doubt(failure):
        return COULD_NOT_RUN
    if failure.pre_existing:
        return PRE_EXISTING
    return ACTION.get(failure.severity, DEGRADED)


def verdict_of(
    exitstatus: int,
    failures: Sequence[Failure],
    *,
    passed: int = 0,
    not_judged: Sequence[NotJudged] = (),
    warnings: Sequence[str] = (),
) -> Verdict:
    """The run's verdict from what its checks found: ``failures`` (typed, with severity and
    whether the baseline had them), ``passed`` (checks that judged the service and found it
    fine), ``not_judged`` (checks that gave no verdict, and why) and ``warnings`` (named beside
    a healthy verdict, never changing it: a route slower than before the deploy)."""
    by_action: dict[str, list[Failure]] = {word: [] for word in VERDICTS}
    for failure in failures:
        by_action[action_of(failure)].append(failure)
    if by_action[BROKEN]:
        broken = by_action[BROKEN]
        return Verdict(
            BROKEN,
            f"{len(broken)} check(s) judged the service broken in a way the runbook rolls back "
            f"on (SEV-1): {_names(broken)}",
        )
    found = _also(by_action)
    if by_action[COULD_NOT_RUN]:
        doubt = by_action[COULD_NOT_RUN]
        return Verdict(
            COULD_NOT_RUN,
            f"no check judged the service broken, but {len(doubt)} failed without a verdict on "
            f"it ({_counted([f.kind for f in doubt])}): fix the run, not the service{found}",
        )
    if exitstatus not in _FINISHED:
        return Verdict(
            COULD_NOT_RUN, f"pytest ended with exit code {exitstatus} before judging{found}"
        )
    if by_action[DEGRADED]:
        degraded = by_action[DEGRADED]
        return Verdict(
            DEGRADED,
            f"{len(degraded)} check(s) found the service degraded (SEV-2/SEV-3: the runbook "
            f"leaves the rollback to a person): {_names(degraded)}{_also(by_action, DEGRADED)}",
        )
    if by_action[PRE_EXISTING]:
        before = by_action[PRE_EXISTING]
        return Verdict(
            PRE_EXISTING,
            f"{len(before)} check(s) failed, each as it did before the deploy (the baseline): "
            f"{_names(before)}; a rollback would not fix it",
        )
    if passed <= 0:
        return Verdict(COULD_NOT_RUN, nothing_judged(not_judged))
    warned = f"; {len(warnings)} warning(s): {warnings[0]}" if warnings else ""
    return Verdict(HEALTHY, _healthy(passed, not_judged) + warned)


def _also(by_action: dict[str, list[Failure]], shown: str = "") -> str:
    """What else the run found, beside the verdict's own reason."""
    parts = [
        f"{len(by_action[word])} {word} ({_names(by_action[word], 3)})"
        for word in (DEGRADED, PRE_EXISTING)
        if word != shown and by_action[word]
    ]
    return f"; also found: {'; '.join(parts)}" if parts else ""


def nothing_judged(not_judged: Sequence[NotJudged]) -> str:
    """Why a run that failed nothing still says nothing about the service."""
    if not not_judged:
        return "no selected check judged the service"
    if all(check.kind == "refused" for check in not_judged):
        return (
            f"no selected check judged the service: the safety guard refused all "
            f"{len(not_judged)} ({not_judged[0].reason}); to let them through, {LET_THROUGH}"
        )
    kinds = _counted([check.kind for check in not_judged])
    first = not_judged[0].reason
    return (
        f"no selected check judged the service ({len(not_judged)} did not: {kinds}); "
        f"the first said: {first}"
    )


# Checks that did not judge by choice (the guard, the config) or because a defect another
# check failed on stopped them: counted, not named, beside a healthy verdict.
CHOSEN = frozenset({"refused", "not-applicable", "stopped"})


def _healthy(passed: int, not_judged: Sequence[NotJudged]) -> str:
    text = f"{passed} check(s) judged the service; none failed"
    if not_judged:
        text += f"; {len(not_judged)} did not judge ({_counted([c.kind for c in not_judged])})"
    doubt = [check for check in not_judged if check.kind not in CHOSEN]
    if doubt:
        names = ", ".join(check.name for check in doubt[:5])
        more = f" and {len(doubt) - 5} more" if len(doubt) > 5 else ""
        text += f": {names}{more}"
    return text


def step_summary(
    verdict: Verdict,
    failures: list[Failure],
    notes: list[str],
    *,
    tier: str,
    target: str,
    report: str,
    changes: Sequence[tuple[str, str, str]] = (),
    evidence: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The verdict as Markdown for a CI job's summary page (``$GITHUB_STEP_SUMMARY``): on-call
    reads it on the run's page instead of downloading the report; with a baseline, what
    changed since it, before and after side by side; folded under them, what each passing
    check saw and held it to. Secrets scrubbed."""
    lines = [
        f"### umbrella-checks {tier} on {target}: **{verdict.word}**",
        "",
        _cell(verdict.why),
        "",
    ]
    if failures:
        lines += ["| SEV | verdict | failed | what |", "|---|---|---|---|"]
        for group in grouped(failures):
            names = ", ".join(f"`{f.name}`" for f in group.failures[:3])
            more = f" and {len(group.failures) - 3} more" if len(group.failures) > 3 else ""
            word = action_of(group.failures[0])
            lines.append(
                f"| {group.severity} | {word} | {names}{more} | {_cell(group.line(400))} |"
            )
        lines.append("")
    if changes:
        lines += ["#### Since the baseline", "", "| what | before | after |", "|---|---|---|"]
        lines += [
            f"| `{what}` | {_cell(before)} | {_cell(after)} |" for what, before, after in changes
        ]
        lines.append("")
    lines += [f"- {_cell(note)}" for note in notes]
    if evidence:
        lines += [
            "",
            f"<details><summary>What the {len(evidence)} passing checks saw</summary>",
            "",
        ]
        lines += ["| check | saw, and held it to |", "|---|---|"]
        lines += [
            f"| `{name}` | {'<br>'.join(_cell(line) for line in seen)} |"
            for name, seen in evidence.items()
        ]
        lines += ["", "</details>"]
    lines += ["", f"Report: `{report}`", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return scrub(" ".join(text.split())).replace("|", "\\|")
