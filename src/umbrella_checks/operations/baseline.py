"""A pre-deploy baseline: what the gate saw just before the deploy, so it knows what the deploy
changed (runbook: roll back "if caused by recent deployment").

``--umbrella-baseline-out`` writes one from a read-only post-deploy run: the target's identity
(its URL, whether it answered as the Umbrella API, its environment and version), every check's
outcome with the signature of its reason, and each critical route's latency samples.
``--umbrella-baseline`` compares the post-deploy run with it:

- the same URL shown to be the Umbrella API before, not now: the deploy lost its routes
  (``broken``, not the doubt a wrong URL is; judged as checks set up);
- a check failing before and after for the same reason (or a root cause met in both):
  ``pre-existing`` — a rollback would not fix it;
- a route slower than before beyond noise (a one-sided Mann-Whitney U test, and a minimum
  effect), named even inside its budget: a warning, not a rollback — Kayenta's way of judging
  a canary metric against its baseline.

A baseline from another URL or environment, or older than ``[baseline] max_age``, is refused
when the run starts. No pytest here.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from umbrella_checks.config.suite import Baseline as Rules
from umbrella_checks.moments import utc_text
from umbrella_checks.operations.incident import Failure
from umbrella_checks.target.safety import normalise_url

FORMAT = 1
# A baseline stamped further ahead of this machine's clock than this is refused too.
CLOCK_SLACK = timedelta(minutes=5)


class BaselineError(Exception):
    """A baseline that cannot be used, as one line for the user."""


@dataclass(frozen=True)
class Identity:
    """Who answered at the target's URL."""

    url: str  # normalised (safety.normalise_url)
    umbrella: bool  # the health route answered as the Umbrella API does
    environment: str | None  # what the target reported
    version: str | None
    expected_environment: str  # what the run expected (--umbrella-environment)


