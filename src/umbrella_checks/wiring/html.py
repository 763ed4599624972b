"""The HTML report's own parts: its title, the verdict and figures above the table, and how a
skip reads. Registered on the controller, and only when pytest-html is active (``-p no:html``
leaves the suite working without it).
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from umbrella_checks.wiring.runstate import Run, run_of


def withdraw_html_report(config: pytest.Config) -> None:
    """A run that ended in a usage error judged nothing: pytest-html writes no report of it
    and prints no "Generated html report" line for a file the run then removes."""
    try:
        from pytest_html.basereport import BaseReport  # type: ignore[import-untyped]
    except ImportError:  # pytest-html not installed
        return
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            config.pluginmanager.unregister(plugin)


class HtmlReport:
    def __init__(self, config: pytest.Config) -> None:
        self.run: Run = run_of(config)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        """The report's title says which tier, which target, when — not the file's name."""
        run = self.run
        target = run.settings.base_url or "no target"
        report.title = (
            f"umbrella-checks {run.tier} — {target} — {run.started:%Y-%m-%d %H:%M:%S} UTC"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        run = self.run
        verdict = run.findings.verdict
        if verdict is not None:
            prefix.append(
                f'<p class="umbrella-verdict"><strong>Verdict: {html.escape(verdict.word)}</strong>'
                f" — {html.escape(verdict.why)}</p>"
            )
        prefix.append(f"<p>{html.escape(run.requests_line)} (including 1 start-of-run probe)</p>")
        for name, value in sorted(run.findings.figures.items()):
            prefix.append(f"<p>{html.escape(name)}: {html.escape(str(value))}</p>")
        for warning in run.findings.warnings:
            prefix.append(
                f'<p class="umbrella-warning">warning (SEV-3): {html.escape(warning)}</p>'
            )
        for note in [*run.findings.not_judged_notes(), *run.findings.notes]:
            prefix.append(f"<p>{html.escape(note)}</p>")
        for title, markup in run.findings.sections:  # charts: in view, above every row
            prefix.append(
                f'<section class="umbrella-section"><h2>{html.escape(title)}</h2>{markup}</section>'
            )
        if run.findings.changes:
            rows = "".join(
                f"<tr><td>{html.escape(what)}</td><td>{html.escape(before)}</td>"
                f"<td>{html.escape(after)}</td></tr>"
                for what, before, after in run.findings.changes
            )
            prefix.append(
                '<h3>Since the baseline</h3><table class="umbrella-changes"><tr><th>what</th>'
                f"<th>before the deploy</th><th>after</th></tr>{rows}</table>"
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        """A skip reads as its reason and where, never as a raw (path, line, message) tuple."""
        if report.skipped and isinstance(report.longrepr, tuple) and data:
            path, line, message = report.longrepr
            data[0] = html.escape(f"{message} ({path}:{line})") + "\n"
