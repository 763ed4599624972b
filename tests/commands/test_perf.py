"""The release gate: real Locust runs against the sandbox, judged by the suite's budgets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import REPO, SUITE_VARIABLES
from umbrella_checks.commands import perf as gate
from umbrella_checks.commands.perf import EndpointStats, judge
from umbrella_checks.config.suite import Budgets, SuiteConfig
from umbrella_checks.sandbox import Sandbox

# Short think time so a few seconds give hundreds of requests: shares and P95s are stable.
# Budgets roomy enough that a busy CI machine does not trip them: these tests prove the gate's
# mechanism (the injected 450 ms breaks the 400 ms gigs budget), not the sandbox's speed.
FAST = """[perf]
think_time_min = "0ms"
think_time_max = "20ms"

[budgets]
overall_p95 = "1s"

[budgets.endpoints]
"/v1/health" = "300ms"
"/v1/artists" = "300ms"
"/v1/gigs" = "400ms"
"/v1/profile" = "300ms"
"""


def _env(tmp_path: Path, config: str = FAST, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    (tmp_path / "umbrella.toml").write_text(config, encoding="utf-8")
    env["UMBRELLA_CONFIG"] = str(tmp_path / "umbrella.toml")
    env.update(extra)
    return env


def perf(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "umbrella_checks",
        "perf",
        f"--reports-dir={tmp_path}",
        f"--perf-dir={REPO / 'perf'}",
        "-t",
        "2s",
        "-u",
        "10",
        "-r",
        "10",
        *args,
    ]
    return subprocess.run(
        command,
        env=env or _env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_the_profile_passes_on_the_healthy_sandbox(tmp_path: Path) -> None:
    done = perf(tmp_path, "--umbrella-sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout
    verdicts = list(tmp_path.glob("perf-*-verdict.txt"))
    assert len(verdicts) == 1
    assert verdicts[0].with_name(verdicts[0].name.replace("-verdict.txt", ".html")).exists()
    assert list(tmp_path.glob("perf-*_stats.csv"))
    # Every task under the name its budget is kept under (no query string, one artist page).
    rows = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("/v1/")}
    assert rows == {"/v1/health", "/v1/artists/:id", "/v1/artists", "/v1/gigs", "/v1/profile"}


def test_a_few_slow_answers_are_not_the_p95(tmp_path: Path) -> None:
    """The gate judges the 95th percentile: 1% of discovery answers taking 800 ms (over the
    300 ms budget) among hundreds of quick ones passes."""
    done = perf(tmp_path, "--umbrella-sandbox", "--umbrella-sandbox-fault=slow=/v1/artists:0,800@1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout


def test_a_slow_route_fails_its_budget_and_names_it(tmp_path: Path) -> None:
    # Longer than the others: a slow route gets fewer requests, and a P95 needs 20 of them.
    done = perf(
        tmp_path,
        "--umbrella-sandbox",
        "--umbrella-sandbox-fault=slow=/v1/gigs:450",
        "-t",
        "5s",
        "-u",
        "20",
        "-r",
        "20",
    )
    assert done.returncode == 1
    failing = [line for line in done.stdout.splitlines() if "FAIL: P95 over budget" in line]
    assert [line.split()[0] for line in failing] == ["/v1/gigs"]


def test_errors_above_one_percent_fail_the_error_rate(tmp_path: Path) -> None:
    # Not on health: the gate reads the environment from it first (a 500 there refuses).
    done = perf(tmp_path, "--umbrella-sandbox", "--umbrella-sandbox-fault=route-5xx=/v1/artists:10")
    assert done.returncode == 1
    assert "FAIL: error rate over budget" in done.stdout


def test_a_load_that_would_trip_a_documented_limit_is_warned_about(tmp_path: Path) -> None:
    limited = FAST + '\n[security.rate_limits.public]\nlimit = 100\nwindow = "1m"\nper = "ip"\n'
    limited += 'routes = ["/v1/health"]\n'
    done = perf(tmp_path, "--umbrella-sandbox", env=_env(tmp_path, limited))
    # 10 users, 10 ms think time: 1,000 a second from one IP, 60,000 in the minute.
    assert (
        "about 60000 requests per 60 s from one ip would trip the documented limit 'public' (100)"
        in done.stdout
    )


def test_an_endpoint_whose_requests_fail_is_never_ok(tmp_path: Path) -> None:
    done = perf(tmp_path, "--umbrella-sandbox", "--umbrella-sandbox-fault=route-5xx=/v1/gigs")
    assert done.returncode == 1
    failing = [line for line in done.stdout.splitlines() if "FAIL: errors 100.0%" in line]
    assert [line.split()[0] for line in failing] == ["/v1/gigs"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_distributed_run_is_judged_on_the_master(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    env = _env(
        tmp_path,
        API_URL=sandbox.url,
        ENVIRONMENT="development",
        UMBRELLA_USER_TOKEN=sandbox.accounts["user"].token,
    )
    port = str(_free_port())
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(REPO / "perf" / "locustfile.py"),
                "--worker",
                "--master-host=127.0.0.1",
                f"--master-port={port}",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        done = perf(
            tmp_path, "--master", "--expect-workers=2", f"--master-bind-port={port}", env=env
        )
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()  # the master never came: do not leave load generators behind
                worker.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("verdict: PASS") == 1


@pytest.mark.parametrize(
    ("reports", "faults", "expected", "why"),
    [
        pytest.param(
            "development",
            (),
            "production",
            "the expected environment is production",
            id="expected-production",
        ),
        pytest.param(
            "production",
            (),
            "staging",
            "reports environment production",
            id="target-says-production",
        ),
        pytest.param(
            "development",
            ("health-500",),
            "staging",
            "did not say which environment it is",
            id="environment-unknown",
        ),
    ],
)
def test_a_target_not_known_to_be_safe_gets_no_load(
    tmp_path: Path,
    sandbox_server: Callable[..., Sandbox],
    reports: str,
    faults: tuple[str, ...],
    expected: str,
    why: str,
) -> None:
    """Fail closed, as the pytest tiers' guard: only the health probe is sent."""
    sandbox = sandbox_server(*faults, environment=reports)
    done = perf(tmp_path, env=_env(tmp_path, API_URL=sandbox.url, ENVIRONMENT=expected))
    assert done.returncode == 4, done.stdout + done.stderr  # could not run, never "too slow"
    assert "refused to load-test" in done.stderr
    assert why in done.stderr
    assert "Traceback" not in done.stderr
    state = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()
    assert state["counts"].get("requests", 0) == 1  # the health probe alone
    assert list(tmp_path.glob("perf-*")) == []  # refused before Locust: no empty CSVs


