"""Doubt never turns into green or into harm (runbook-independent guarantees of the suite).

- The production guard fails closed: a target that cannot say it is not production gets no
  request that writes, uses quota or loads.
- A config mistake that would weaken a gate stops the run at start: exit 4, one line.
- A check whose input set is empty says "cannot judge" (or "not applicable" where the config
  turned it off), never pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import CheckRun, RunChecks
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.target.safety import Reported, normalise_url, sensitive_reason

DESTRUCTIVE = "weekly and destructive"


def _quota_requests(sandbox: Sandbox) -> int:
    counts = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["counts"]
    return int(counts.get("prompts", 0))


@pytest.mark.parametrize(
    ("faults", "why"),
    [
        pytest.param(("health-500",), "expected status 200, got 500", id="health-500"),
        pytest.param(
            ("envelope-missing=/v1/health",), "did not say which environment", id="health-bare"
        ),
        pytest.param(("hang",), "did not say which environment", id="health-hangs"),
    ],
)
def test_a_target_that_cannot_say_its_environment_gets_no_quota_request(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
    faults: tuple[str, ...],
    why: str,
) -> None:
    """The issue's reproduction: production whose health is broken, told "staging"."""
    sandbox = sandbox_server(*faults, environment="production")
    for account in ("user", "limit"):
        monkeypatch.setenv(f"UMBRELLA_{account.upper()}_TOKEN", sandbox.accounts[account].token)
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text().replace('read_timeout = "15s"', 'read_timeout = "1s"'))
    run = run_checks(
        "-m",
        DESTRUCTIVE,
        "--umbrella-environment=staging",
        "--umbrella-allow-destructive",
        target=sandbox.url,
    )
    assert run.passed_names() == []
    assert run.failed_names() == []
    for name in run.skipped_names():
        assert run.message_of(name).startswith("safety guard: refused: "), name
        assert why in run.message_of(name) or "did not say" in run.message_of(name)
    if "hang" not in faults:
        assert _quota_requests(sandbox) == 0


def _destructive_run_on(
    sandbox: Sandbox, run_checks: RunChecks, monkeypatch: pytest.MonkeyPatch
) -> CheckRun:
    """The destructive level against ``sandbox``, asked for staging with tokens it knows."""
    monkeypatch.setenv("UMBRELLA_LIMIT_TOKEN", sandbox.accounts["limit"].token)
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    return run_checks(
        "-m",
        DESTRUCTIVE,
        "--umbrella-environment=staging",
        "--umbrella-allow-destructive",
        target=sandbox.url,
    )


def test_an_unknown_environment_name_is_refused(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server("wrong-environment", environment="staging")
    run = _destructive_run_on(sandbox, run_checks, monkeypatch)
    assert run.passed_names() == []
    assert _quota_requests(sandbox) == 0


def test_a_staging_target_that_says_so_runs_destructive_checks(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server(environment="staging")
    run = _destructive_run_on(sandbox, run_checks, monkeypatch)
    assert run.failed_names() == []
    assert len(run.passed_names()) == 5
    assert _quota_requests(sandbox) > 0


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        pytest.param("HTTPS://Umbrella.App", "https://umbrella.app", id="case"),
        pytest.param("https://umbrella.app.:443/", "https://umbrella.app", id="dot-port-slash"),
        pytest.param("https://API.umbrella.app/v1", "https://api.umbrella.app/v1", id="path"),
        pytest.param("http://umbrella.app:80", "http://umbrella.app", id="http-default-port"),
        pytest.param("https://umbrella.app:abc/", "https://umbrella.app", id="unreadable-port"),
        # The host the HTTP client connects to, not the one written: httpx maps these.
        pytest.param(
            "https://umbrella\u3002app/v1", "https://umbrella.app/v1", id="full-width-dot"
        ),
        pytest.param("https://UMBRELLA\uff0eAPP", "https://umbrella.app", id="full-width-stop"),
    ],
)
def test_the_sensitive_url_pattern_sees_the_normalised_url(url: str, normal: str) -> None:
    assert normalise_url(url) == normal
    pattern = r"^https?://(www\.|api\.)?umbrella\.app(/|:|$)"
    assert sensitive_reason(url, "staging", pattern) is not None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.1:8787", id="short"),
        pytest.param("http://2130706433:8787", id="one-number"),
        pytest.param("http://0x7f.1:8787", id="hex"),
        pytest.param("http://127.0.0.1.:8787", id="trailing-dot"),
    ],
)
def test_a_short_ipv4_form_is_the_address_the_socket_connects_to(url: str) -> None:
    """A pattern naming 127.0.0.1 (a production box reached by tunnel, say) must match however
    the address is spelled."""
    assert normalise_url(url) == "http://127.0.0.1:8787"
    assert sensitive_reason(url, "staging", r"^http://127\.0\.0\.1:8787$") is not None


