"""Target selection, usage errors, xdist sharing and hung targets, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunChecks, arrived_while_the_probe_waited
from umbrella_checks.sandbox import Sandbox


def _one_line_usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    return errors[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["-m", "postdeploy"], "no target: pass --base-url", id="no-target"),
        pytest.param(["--base-url=htp:/nowhere"], "is not an http(s) URL", id="malformed-url"),
        pytest.param(["--base-url=https://"], "is not an http(s) URL", id="url-without-host"),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-environment=prod"],
            "unknown environment 'prod'",
            id="unknown-environment",
        ),
        pytest.param(
            [
                "--umbrella-sandbox",
                "--umbrella-allow-destructive",
                "--umbrella-environment=production",
            ],
            "--umbrella-allow-destructive refused: the expected environment is production",
            id="destructive-production",
        ),
        pytest.param(
            [
                "--base-url=https://umbrella.app",
                "--umbrella-environment=staging",
                "--umbrella-allow-destructive",
            ],
            "matches the sensitive-URL pattern",
            id="destructive-sensitive-url",
        ),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-sandbox-fault=nope"],
            "unknown sandbox fault 'nope'",
            id="unknown-fault",
        ),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-sandbox-fault=slow"],
            "needs a value",
            id="fault-value",
        ),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-app-dir", "checks"],
            "write --umbrella-app-dir=checks",
            id="path-option-without-equals",
        ),
        pytest.param(
            ["--base-url=http://127.0.0.1:9", "--umbrella-app-dir", "/"],
            "write --umbrella-app-dir=/ (with '=')",
            id="path-option-moving-the-root",
        ),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-sandbox-fault=helth-500"],
            "unknown sandbox fault 'helth-500'; did you mean health-500?",
            id="fault-did-you-mean",
        ),
        pytest.param(
            ["--umbrella-sandbx"],
            "unknown option --umbrella-sandbx; did you mean --umbrella-sandbox?",
            id="option-did-you-mean",
        ),
        pytest.param(
            ["--umbrella-sandbox", "--base-url=http://127.0.0.1:9"],
            "--base-url with --umbrella-sandbox: the sandbox brings its own target",
            id="sandbox-and-another-target",
        ),
    ],
)
def test_bad_input_is_one_line_exit_4(
    pytester: pytest.Pytester, suite_dir: Path, args: list[str], expected: str
) -> None:
    line = _one_line_usage_error(pytester.runpytest_subprocess(*args))
    assert expected in line
    # A run that never ran leaves no report, and no line about one.
    assert not list(pytester.path.glob("reports/*.html"))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            '[health]\nmax_clock_skeww = "1s"\n',
            "health.max_clock_skeww: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            '[http]\nread_timeout = "soon"\n',
            "http.read_timeout: expected a duration",
            id="bad-duration",
        ),
        pytest.param("[violet]\ndaily_limit = 'fifty'\n", "violet.daily_limit", id="wrong-type"),
        pytest.param(
            "[env.staging.cron]\ngracee = '1m'\n",
            "[env.staging]: cron.gracee",
            id="unknown-key-in-env",
        ),
        pytest.param("[env.qa]\n", "env.qa: unknown environment", id="unknown-env-section"),
        pytest.param("[health\n", "not valid TOML", id="not-toml"),
        pytest.param(
            "[http]\nread_timout = '5s'\n",
            "http.read_timout: unknown key; did you mean http.read_timeout?",
            id="key-did-you-mean",
        ),
        pytest.param(
            "[cron]\ngrace = 30\n",
            'cron.grace: a bare number is ambiguous; write the unit, e.g. "30m"',
            id="bare-number-in-the-keys-unit",
        ),
        pytest.param(
            '[budgets.endpoints]\n"/v1/health" = 50\n',
            'a bare number is ambiguous; write the unit, e.g. "50ms" or "50s"',
            id="bare-number-without-a-default",
        ),
    ],
)
def test_bad_config_is_one_line_exit_4(
    pytester: pytest.Pytester, suite_dir: Path, config: str, expected: str
) -> None:
    (suite_dir / "umbrella.toml").write_text(config, encoding="utf-8")
    line = _one_line_usage_error(pytester.runpytest_subprocess("--umbrella-sandbox"))
    assert expected in line


def test_cli_beats_environment_beats_file(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (suite_dir / "umbrella.toml").write_text(
        '[target]\nbase_url = "http://127.0.0.1:9"\nenvironment = "preview"\n', encoding="utf-8"
    )
    monkeypatch.setenv("ENVIRONMENT", "staging")
    header = pytester.runpytest_subprocess("--co", "--base-url=http://127.0.0.1:8")
    text = header.stdout.str()
    assert "Target: http://127.0.0.1:8 (from --base-url)" in text
    assert "Expected environment: staging (from ENVIRONMENT)" in text
    monkeypatch.delenv("ENVIRONMENT")
    text = pytester.runpytest_subprocess("--co").stdout.str()
    assert "Target: http://127.0.0.1:9 (from config file)" in text
    assert "Expected environment: preview (from config file)" in text


def test_one_sandbox_serves_all_xdist_workers(pytester: pytest.Pytester, suite_dir: Path) -> None:
    pytester.makepyfile(
        **{
            "checks/test_where": """
                import json, os
                import pytest

                @pytest.mark.postdeploy
                @pytest.mark.parametrize("n", range(8))
                def test_where(settings, n):
                    with open("where.jsonl", "a") as out:
                        out.write(json.dumps([os.getpid(), settings.base_url]) + "\\n")
            """
        }
    )
    # --dist=each runs every check on every worker, so each worker must report its target.
    result = pytester.runpytest_subprocess(
        "checks/test_where.py", "--umbrella-sandbox", "-n", "4", "--dist=each"
    )
    result.assert_outcomes(passed=8 * 4)
    assert result.stdout.str().count("umbrella: Target:") == 1
    seen = [json.loads(line) for line in (suite_dir / "where.jsonl").read_text().splitlines()]
    assert len({pid for pid, _ in seen}) == 4
    assert len({url for _, url in seen}) == 1


def test_a_hung_target_ends_the_run_in_one_timeout(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "umbrella.toml").write_text('[http]\nread_timeout = "1s"\n', encoding="utf-8")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "-m", "postdeploy", "--umbrella-sandbox", "--umbrella-sandbox-fault=hang"
    )
    elapsed = time.monotonic() - started
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "read timeout" in result.stdout.str()
    assert "it accepts connections but hangs" in result.stdout.str()
    # One 1 s timeout for the whole run, not one per check; generous bound for a slow machine.
    assert elapsed < 30


def test_the_report_shows_target_and_versions_and_no_secret(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    assert result.ret == 0
    latest = suite_dir / "reports" / "postdeploy-latest.html"
    html = latest.read_text(encoding="utf-8")
    assert "Target" in html
    assert "umbrella-checks 0.1.0" in html
    assert "Expected environment" in html
    assert "sbx_" not in html  # the sandbox's bearer tokens all start with sbx_
    stamped = sorted((suite_dir / "reports").glob("postdeploy-2*.html"))
    assert len(stamped) == 1
    assert stamped[0].with_suffix(".xml").exists()


def test_custom_tier_name(run_checks: RunChecks, suite_dir: Path) -> None:
    run_checks("-m", "postdeploy or daily")
    assert (suite_dir / "reports" / "custom-latest.html").exists()


def test_a_usage_error_found_at_collection_says_nothing_of_a_report(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_wrong_severity.py").write_text(
        "import pytest\n\n\n@pytest.mark.postdeploy\n@pytest.mark.severity('SEV-9')\n"
        "def test_x() -> None:\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    line = _one_line_usage_error(result)
    assert "severity 'SEV-9' is not one of" in line
    assert "Generated html report" not in result.stdout.str()
    assert not list(suite_dir.glob("reports/*.html"))


def test_an_interrupted_run_keeps_the_last_whole_report_as_latest(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    # In a subprocess: Ctrl-C inside an in-process run would stop this run too.
    pytester.runpytest_subprocess("checks/test_health.py", "--umbrella-sandbox")
    latest = suite_dir / "reports" / "custom-latest.html"
    whole = latest.read_text(encoding="utf-8")
    (suite_dir / "checks" / "test_zz_interrupt.py").write_text(
        "def test_ctrl_c() -> None:\n    raise KeyboardInterrupt\n"
    )
    interrupted = pytester.runpytest_subprocess(
        "checks/test_health.py", "checks/test_zz_interrupt.py", "--umbrella-sandbox"
    )
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED
    assert latest.read_text(encoding="utf-8") == whole
    assert len(list((suite_dir / "reports").glob("custom-2*.html"))) == 2  # its own, partial


def test_one_missing_token_is_one_strict_failure(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = sandbox_server()
    # Every token but the user account's.
    monkeypatch.setenv("UMBRELLA_ADMIN_TOKEN", target.accounts["admin"].token)
    monkeypatch.setenv("UMBRELLA_LIMIT_TOKEN", target.accounts["limit"].token)
    run = run_checks(
        "-m",
        "postdeploy",
        "--umbrella-strict-skips",
        "--umbrella-environment=development",
        target=target.url,
    )
    missing = [n for n in run.failed_names() if "UMBRELLA_USER_TOKEN" in run.message_of(n)]
    assert len(missing) == 1, run.failed_names()
    said = f"failed once under --umbrella-strict-skips, in {missing[0]}"
    stopped = [n for n in run.skipped_names() if said in run.message_of(n)]
    assert len(stopped) >= 5  # the other checks that needed the user account's token


def test_a_target_that_answered_nothing_is_said_so(run_checks: RunChecks) -> None:
    run = run_checks("-m", "postdeploy", target="http://127.0.0.1:9")
    assert re.search(r"umbrella: \d+ requests sent to the target, none answered", run.output)


# ----------------------------------------------------------------------
# How a run is set up around the checks, at its edges: where reports go and that they stand
# alone, where the target comes from (pytest-base-url's ini value, its fixture), pytest-timeout's
# limit at exactly a request's timeouts, a target that hangs from the first request, and the
# listing runs that must send nothing.
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
    # In the sandbox launcher, every sandbox it forks ends at once.
    (site / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if any('sandbox.launcher' in arg for arg in sys.orig_argv):\n"
        "    os.register_at_fork(after_in_child=lambda: os._exit(3))\n",
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