@pytest.mark.parametrize(
    ("expected", "remedy"),
    [
        pytest.param(
            "staging",
            "(point API_URL (or --host) at a staging, preview or development deployment)",
            id="both-set",
        ),
        pytest.param(None, "(set ENVIRONMENT to the one the target reports)", id="no-environment"),
    ],
)
def test_a_refusal_names_only_what_is_not_set(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox], expected: str | None, remedy: str
) -> None:
    sandbox = sandbox_server(environment="production")
    extra = {"ENVIRONMENT": expected} if expected else {}
    done = perf(tmp_path, env=_env(tmp_path, API_URL=sandbox.url, **extra))
    assert done.returncode == 4
    assert done.stderr.strip().endswith(remedy), done.stderr


def test_a_staging_target_gets_its_load(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server(environment="staging")
    env = _env(tmp_path, API_URL=sandbox.url, ENVIRONMENT="staging")
    done = perf(tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "UMBRELLA_USER_TOKEN is not set: the signed-in tasks" in done.stdout


def _plain_locust(
    tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`locust` as its users run it, in a checkout: [tool.locust] names the locustfile and the
    bounds; nothing from the suite's own perf command."""
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    (checkout / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (checkout / "perf").mkdir(exist_ok=True)
    (checkout / "perf" / "locustfile.py").write_text((REPO / "perf" / "locustfile.py").read_text())
    return subprocess.run(
        [sys.executable, "-m", "locust", "-t", "2s", "-u", "5", "-r", "5", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=checkout,
    )


def test_plain_locust_honours_api_url_and_the_pyproject_bounds(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server()
    env = _env(tmp_path, API_URL=target.url, ENVIRONMENT="development")
    env["UMBRELLA_USER_TOKEN"] = target.accounts["user"].token
    done = _plain_locust(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout  # headless, bounded, judged: [tool.locust] was read
    reports = tmp_path / "checkout" / "reports"
    assert "verdict: PASS" in (reports / "perf-latest-verdict.txt").read_text(encoding="utf-8")
    assert (reports / "perf-latest.html").stat().st_size > 0


def test_plain_locust_writes_its_verdict_where_asked_making_the_folder(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server()
    verdict = tmp_path / "not" / "yet" / "verdict.txt"
    env = _env(tmp_path, API_URL=target.url, ENVIRONMENT="development")
    env["UMBRELLA_USER_TOKEN"] = target.accounts["user"].token
    env["UMBRELLA_PERF_VERDICT"] = str(verdict)
    done = _plain_locust(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in verdict.read_text(encoding="utf-8")


def test_plain_locust_without_a_target_says_so_in_one_line(tmp_path: Path) -> None:
    done = _plain_locust(tmp_path, _env(tmp_path))
    assert done.returncode == 4
    assert "perf: no target: pass --host URL or set API_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_plain_locust_applies_the_gates_environment_rule(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    """No ENVIRONMENT: production is expected, and the target is never loaded."""
    target = sandbox_server(environment="production")
    done = _plain_locust(tmp_path, _env(tmp_path), f"--host={target.url}")
    assert done.returncode == 4
    assert "perf: refused" in done.stderr or "\nperf: " in done.stderr
    assert target.counts["requests"] <= 1  # the one health read, no load


def test_the_perf_command_takes_host_with_an_equals_sign(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server()
    env = _env(tmp_path, ENVIRONMENT="development")
    env["UMBRELLA_USER_TOKEN"] = target.accounts["user"].token
    done = perf(tmp_path, f"--host={target.url}", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout


@pytest.mark.parametrize(
    ("args", "extra", "fragment"),
    [
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-sandbox-fault=no-such-fault"],
            {},
            "perf: unknown sandbox fault 'no-such-fault'",
            id="bad-fault",
        ),
        pytest.param(
            [],
            {"API_URL": "http://127.0.0.1:9", "ENVIRONMENT": "nowhere"},
            "perf: ENVIRONMENT: unknown environment 'nowhere'",
            id="bad-environment",
        ),
        pytest.param(
            [],
            {
                "API_URL": "http://127.0.0.1:9",
                "ENVIRONMENT": "staging",
                "CONFIG": "[perf]\nx = 1\n",
            },
            "perf: ",
            id="bad-config",
        ),
        pytest.param(
            ["--sandbox"],
            {},
            "perf: unknown option --sandbox; did you mean --umbrella-sandbox?",
            id="old-spelling",
        ),
        pytest.param(
            [],
            {"API_URL": "http://127.0.0.1:9", "ENVIRONMENT": "staging"},
            "perf: refused to load-test http://127.0.0.1:9: the target at http://127.0.0.1:9 did "
            "not say which environment it is (no health answer: ",
            id="unreachable",
        ),
    ],
)
def test_bad_input_to_the_perf_command_is_one_line(
    tmp_path: Path, args: list[str], extra: dict[str, str], fragment: str
) -> None:
    config = extra.pop("CONFIG", FAST)
    done = perf(tmp_path, *args, env=_env(tmp_path, config, **extra))
    assert done.returncode == 4, done.stderr  # bad input, never 1 (the gate's "too slow")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(fragment), lines[0]
    assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("perf-*")) == []  # no report of a run that never was


def test_a_token_clerk_will_not_mint_is_one_line(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server(environment="staging")
    env = _env(
        tmp_path,
        API_URL=target.url,
        ENVIRONMENT="staging",
        CLERK_SECRET_KEY="sk_test_unreachable_clerk_0123",
        CLERK_API_URL="http://127.0.0.1:9/v1",
        UMBRELLA_USER_ID="user_1",
    )
    done = perf(tmp_path, env=env)
    assert done.returncode == 4
    assert done.stderr.startswith("perf: cannot mint a test token: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_plain_locust_with_clerk_variables_but_no_minted_file_runs(
    tmp_path: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    """Minting is the perf command's (it hands Locust the token file): a plain `locust` with
    Clerk's variables in the environment runs the anonymous tasks, no crash."""
    target = sandbox_server()
    env = _env(tmp_path, API_URL=target.url, ENVIRONMENT="development")
    env.update(
        {
            "CLERK_SECRET_KEY": "sk_test_never_used_here_0123",
            "CLERK_API_URL": "http://127.0.0.1:9/v1",
            "UMBRELLA_USER_ID": "user_1",
        }
    )
    done = _plain_locust(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout


# ----------------------------------------------------------------------
# The release gate's edges not covered by a Locust run: the overall sample floor, what counts
# as "not judged", the command it builds, and its one-line refusals (exit 4).
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
    reported = gate.reported_environment(gone, SuiteConfig())
    assert reported.environment is None
    assert (reported.unknown or "").startswith("no health answer: ")


def test_no_target_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate.main([]) == 4
    assert (
        capsys.readouterr().err
        == "perf: no target: set API_URL, pass --host URL, or --umbrella-sandbox\n"
    )


def test_no_pyproject_beside_the_profile_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9")
    (tmp_path / "perf").mkdir()
    assert gate.main(["--perf-dir", str(tmp_path / "perf")]) == 4
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
    assert gate.main([]) == 4  # no target: stops before Locust
    assert "no target" in capsys.readouterr().err
    assert list(httpserver.log) == []


def test_reports_go_to_a_folder_made_on_demand(tmp_path: Path) -> None:
    reports = tmp_path / "deep" / "reports"
    gate._locust_command(Path("perf"), reports, "http://t", [], {})
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
    command = gate._locust_command(Path("perf"), tmp_path, host, args, {})
    added = [command[i + 1] for i, arg in enumerate(command) if arg == "--host"]
    assert added == hosts


@pytest.mark.parametrize(
    ("locust_args", "host"),
    [
        pytest.param(["-u", "5", "--host", "http://a"], "http://a", id="host-then-url"),
        pytest.param(["-H", "http://b", "-u", "5"], "http://b", id="short-then-url"),
        pytest.param(["--host=http://c"], "http://c", id="host-equals"),
        pytest.param(["-Hhttp://d"], "http://d", id="short-joined"),
        pytest.param(["-u", "5", "--host"], "", id="host-last-without-url"),
        pytest.param(["-u", "5"], "", id="no-host"),
    ],
)
def test_the_host_is_read_as_locust_reads_it(locust_args: list[str], host: str) -> None:
    assert gate._host_of(locust_args) == host
