"""Reports as evidence: each check's entry shows what it sent and got, skips read as reasons,
JUnit properties are plain values, every run has a file of its own, and a title says what ran."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from umbrella_checks.wiring.reporting import ReportPaths


@pytest.fixture(scope="module")
def tier_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One post-deploy run on the sandbox: its HTML report and its JUnit XML."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import INNER_INI, REPO

    folder = tmp_path_factory.mktemp("suite")
    shutil.copytree(REPO / "checks", folder / "checks")
    shutil.copy(REPO / "umbrella.toml", folder / "umbrella.toml")
    (folder / "pytest.ini").write_text(INNER_INI)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "postdeploy", "--umbrella-sandbox", "-q"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reports = folder / "reports"
    (html,) = [p for p in reports.glob("postdeploy-2*.html")]
    (xml,) = list(reports.glob("postdeploy-2*.xml"))
    return html.read_text(encoding="utf-8"), xml.read_text(encoding="utf-8")


def test_a_passing_check_shows_what_it_sent_and_got(tier_reports: tuple[str, str]) -> None:
    html, _ = tier_reports
    assert "umbrella: requests sent and answers" in html
    # (the report keeps its rows as JSON: the arrow is stored as \u2192)
    assert re.search(r"GET http://127\.0\.0\.1:\d+/v1/health (→|\\u2192) 200 in \d+ ms", html)
    assert "Bearer" not in html  # what was sent is the request line, never its headers
    # An answer sent with the tier's planned requests says so: its time is the burst's.
    assert re.search(
        r"/v1/health (→|\\u2192) 200 in \d+ ms \(service time [^)]*\), prefetched", html
    )


def test_a_skip_reads_as_its_reason_at_the_check(tier_reports: tuple[str, str]) -> None:
    html, _ = tier_reports
    assert "Skipped: safety guard: destructive checks are off" in html
    assert "checks/test_status_matrix.py:" in html
    # never a raw (path, line, message) tuple
    assert "(&#x27;/" not in html
    assert "(&#39;/" not in html


def test_junit_properties_are_plain_values(tier_reports: tuple[str, str]) -> None:
    _, xml = tier_reports
    figures = re.findall(r'<property name="figure: ([^"]+)" value="([^"]*)"', xml)
    assert figures
    assert all(not value.startswith("(") for _, value in figures)


def test_the_report_has_a_title_saying_what_ran(tier_reports: tuple[str, str]) -> None:
    html, _ = tier_reports
    # pytest-base-url's own entry in the environment table names the sandbox the run started.
    assert re.search(r"Base URL&#34;: &#34;http://127\.0\.0\.1:\d+&#34;", html)
    assert re.search(r"<title[^>]*>umbrella-checks postdeploy — http://127\.0\.0\.1:\d+ — ", html)


def test_two_runs_in_the_same_second_get_reports_of_their_own(tmp_path: Path) -> None:
    started = datetime(2026, 11, 30, 21, 0, 0, 123456, tzinfo=UTC)
    first = ReportPaths.plan(tmp_path, "daily", started)
    first.html.write_text("first run")
    second = ReportPaths.plan(tmp_path, "daily", started)
    assert first.html.name == "daily-20261130T210000123Z.html"
    assert second.html != first.html
    assert second.junit != first.junit
