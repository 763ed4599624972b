"""The weekly trend charts, rendered by a real browser: headless Chromium (Debian's package;
`.ci/run` installs it) loads the self-contained report and each chart must have drawn a dot
per run. Without Chromium the test skips, saying how to get it — unless
UMBRELLA_REQUIRE_BROWSER is set (CI sets it once Chromium is installed), where it fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunChecks

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Read at import: the self-tests' fixtures clear every UMBRELLA_* variable before a test runs.
REQUIRED = bool(os.environ.get("UMBRELLA_REQUIRE_BROWSER"))


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if REQUIRED:
        pytest.fail("no headless browser: apt-get install chromium (Debian's package)")
    pytest.skip("no headless browser here: apt-get install chromium to render the charts")


def _render(browser: str, report: Path) -> str:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def test_after_three_weekly_runs_the_charts_are_in_view_labelled_and_complete(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """Three weekly runs on the sandbox (which brings four weeks of daily and post-deploy
    figures): the third report shows every figure's chart in the section at the top — above the
    results table, in no row to open — each with its y axis labelled from zero, times that tell
    its runs apart, and a dot for every run its caption lists (the weekly figures: the two runs
    before it; a run's own figures join the history after its verdict)."""
    browser = _browser()
    for _ in range(3):
        run_checks("-m", "weekly")
    report = suite_dir / "reports" / "weekly-latest.html"
    dom = _render(browser, report)
    section = dom.index('<section class="umbrella-section">')
    assert section < dom.index('id="results-table"'), "the charts must sit above the rows"
    rows = re.findall(
        r"<tr><td>([^<]*)</td><td>([^<]*)</td>.*?(<svg.*?</svg>)<br><small>([^<]*)</small>",
        dom[section : dom.index("</section>", section)],
        re.S,
    )
    tiers = {tier for _, tier, _, _ in rows}
    assert {"weekly", "daily", "postdeploy"} <= tiers, tiers
    for figure, tier, svg, caption in rows:
        listed = caption.split(" · ")
        earlier = int(listed[0].split()[0]) if "earlier" in listed[0] else 0
        dots = len(re.findall(r'<circle class="point"', svg))
        assert dots == earlier + len(listed) - (1 if earlier else 0), (figure, caption)
        assert re.findall(r'class="y-label"[^>]*>0\b', svg), (figure, "y axis from zero")
        labels = re.findall(r'class="x-label"[^>]*>([^<]*)<', svg)
        assert len(labels) == 2, labels
        assert labels[0] != labels[1].removesuffix(" UTC"), labels
        if tier == "weekly":
            assert dots == 2, (figure, caption)
