"""Reports as evidence: each check's entry shows what it sent and got and what it saw and held
it to (every passing check, every tier), rows open with the report, skips read as reasons,
JUnit properties are plain values, every run has a file of its own, and a title says what ran."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO, RunChecks
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


def _passes_without_evidence(junit: Path) -> tuple[int, list[str]]:
    passed, bare = 0, []
    for case in ET.parse(junit).iter("testcase"):
        if any(case.find(kind) is not None for kind in ("skipped", "failure", "error")):
            continue
        passed += 1
        if not [p for p in case.iter("property") if p.get("name") == "evidence"]:
            bare.append(str(case.get("name")))
    return passed, bare


@pytest.mark.parametrize(
    "selection",
    [
        pytest.param(("-m", "postdeploy"), id="postdeploy"),
        pytest.param(("-m", "daily"), id="daily"),
        pytest.param(("-m", "weekly", "--umbrella-allow-destructive"), id="weekly-destructive"),
    ],
)
def test_every_passing_check_says_what_it_saw_and_held_it_to(
    run_checks: RunChecks, suite_dir: Path, selection: tuple[str, ...]
) -> None:
    run_checks(*selection)
    (junit,) = (suite_dir / "reports").glob("*-2*.xml")
    passed, bare = _passes_without_evidence(junit)
    assert passed >= 10
    assert bare == []


def test_evidence_names_the_value_and_the_threshold(tier_reports: tuple[str, str]) -> None:
    html, xml = tier_reports
    assert "umbrella: what it saw, and what it held it to" in html
    assert 'name="evidence" value="data.environment = &quot;development&quot;, expected ' in xml
    assert re.search(r'value="migrations applied = \d+, expected the \d+ in the repository', xml)
    assert re.search(
        r'value="GET /v1/health median server time = \d+ ms over 3 requests \(timed by '
        r'Server-Timing total\), expected ≤ 50 ms"',
        xml,
    )


def _with_the_projects_ini(suite_dir: Path) -> None:
    (suite_dir / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (suite_dir / "pytest.ini").unlink()


def test_rows_open_with_the_report(run_checks: RunChecks, suite_dir: Path) -> None:
    # pytest-html collapses passed rows by default: their evidence would be one click away.
    _with_the_projects_ini(suite_dir)
    run_checks("checks/test_health.py")
    html = (suite_dir / "reports" / "custom-latest.html").read_text(encoding="utf-8")
    assert "&#34;renderCollapsed&#34;: [&#34;none&#34;]" in html


def test_the_step_summary_folds_what_the_passing_checks_saw(
    run_checks: RunChecks, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    run_checks("checks/test_health.py", f"--umbrella-summary={summary}")
    text = summary.read_text(encoding="utf-8")
    assert re.search(r"<details><summary>What the \d+ passing checks saw</summary>", text)
    assert (
        "| `test_health_reports_its_version` | data.version = 0.1.0, expected a non-empty" in text
    )


def test_the_suite_runs_without_pytest_html(run_checks: RunChecks, suite_dir: Path) -> None:
    _with_the_projects_ini(suite_dir)  # pytest-html's keys and all
    run = run_checks("checks/test_health.py", "-p", "no:html")
    assert run.ret == 0, run.output + run.stderr
    assert not list((suite_dir / "reports").glob("*.html"))
