"""The weekly trend charts, rendered by a real browser: headless Chromium (Debian's package;
`.ci/run` installs it) loads the self-contained report and each chart must have drawn a dot
per run. Without Chromium the test skips, saying how to get it — unless
UMBRELLA_REQUIRE_BROWSER is set (CI sets it once Chromium is installed), where it fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from umbrella_checks.operations import history

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


def test_each_weekly_chart_draws_its_points_in_a_real_browser(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    browser = _browser()
    store = suite_dir / "reports" / "history.sqlite"
    now = datetime.now(UTC)
    runs = {"median GET /v1/artists (ms)": 12, "users": 1}  # one figure with a single run
    for metric, count in runs.items():
        for n in range(count):
            history.append(
                store,
                now - timedelta(days=2 * n, hours=1),
                "postdeploy",
                "sandbox",
                [(metric, 100.0)],
            )
    run_checks("checks/test_trends.py")
    (report,) = (suite_dir / "reports").glob("custom-2*.html")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    charts = re.findall(r"<svg[^>]*>.*?</svg>", dom, re.S)
    drawn = sorted(len(re.findall(r'<circle class="point"', chart)) for chart in charts)
    assert drawn == sorted(runs.values()), dom[-2000:]
