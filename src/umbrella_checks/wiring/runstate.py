"""What one run shares between the plugin's hooks and its fixtures: one ``Run`` in the stash.

How a run is set up from the command line is ``startup.py``; what the start-of-run probe
learned is ``probe.py``.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from umbrella_checks.config.matrix import Row
from umbrella_checks.operations.baseline import Baseline, Seen
from umbrella_checks.operations.incident import Failure
from umbrella_checks.operations.verdict import Verdict
from umbrella_checks.services.clerk import TokenStore
from umbrella_checks.settings import Settings
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.client import ApiClient
from umbrella_checks.transport import RequestCounter
from umbrella_checks.wiring.reporting import ReportPaths

if TYPE_CHECKING:
    from umbrella_checks.sandbox.process import SandboxProcess


from umbrella_checks.wiring.probe import PENDING, Probe, probe_of


@dataclass
class Findings:
    """What the run found, as its reports, alerts and verdict read it: filled by the hooks as
    reports come in (on the controller, also from xdist workers), read when the session ends.
    No fixture or check touches it."""

    # Requests that xdist workers reported (the controller's own are in ``counter``).
    worker_requests: int = 0
    worker_answered: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Requests checks sent without having declared them: (check node id, "GET /path").
    on_demand: list[tuple[str, str]] = field(default_factory=list)
    # (check name, why) for each check that gave no verdict for lack of data.
    not_judged: list[tuple[str, str]] = field(default_factory=list)
    # Each check's outcome, the root causes met, and latency samples by request line (ms): what
    # a baseline keeps.
    outcomes: dict[str, Seen] = field(default_factory=dict)
    causes: set[str] = field(default_factory=set)
    latency: dict[str, list[float]] = field(default_factory=dict)
    # Named beside the verdict without changing it (a route slower than before the deploy).
    warnings: list[str] = field(default_factory=list)
    # What changed since the baseline: (what, before, after), for the reports.
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    # Sections checks put at the top of the HTML report: (title, markup) — the trend charts.
    sections: list[tuple[str, str]] = field(default_factory=list)
    # What each passing check saw and held it to (its "evidence" properties), for the summary.
    evidence: dict[str, list[str]] = field(default_factory=dict)

    def not_judged_notes(self) -> list[str]:
        """ "could not judge …" lines, one per reason: 44 checks stopped by one root cause
        are one line, not 44."""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.not_judged:
            by_reason.setdefault(reason, []).append(name)
        notes = []
        for reason, names in by_reason.items():
            if len(names) == 1:
                notes.append(f"could not judge {names[0]}: {reason}")
                continue
            listed = ", ".join(names[:5]) + (
                f" and {len(names) - 5} more" if len(names) > 5 else ""
            )
            notes.append(f"could not judge {len(names)} checks: {reason} — {listed}")
        return notes

    # The run's verdict on the service (controller, at session end): what CI rolls back on.
    verdict: Verdict | None = None


@dataclass
class Run:
    """Everything one pytest process knows about this run: its settings, the target's client
    and probe, its reports — and what it found (``findings``)."""

    settings: Settings
    started: datetime
    # The -m expression when it names one tier (postdeploy, daily, weekly), else "custom".
    tier: str = "custom"
    probe: Probe = PENDING
    matrix: list[Row] = field(default_factory=list)
    counter: RequestCounter = field(default_factory=RequestCounter)
    # What the checks found (failures, figures, notes…): owned by the plugin's hooks.
    findings: Findings = field(default_factory=lambda: Findings())
    # JSON answers without the contract's envelope, (route, message), in the order they came.
    envelope_violations: list[tuple[str, str]] = field(default_factory=list)
    # Root causes a check has already failed on (``RootCause.cause``), and that check's name:
    # later checks meeting the same cause cannot judge (see hooks).
    root_causes: dict[str, str] = field(default_factory=dict)
    reports: ReportPaths | None = None
    # The run ended in a usage error (exit 4): it judged nothing, so it reports nothing.
    usage_error: bool = False
    # Ended by Ctrl-C (or another interruption): its report is partial.
    interrupted: bool = False
    # Set (in an xdist worker) when the selected checks would trip a documented rate limit.
    own_traffic: str | None = None
    sandbox: SandboxProcess | None = None
    tokens: TokenStore | None = None
    # The one client for the target in this process (the probe's, then the checks' ``api``).
    client: ApiClient | None = None
    # The start-of-run probe's answer while it is in flight (see ``settled_probe``).
    probe_answer: Future[Answer] | None = None
    # The pre-deploy baseline this run is compared with (--umbrella-baseline).
    baseline: Baseline | None = None
    # pytest-timeout's limit for one check (seconds), when it is installed and set; and when the
    # check now running must be done by (time.perf_counter()), for the client's confirmations.
    timeout_limit: float | None = None
    deadline: float | None = None

    def accounts(self) -> Accounts:
        """The test accounts' tokens: static from the settings, minted through this run's
        token store (``target/accounts.py``)."""
        clerk = self.settings.clerk
        return Accounts(
            self.settings.tokens,
            self.tokens,
            frozenset(clerk.mint) if clerk is not None else frozenset(),
        )

    @property
    def total_requests(self) -> int:
        return self.findings.worker_requests + self.counter.total

    @property
    def requests_line(self) -> str:
        """How many requests went to the target, and — when fewer — how many it answered: a
        run that reached nothing must not read as one that sent 25 requests."""
        sent = self.total_requests
        answered = self.findings.worker_answered + self.counter.answered
        line = f"{sent} requests sent to the target"
        if answered >= sent:
            return line
        if answered == 0:
            return f"{line}, none answered (no connection, or no answer in time)"
        return f"{line}, {answered} answered"

    def target_client(self) -> ApiClient:
        if self.client is None:
            self.client = ApiClient.for_target(
                self.settings.base_url, self.settings.config, self.counter, self.envelope_violations
            )
            # A target that hung on the probe is not asked again: the run ends in one timeout.
            self.client.unresponsive = self.probe.unresponsive
            self.client.deadline = self.deadline
        return self.client

    def start_check(self, node: str, destructive: bool, on_demand: bool) -> None:
        """A check is about to set up: prefetched answers serve only the checks that declared
        them, and its requests must leave it time to judge within pytest-timeout's limit."""
        # A second less than the limit: the check judges what it has before it is cut.
        self.deadline = (
            time.perf_counter() + self.timeout_limit - 1.0 if self.timeout_limit else None
        )
        if self.client is not None:
            self.client.asking = node
            self.client.asking_destructive = destructive
            self.client.asking_on_demand = on_demand
            self.client.deadline = self.deadline

    def settled_probe(self) -> Probe:
        """The start-of-run probe, waiting for its answer if it is still in flight."""
        if self.probe_answer is not None:
            answer, self.probe_answer = self.probe_answer, None
            self.probe = probe_of(answer, self.settings)
            if self.client is not None and self.client.unresponsive:
                self.probe = replace(self.probe, unresponsive=self.client.unresponsive)
        return self.probe

    def close_client(self) -> None:
        """Close the target's client; what it prefetched and nobody asked for is counted."""
        if self.client is not None:
            self.findings.on_demand.extend(self.client.on_demand)
            self.findings.notes.extend(dict.fromkeys(self.client.notes))
            self.client.close()
            self.client = None

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


run_key = pytest.StashKey[Run]()

# The prefix of a figure's user property (JUnit: <property name="figure: D1 size (bytes)" …>).
FIGURE = "figure: "


def run_of(config: pytest.Config) -> Run:
    return config.stash[run_key]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def uses_xdist(config: pytest.Config) -> bool:
    """This process hands checks to xdist workers (``-n N``, ``--tx``); ``-n 0`` does not."""
    option = config.option
    return getattr(option, "dist", "no") != "no" and bool(getattr(option, "tx", None))


def informational(config: pytest.Config) -> bool:
    """--help, --markers, --fixtures, --collect-only: nothing is sent, nothing is written."""
    option = config.option
    return bool(
        getattr(option, "help", False)
        or getattr(option, "markers", False)
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
        or getattr(option, "collectonly", False)
    )


def reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("umbrella_reports_dir") or config.rootpath / "reports")


def history_key(settings: Settings) -> str:
    """Trends follow a target across runs; every sandbox run is the same target."""
    return "sandbox" if settings.sandbox else settings.base_url


# --- setting a run up ---------------------------------------------------------------------