@dataclass(frozen=True)
class Seen:
    """A check's outcome: passed, failed or skipped, its kind and the signature of its reason
    (``Failure.signature``: the same reason gives the same signature, run after run)."""

    outcome: str
    kind: str | None = None
    signature: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Baseline:
    taken_at: datetime
    identity: Identity
    checks: dict[str, Seen] = field(default_factory=dict)
    # Root causes met (failed, or stopped a check), by ``RootCause.cause``.
    causes: tuple[str, ...] = ()
    # Request line ("GET /v1/artists?limit=5") -> the service's time of each sample, in ms.
    latency: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["taken_at"] = self.taken_at.isoformat()
        return json.dumps({"format": FORMAT, **data}, indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(
                f"baseline {path} does not exist; take one with "
                "--umbrella-baseline-out before the deploy"
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BaselineError(f"baseline {path} cannot be read ({exc})") from None
        try:
            if data.pop("format") != FORMAT:
                raise ValueError("another format")
            return cls(
                taken_at=datetime.fromisoformat(data["taken_at"]),
                identity=Identity(**data["identity"]),
                checks={name: Seen(**seen) for name, seen in data["checks"].items()},
                causes=tuple(data["causes"]),
                latency={route: [float(v) for v in ms] for route, ms in data["latency"].items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BaselineError(
                f"baseline {path} is not one this suite wrote ({type(exc).__name__}: {exc}); "
                "take a new one with --umbrella-baseline-out"
            ) from None

    def refusal(self, base_url: str, environment: str, now: datetime, max_age: float) -> str | None:
        """Why this baseline says nothing about this run, or None."""
        url = normalise_url(base_url)
        if self.identity.url != url:
            return f"it was taken of {self.identity.url}, and this run checks {url}"
        if self.identity.expected_environment != environment:
            return (
                f"it was taken expecting environment {self.identity.expected_environment}, and "
                f"this run expects {environment}"
            )
        age = now - self.taken_at
        if age > timedelta(seconds=max_age):
            return (
                f"it was taken at {utc_text(self.taken_at)}, {age.total_seconds() / 60:.0f} min "
                f"ago, more than [baseline] max_age ({max_age / 60:g} min): take it just before "
                "the deploy"
            )
        if -age > CLOCK_SLACK:
            return f"it is stamped {utc_text(self.taken_at)}, ahead of this machine's clock"
        return None

    @property
    def described(self) -> str:
        version = f", version {self.identity.version}" if self.identity.version else ""
        return f"the baseline taken at {utc_text(self.taken_at)}{version}"


def pre_existing(failure: Failure, baseline: Baseline) -> bool:
    """Did the same check fail before the deploy for the same reason, or the same root cause
    stop checks then as now?"""
    if failure.kind != "failed" or failure.signature is None:
        return False
    if failure.signature.startswith("cause:"):
        return failure.signature.removeprefix("cause:") in baseline.causes
    before = baseline.checks.get(failure.name)
    return (
        before is not None and before.outcome == "failed" and before.signature == failure.signature
    )


def compared(failures: Sequence[Failure], baseline: Baseline) -> list[Failure]:
    """The run's failures, judged against the baseline (a lost identity is judged when the
    run starts: ``wiring/hooks.refuse_a_stranger``)."""
    return [replace(f, pre_existing=pre_existing(f, baseline)) for f in failures]


@dataclass(frozen=True)
class Shift:
    """A route slower than before the deploy."""

    route: str
    before: list[float]
    after: list[float]
    p: float

    @property
    def line(self) -> str:
        return (
            f"{self.route}: median {statistics.median(self.before):.0f} ms → "
            f"{statistics.median(self.after):.0f} ms, slower than before the deploy "
            f"(Mann-Whitney U one-sided p = {self.p:.2g}, {len(self.before)} and "
            f"{len(self.after)} samples)"
        )


def shifts(
    before: Mapping[str, Sequence[float]], after: Mapping[str, Sequence[float]], rules: Rules
) -> list[Shift]:
    """Routes whose service time grew beyond noise: the rank test one-sided (after greater)
    below ``alpha``, and the median at least ``min_shift`` and ``min_ratio`` times higher."""
    from scipy.stats import mannwhitneyu  # only a run compared with a baseline needs it

    found = []
    for route in sorted(set(before) & set(after)):
        old, new = list(before[route]), list(after[route])
        if len(old) < 2 or len(new) < 2:
            continue
        grew = statistics.median(new) - statistics.median(old)
        if grew < rules.min_shift * 1000 or statistics.median(
            new
        ) < rules.min_ratio * statistics.median(old):
            continue
        p = float(mannwhitneyu(new, old, alternative="greater").pvalue)
        if p < rules.alpha:
            found.append(Shift(route, old, new, p))
    return found


def taken(
    *,
    taken_at: datetime,
    identity: Identity,
    outcomes: Iterable[tuple[str, Seen]],
    causes: Iterable[str],
    latency: Mapping[str, Sequence[float]],
) -> Baseline:
    return Baseline(
        taken_at.astimezone(UTC),
        identity,
        dict(outcomes),
        tuple(sorted(set(causes))),
        {route: [round(ms, 3) for ms in samples] for route, samples in latency.items()},
    )


def _said(seen: Seen | None) -> str:
    if seen is None:
        return "not run"
    if seen.outcome == "failed":
        return f"failed: {seen.reason}"
    return seen.outcome if seen.outcome == "passed" else f"skipped: {seen.reason}"


def changes(
    failures: Sequence[Failure],
    outcomes: Mapping[str, Seen],
    baseline: Baseline,
    found: Sequence[Shift],
) -> list[tuple[str, str, str]]:
    """What changed since the baseline, as (what, before, after) rows for the reports: every
    failure now (new, or pre-existing), every check that failed before and passes now, and
    every route slower than before."""
    rows = []
    for failure in failures:
        before = baseline.checks.get(failure.name)
        after = "failed, as before" if failure.pre_existing else "failed (new)"
        rows.append((failure.name, _said(before), f"{after}: {failure.message[:300]}"))
    for name, before in baseline.checks.items():
        if before.outcome == "failed" and outcomes.get(name, Seen("absent")).outcome == "passed":
            rows.append((name, _said(before), "passed (fixed by the deploy)"))
    for shift in found:
        rows.append(
            (
                shift.route,
                f"median {statistics.median(shift.before):.0f} ms",
                f"median {statistics.median(shift.after):.0f} ms (slower, p = {shift.p:.2g})",
            )
        )
    return rows
