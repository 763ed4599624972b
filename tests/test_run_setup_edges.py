"""How a run is set up around the checks, at its edges: where reports go and that they stand
alone, where the target comes from (pytest-base-url's ini value, its fixture), pytest-timeout's
limit at exactly a request's timeouts, a target that hangs from the first request, and the
listing runs that must send nothing."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunChecks, arrived_while_the_probe_waited
from umbrella_checks.sandbox import Sandbox


def test_a_reports_folder_that_does_not_exist_yet_is_made_with_its_parents(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    run = run_checks("checks/test_health.py", "--umbrella-reports-dir=deep/er/reports")
    assert run.ret == 0, run.output
    assert list((suite_dir / "deep" / "er" / "reports").glob("custom-*Z.html"))


def test_the_html_report_stands_alone(run_checks: RunChecks, suite_dir: Path) -> None:
    # One file to attach to an incident or a CI artifact: its styles inlined, no assets folder.
    run = run_checks("checks/test_health.py")
    assert run.ret == 0, run.output
    (report,) = (suite_dir / "reports").glob("custom-*Z.html")
    assert not (suite_dir / "reports" / "assets").exists()
    assert "<style" in report.read_text(encoding="utf-8")


WHERE = """
def test_where(base_url, settings):
    assert base_url == settings.base_url
    print("base_url fixture:", base_url)
"""


def test_pytest_base_urls_fixture_answers_the_resolved_target(
    run_checks: RunChecks, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check (or a plugin) asking pytest-base-url's fixture gets the target the suite chose,
    # wherever it came from (here API_URL, not --base-url).
    (suite_dir / "checks" / "test_where.py").write_text(WHERE, encoding="utf-8")
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9")
    run = run_checks("checks/test_where.py", "-s", target="")
    assert run.passed_names() == ["test_where"], run.output
    assert "base_url fixture: http://127.0.0.1:9" in run.output


def test_pytest_base_urls_ini_value_names_the_target(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    ini = suite_dir / "pytest.ini"
    ini.write_text(
        ini.read_text(encoding="utf-8").replace(
            "[pytest]\n", "[pytest]\nbase_url = http://127.0.0.1:9\n", 1
        ),
        encoding="utf-8",
    )
    result = pytester.runpytest_inprocess("--collect-only", "checks/test_health.py")
    assert result.ret == 0, result.stdout.str()
    (header,) = [line for line in result.stdout.lines if line.startswith("umbrella: Target:")]
    assert header.startswith("umbrella: Target: http://127.0.0.1:9 (from "), header


def test_a_per_test_timeout_exactly_a_requests_timeouts_is_refused(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    # 5 s connect + 10 s read: a limit of 15 s still cuts the slowest answer short.
    result = pytester.runpytest_subprocess("--timeout=15", "checks/test_health.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest-timeout's limit (15 s) is not longer" in result.stderr.str()


@pytest.fixture
def silent() -> Iterator[str]:
    """A target that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_target_that_hangs_from_the_first_request_says_it_answers_nothing(
    run_checks: RunChecks, suite_dir: Path, silent: str
) -> None:
    # Not "no connection": it connected, and the fix is on the service's side.
    config = '[http]\nread_timeout = "1s"\n'
    run = run_checks(
        "checks/test_health.py",
        "--umbrella-environment=development",
        target=silent,
        config=config,
    )
    failed = run.failed_names()
    assert len(failed) == 1, run.output
    message = run.message_of(failed[0])
    assert message.startswith(
        "root cause: the target did not answer the start-of-run probe: no answer to the "
        "start-of-run probe"
    ), message
    assert "it accepts connections but hangs" in message


def test_listing_fixtures_per_test_sends_and_writes_nothing(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_inprocess(
        "--fixtures-per-test", "checks/test_health.py", "--base-url=http://127.0.0.1:9"
    )
    assert result.ret == 0, result.stdout.str()
    assert not (suite_dir / "reports").exists()
    assert "requests sent to the target" not in result.stdout.str()


def test_dist_without_workers_still_prefetches(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--dist load` with no -n or --tx runs no workers: this process collects, so the planned
    # requests still go out with the start-of-run probe (health answers in a second; checks
    # wait for the probe, so a request arriving meanwhile was prefetched).
    sandbox = sandbox_server("slow=/v1/health:1000")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    run_checks(
        "checks/test_smoke.py",
        "--dist=load",
        "--umbrella-environment=development",
        target=sandbox.url,
    )
    assert arrived_while_the_probe_waited(sandbox)


FIGURE = """
import pytest

@pytest.mark.daily
def test_figure(figures):
    figures.record("answers", 3)
"""


@pytest.mark.parametrize(
    "sandboxed",
    [
        pytest.param(True, id="every-sandbox-run-is-one-target"),
        pytest.param(False, id="a-target-is-followed-by-its-url"),
    ],
)
def test_history_keys_a_run_by_its_target(
    run_checks: RunChecks,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    sandboxed: bool,
) -> None:
    # Trends compare a target with itself: the sandbox's port changes every run, so its runs
    # share one key; a real target's runs share its URL.
    (suite_dir / "checks" / "test_figure.py").write_text(FIGURE, encoding="utf-8")
    if sandboxed:
        run = run_checks("checks/test_figure.py", "-m", "daily")
        key = "sandbox"
    else:
        key = sandbox_server().url
        run = run_checks(
            "checks/test_figure.py", "-m", "daily", "--umbrella-environment=development", target=key
        )
    assert run.passed_names() == ["test_figure"], run.output
    with sqlite3.connect(suite_dir / "reports" / "history.sqlite") as db:
        targets = db.execute("SELECT DISTINCT target FROM figures").fetchall()
    assert targets == [(key,)]


def test_a_sandbox_that_dies_at_start_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real sandbox process that exits as it starts (a broken install, a full disk): the run
    # ends in one usage-error line, not a traceback from inside pytest_configure.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, sys\nif '--stdin-control' in sys.argv:\n    os._exit(3)\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("checks/test_health.py", "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [
        "ERROR: the sandbox ended with exit status 3 before it listened; run "
        "`python -m umbrella_checks sandbox` to see why"
    ], result.stderr.str()
    assert "Traceback" not in result.stderr.str()
