"""Runbook › Morning Health Check 3: Review Sentry Errors — new issues in the past 24 hours,
prioritised: critical (database, authentication), high (5xx, unhandled exceptions), medium (4xx
except 401 and 404), low (warnings)."""

import html

import pytest

from umbrella_checks.api import (
    Figures,
    ReportNotes,
    RequestCounter,
    SentryAccess,
    Settings,
    fail,
    saw,
    sentry,
)

pytestmark = [pytest.mark.daily, pytest.mark.severity("SEV-2")]


def test_no_new_critical_or_high_sentry_issues(
    sentry_access: SentryAccess,
    settings: Settings,
    request_counter: RequestCounter,
    figures: Figures,
    report_notes: ReportNotes,
) -> None:
    """New database, authentication and 5xx errors since yesterday are the runbook's critical
    and high priorities: each is an outage starting, or a release's regression."""
    issues = sentry.new_issues(
        sentry_access.base_url,
        sentry_access.org,
        sentry_access.project,
        settings.environment,
        sentry_access.token,
        settings.config.sentry,
        settings.config.http,
        request_counter,
    )
    ranked = {priority: [] for priority in sentry.PRIORITIES}  # type: dict[str, list[str]]
    for issue in issues:
        priority = sentry.classify(issue, settings.config.sentry)
        ranked[priority].append(issue.line(priority))
    for priority, lines in ranked.items():
        figures.record(f"Sentry new issues: {priority}", len(lines))
    listing = [line for priority in sentry.PRIORITIES for line in ranked[priority]]
    if listing:
        report_notes.add("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in listing) + "</ul>")
    blocking = [line for p in settings.config.sentry.fail_on for line in ranked.get(p, [])]
    if blocking:
        fail(
            f"Sentry {sentry_access.org}/{sentry_access.project}: expected no new critical or "
            f"high issues in 24 h, got {len(blocking)}: "
            + "; ".join(blocking[:5])
            + (f"; and {len(blocking) - 5} more" if len(blocking) > 5 else "")
        )
    counts = ", ".join(f"{len(ranked[p])} {p}" for p in sentry.PRIORITIES)
    saw(
        f"Sentry {sentry_access.org}/{sentry_access.project} new issues in 24 h",
        counts,
        f"expected none {' or '.join(settings.config.sentry.fail_on)}",
    )