def test_a_port_that_is_not_the_default_is_kept_when_normalised() -> None:
    assert normalise_url("http://umbrella.app:8080/") == "http://umbrella.app:8080"
    assert normalise_url("https://umbrella.app:80") == "https://umbrella.app:80"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("prod", id="unknown-name"),
        pytest.param(["production"], id="not-a-string"),
        pytest.param(None, id="absent"),
    ],
)
def test_an_environment_the_health_answer_cannot_name_is_unknown(value: object) -> None:
    reported = Reported.of(value, "health")
    assert reported.environment is None
    assert reported.unknown == (
        f"health reports environment {value!r}, not one of production, staging, preview, "
        "development"
    )


# --- config mistakes stop the run: exit 4, one line -----------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            '[budgets.endpoints]\n"/v1/health" = 50\n',
            'budgets.endpoints."/v1/health": a bare number is ambiguous; write the unit, '
            'e.g. "50ms"',
            id="bare-endpoint-budget",
        ),
        pytest.param(
            "[budgets]\noverall_p95 = 500\n",
            'budgets.overall_p95: a bare number is ambiguous; write the unit, e.g. "500ms"',
            id="bare-overall-p95",
        ),
        pytest.param(
            '[budgets.endpoints]\n"/v1/gig" = "400ms"\n',
            "budgets.endpoints.'/v1/gig' matches no route the suite measures, so its budget "
            "would never apply; did you mean '/v1/gigs'?",
            id="budget-for-no-route",
        ),
        pytest.param(
            '[matrix]\nfile = "checks/status_matrx.toml"\n',
            "status_matrx.toml does not exist; fix [matrix] file",
            id="matrix-file-mistyped",
        ),
        pytest.param(
            '[tls]\nca_file = "no-such-ca.pem"\n',
            "tls.ca_file: no-such-ca.pem does not exist",
            id="ca-file-missing",
        ),
        pytest.param(
            '[safety]\nsensitive_url = "(("\n',
            "safety.sensitive_url: not a regular expression",
            id="pattern-not-a-regex",
        ),
        pytest.param(
            '[routes]\nartist = "/v1/artists/{artistid}"\n',
            "routes.artist: '/v1/artists/{artistid}' has a placeholder [routes] does not define",
            id="unknown-placeholder",
        ),
        pytest.param(
            "[routes.critical]\n",
            "routes.critical is empty: the latency gate would judge nothing",
            id="no-critical-paths",
        ),
        pytest.param(
            '[tls]\nrdap_url = "https://rdap.example/domain/"\n',
            "tls.rdap_url must contain {domain}",
            id="rdap-without-domain",
        ),
    ],
)
def test_a_config_mistake_is_exit_4_and_one_line(
    pytester: pytest.Pytester, suite_dir: Path, config: str, expected: str
) -> None:
    (suite_dir / "umbrella.toml").write_text(config, encoding="utf-8")
    result = pytester.runpytest_subprocess("-m", "weekly or postdeploy", "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1, result.stderr.str()
    assert expected in lines[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not list((suite_dir / "reports").glob("*-latest.html"))


def test_a_matrix_without_rows_is_exit_4(pytester: pytest.Pytester, suite_dir: Path) -> None:
    (suite_dir / "checks" / "status_matrix.toml").write_text("# no rows\n")
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no [[row]]: the status matrix would judge nothing" in result.stderr.str()


# --- an empty input set is never a pass -----------------------------------------------------


def test_no_allowed_origin_is_cannot_judge(run_checks: RunChecks, suite_dir: Path) -> None:
    config = (suite_dir / "umbrella.toml").read_text()
    config = config.replace('allowed_origins = ["https://umbrella.app"]', "allowed_origins = []")
    run = run_checks("checks/test_smoke.py", "-k", "allows_each", config=config)
    name = "test_cors_preflight_allows_each_configured_origin"
    assert run.skipped_names() == [name]
    assert run.message_of(name) == "cannot judge: no origins in [cors] allowed_origins to judge"


def test_no_maintenance_route_is_not_applicable(run_checks: RunChecks, suite_dir: Path) -> None:
    config = (suite_dir / "umbrella.toml").read_text() + "\n[security]\nmaintenance_routes = []\n"
    run = run_checks("checks/test_security.py", "-k", "maintenance", config=config)
    name = "test_maintenance_routes_refuse_anonymous_callers"
    assert run.skipped_names() == [name]
    assert run.message_of(name).startswith("not applicable: [security] maintenance_routes")


@pytest.mark.parametrize(
    "check",
    [
        pytest.param("test_analytics_cron_last_run_did_not_fail", id="cron-failed-no-rows"),
        pytest.param("test_no_cron_run_is_stuck", id="cron-stuck-no-rows"),
    ],
)
def test_no_cron_rows_is_cannot_judge(run_checks: RunChecks, suite_dir: Path, check: str) -> None:
    config = (
        (suite_dir / "umbrella.toml")
        .read_text()
        .replace('job_name = "analytics_aggregation"', 'job_name = "no_such_job"')
    )
    run = run_checks("checks/test_database.py", "-k", check, config=config)
    assert run.skipped_names() == [check]
    assert run.message_of(check) == "cannot judge: no no_such_job runs in cron_logs to judge"
