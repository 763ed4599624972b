"""What a finished run leaves behind, on the controller only: history, incident draft, alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks import history
from umbrella_checks.operations import incident
from umbrella_checks.secrets import Secret, from_env
from umbrella_checks.services import slack
from umbrella_checks.wiring.reporting import TIERS
from umbrella_checks.wiring.runstate import Run, history_key, reports_dir


def revoke_minted(run: Run) -> None:
    """End the Clerk sessions this run created (normally at session end; again at unconfigure
    for runs that were aborted before it)."""
    store, run.tokens = run.tokens, None
    if store is None:
        return
    sessions = len(store.accounts())
    problems = store.close()
    run.findings.notes.extend(problems or [f"Clerk: revoked {sessions} minted session(s)"])


def record_history(config: pytest.Config, run: Run) -> None:
    """Figures of a named tier's run (custom selections measure something else)."""
    if run.tier not in TIERS:
        return
    numeric = [
        (name, float(value))
        for name, value in run.findings.figures.items()
        if isinstance(value, int | float)
    ]
    if numeric:
        note = history.append(
            reports_dir(config) / "history.sqlite",
            run.started,
            run.tier,
            history_key(run.settings),
            numeric,
        )
        if note:
            run.findings.notes.append(note)


def report_failures(config: pytest.Config, run: Run) -> None:
    """With --umbrella-alert only: an incident draft (one per failure signature and day) and
    one Slack message when a webhook is set. Sandbox runs and self-tests never alert."""
    failures, paths, settings = run.findings.failures, run.reports, run.settings
    if not failures or paths is None:
        return
    if not config.getoption("umbrella_alert"):
        return
    tier = run.tier
    text = incident.draft(
        failures,
        tier=tier,
        target=settings.base_url,
        started=run.started,
        report=paths.latest,
        changes=run.findings.changes,
    )
    written, new = incident.write(reports_dir(config), text, run.started, failures, tier)
    seen = "" if new else ", same incident as earlier today"
    run.findings.notes.append(f"incident draft: {written} ({incident.severity(failures)}{seen})")
    # A sandbox run alerts the sandbox's own Slack webhook, never the one in the environment.
    sandbox = settings.sandbox
    if sandbox is not None and sandbox.services:
        webhook: Secret | None = Secret(
            "the sandbox's Slack webhook", sandbox.services["slack_webhook"]
        )
    else:
        webhook = from_env("SLACK_WEBHOOK_URL")
    if webhook is None:
        return
    problem = slack.post(
        webhook, alert_text(tier, settings.base_url, failures, paths.latest), settings.config.http
    )
    run.findings.notes.append(problem or "Slack alerted")


def alert_text(tier: str, target: str, failures: list[incident.Failure], report: Path) -> str:
    """The Slack message: ten failures named at most (a channel reads the first line), the rest
    counted, the severity and where the report is."""
    names = ", ".join(dict.fromkeys(f.what for f in failures[:10]))
    more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
    return (
        f":rotating_light: umbrella-checks {tier} on {target}: "
        f"{len(failures)} failed ({incident.severity(failures)}): {names}{more}. "
        f"Report: {report}"
    )
