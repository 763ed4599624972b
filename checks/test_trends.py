"""Runbook › Weekly Review › Performance Analysis: "compare against previous weeks; identify
any degradation patterns". Every tier run stores its figures in reports/history.sqlite."""

import html
from datetime import datetime

import pytest

from umbrella_checks.api import ReportNotes, Settings, cannot_judge, fail, history, saw

pytestmark = [pytest.mark.weekly, pytest.mark.severity("SEV-3")]


def test_no_figure_degraded_week_over_week(
    history_series: dict[str, list[tuple[datetime, float]]],
    settings: Settings,
    now: datetime,
    report_notes: ReportNotes,
) -> None:
    """Latency and error rate creeping up week over week is the next incident, visible before
    any threshold trips; growth (users, sizes) is charted, not judged."""
    if not history_series:
        cannot_judge("no history yet: every tier run adds its figures to reports/history.sqlite")
    found = history.trends(history_series, now)
    limit = settings.config.trends.max_ratio
    rows = []
    for trend in found:
        before = f"{trend.before:g}" if trend.before is not None else "–"
        figure, tier = history.label(trend.metric)
        degraded = trend.judged and trend.ratio is not None and trend.ratio > limit
        points, unit = history_series[trend.metric], history.unit_of(trend.metric)
        chart = history.chart(points, bad=degraded, unit=unit)
        values = html.escape(history.listed_values(points, unit))
        rows.append(
            f"<tr><td>{html.escape(figure)}</td><td>{html.escape(tier)}</td>"
            f"<td>{trend.this_week:g}</td><td>{before}</td>"
            f"<td>{chart}<br><small>{values}</small></td></tr>"
        )
    report_notes.section(
        "Trends: this week against the weeks before",
        '<table class="umbrella-trends"><tr><th>figure</th><th>measured by</th>'
        "<th>this week (median)</th><th>weeks before (median)</th><th>every run</th></tr>"
        + "".join(rows)
        + "</table>",
    )
    comparable = [t for t in found if t.judged and t.ratio is not None]
    if not comparable:
        cannot_judge(
            "no figure has both this week's value and earlier weeks' to compare with "
            f"({len(found)} figure(s) recorded; the first weeks of history cannot show a trend)"
        )
    worse = [t for t in comparable if t.ratio is not None and t.ratio > limit]
    if worse:
        fail(
            "history: "
            + "; ".join(
                f"expected {t.metric} within {limit:g}× the weeks before ({t.before:g}), got "
                f"{t.this_week:g} ({t.ratio:.1f}×)"
                for t in worse
            )
            + " — see the trend charts in the report; Common Issues › Issue 2"
        )
    steepest = max(comparable, key=lambda t: t.ratio or 0.0)
    saw(
        f"{len(comparable)} figures against the weeks before; the steepest, {steepest.metric}",
        f"{steepest.this_week:g} against {steepest.before:g} ({steepest.ratio:.2f}×)",
        f"expected each within {limit:g}×",
    )
