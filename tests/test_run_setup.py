"""Target selection, usage errors, xdist sharing and hung targets, run as a user runs them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks
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
