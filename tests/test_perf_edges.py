"""The release gate's edges not covered by a Locust run: the overall sample floor, what counts
as "not judged", the command it builds, and its one-line refusals (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from umbrella_checks.commands import perf
from umbrella_checks.commands.perf import EndpointStats, judge
from umbrella_checks.config.suite import Budgets, SuiteConfig


def _stats(name: str, p95: float, requests: int = 100) -> EndpointStats:
    return EndpointStats(name, requests, 0, p95 / 2, p95, p95 * 1.2)


@pytest.fixture(autouse=True)
def no_host_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("API_URL", "UMBRELLA_USER_TOKEN", "SMOKE_TEST_TOKEN", "CLERK_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("UMBRELLA_USER_ID", "CLERK_API_URL", "UMBRELLA_CONFIG", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_twenty_samples_are_enough_for_the_overall_p95() -> None:
    passed, table = judge([], _stats("overall", 100, requests=20), Budgets())
    assert passed
    assert "cannot be judged" not in table


@pytest.mark.parametrize(
    ("fail_unjudged", "said"),
    [
        pytest.param(False, "", id="counted-only"),
        pytest.param(True, " ([perf] fail_unjudged: a failure)", id="said-to-fail"),
    ],
)
def test_the_verdict_says_when_not_judged_is_a_failure(fail_unjudged: bool, said: str) -> None:
    _, table = judge(
        [_stats("/v1/gigs", 100, requests=5)], _stats("overall", 100), Budgets(), fail_unjudged
    )
    verdict = table.splitlines()[-1]
    assert f"1 endpoint(s) with a budget not judged for too few samples{said}  (" in verdict


def test_an_endpoint_without_a_budget_is_never_counted_as_not_judged() -> None:
    passed, table = judge(
        [_stats("/v1/unknown", 100, requests=5)], _stats("overall", 100), Budgets(), True
    )
    assert passed
    assert "not judged" not in table


def test_an_unreachable_target_reports_no_environment() -> None:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    gone = server.url_for("/").rstrip("/")
    server.stop()
    reported = perf.reported_environment(gone, SuiteConfig())
    assert reported.environment is None
    assert (reported.unknown or "").startswith("no health answer: ")


def test_no_target_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert perf.main([]) == 4
    assert (
        capsys.readouterr().err
        == "perf: no target: set API_URL, pass --host URL, or --umbrella-sandbox\n"
    )


def test_no_pyproject_beside_the_profile_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9")
    (tmp_path / "perf").mkdir()
    assert perf.main(["--perf-dir", str(tmp_path / "perf")]) == 4
    assert capsys.readouterr().err.startswith("perf: no pyproject.toml beside ")


def test_a_static_token_is_used_without_minting(
    monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A static token means no Clerk session is created (none to revoke, no quota spent),
    even where Clerk minting is configured too."""
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", "static-token")
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_unused")
    monkeypatch.setenv("UMBRELLA_USER_ID", "user_1")
    monkeypatch.setenv("CLERK_API_URL", httpserver.url_for("/v1"))
    assert perf.main([]) == 4  # no target: stops before Locust
    assert "no target" in capsys.readouterr().err
    assert list(httpserver.log) == []


def test_reports_go_to_a_folder_made_on_demand(tmp_path: Path) -> None:
    reports = tmp_path / "deep" / "reports"
    perf._locust_command(Path("perf"), reports, "http://t", [], {})
    assert reports.is_dir()


@pytest.mark.parametrize(
    ("host", "args", "hosts"),
    [
        pytest.param("http://t", [], ["http://t"], id="api-url-becomes-host"),
        pytest.param("http://t", ["--host", "http://u"], ["http://u"], id="own-host-wins"),
        pytest.param("", ["-Hhttp://u"], [], id="no-api-url-no-host-added"),
    ],
)
def test_the_locust_host_is_api_url_unless_given(
    tmp_path: Path, host: str, args: list[str], hosts: list[str]
) -> None:
    command = perf._locust_command(Path("perf"), tmp_path, host, args, {})
    added = [command[i + 1] for i, arg in enumerate(command) if arg == "--host"]
    assert added == hosts
