"""docs/verdict.md, row by row: each situation against a real server — the sandbox with a fault
switched on, or a local server that behaves as the row says — and the word the verdict file
holds. The ids are the table's last column."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, CheckRun, RunChecks, sandbox_requests
from tests.fakes import FakeSentry
from umbrella_checks.sandbox import Sandbox

GIGS_LATENCY = "test_critical_path_meets_its_latency_budget[gigs]"


VerdictOf = Callable[..., tuple[str, CheckRun]]


@pytest.fixture
def verdict_of(run_checks: RunChecks, tmp_path: Path) -> VerdictOf:
    """Run the checks; the verdict file's word, and the run."""

    def run(*args: str, **kwargs: Any) -> tuple[str, CheckRun]:
        path = tmp_path / "verdict"
        result = run_checks(*args, f"--umbrella-verdict-file={path}", **kwargs)
        return path.read_text(encoding="utf-8").strip(), result

    return run


def _as_development(target: Sandbox) -> tuple[str, ...]:
    return ("--umbrella-environment=development",)


def _with_tokens(monkeypatch: pytest.MonkeyPatch, target: Sandbox) -> None:
    for account, variable in (
        ("user", "UMBRELLA_USER_TOKEN"),
        ("admin", "UMBRELLA_ADMIN_TOKEN"),
        ("limit", "UMBRELLA_LIMIT_TOKEN"),
    ):
        monkeypatch.setenv(variable, target.accounts[account].token)


def test_healthy(verdict_of: VerdictOf) -> None:
    word, run = verdict_of("-m", "postdeploy")
    assert word == "healthy"
    assert run.ret == 0


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("health-500", id="health-500"),
        pytest.param("health-unhealthy", id="health-unhealthy"),
        pytest.param("wrong-environment", id="wrong-environment"),
        pytest.param("auth-not-enforced", id="auth-not-enforced"),
        pytest.param("cors-missing", id="cors-missing"),
        pytest.param("route-5xx=/v1/gigs", id="route-5xx"),
        pytest.param("database-down", id="database-down"),
    ],
)
def test_what_the_runbook_rolls_back_on_is_broken(verdict_of: VerdictOf, fault: str) -> None:
    word, _ = verdict_of("-m", "postdeploy", faults=[fault])
    assert word == "broken"


def test_platform_503(verdict_of: VerdictOf) -> None:
    """The platform's own error page on every route: one failure, naming the platform."""
    word, run = verdict_of("-m", "postdeploy", faults=["platform-503"])
    assert word == "broken"
    (failed,) = run.failed_names()
    assert "the platform in front of the Worker answers its own error page" in (
        run.message_of(failed)
    )


def test_hang(
    verdict_of: VerdictOf,
    sandbox_server: Callable[..., Sandbox],
    suite_dir: Path,
) -> None:
    """Connected, and no answer even alone: production down."""
    target = sandbox_server("hang")
    config = (
        REPO / "umbrella.toml"
    ).read_text() + '\n[env.development.http]\nread_timeout = "1s"\n'
    word, run = verdict_of(
        "checks/test_health.py", *_as_development(target), target=target.url, config=config
    )
    assert word == "broken"
    assert len(run.failed_names()) == 1


@pytest.mark.parametrize(
    ("args", "faults", "said"),
    [
        pytest.param(("-m", "postdeploy"), ["slow=/v1/gigs:600"], "", id="over-budget"),
        pytest.param(
            ("checks/test_smoke.py", "-k", "latency_budget and gigs"),
            ["slow-every-other=/v1/gigs:900", "no-server-timing"],
            "every sample taken",
            id="slow-every-other",
        ),
        pytest.param(
            ("checks/test_smoke.py", "-k", "latency_budget and gigs"),
            ["slow-every-other=/v1/gigs:900"],
            "timed by Server-Timing total",
            id="slow-every-other-by-server-timing",
        ),
        pytest.param(
            ("checks/test_smoke.py", "-k", "latency_budget and gigs"),
            ["slow-at-first=/v1/gigs:1500"],
            "timed by Server-Timing total",
            id="server-timing-over-ceiling",
        ),
    ],
)
def test_a_slow_route_is_degraded(
    verdict_of: VerdictOf,
    args: tuple[str, ...],
    faults: list[str],
    said: str,
) -> None:
    """SEV-2: the runbook leaves the rollback to a person. The fast samples never outvote
    the slow ones, and the service's own Server-Timing over budget is final."""
    word, run = verdict_of(*args, faults=faults)
    assert word == "degraded"
    assert run.failed_names() == [GIGS_LATENCY]
    assert said in run.message_of(GIGS_LATENCY)


def test_cached_health(verdict_of: VerdictOf) -> None:
    """Timestamp and Date both 15 minutes old: no fresh evidence of the deploy."""
    word, run = verdict_of("checks/test_health.py", faults=["health-from-cache"])
    assert word == "degraded"
    message = run.message_of("test_health_timestamp_is_current")
    assert "within 60 s of this runner's clock" in message


def test_stale_version(verdict_of: VerdictOf) -> None:
    word, _ = verdict_of(
        "checks/test_health.py", "--umbrella-expected-version=0.1.0", faults=["stale-version"]
    )
    assert word == "degraded"


def test_latency_inside_timeout(
    pytester: pytest.Pytester,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest-timeout's limit: the confirmation stops in time, and the check fails as the
    latency failure it is, never as an error of the run."""
    target = sandbox_server("slow=/v1/gigs:1800", "no-server-timing")
    _with_tokens(monkeypatch, target)
    (suite_dir / "umbrella.toml").write_text(
        (REPO / "umbrella.toml").read_text()
        + '\n[env.development.http]\nconnect_timeout = "1s"\nread_timeout = "2s"\n',
        encoding="utf-8",
    )
    verdict = tmp_path / "verdict"
    result = pytester.runpytest_subprocess(
        "checks/test_smoke.py",
        "-k",
        "latency_budget and gigs",
        "--timeout=6",
        f"--base-url={target.url}",
        "--umbrella-environment=development",
        f"--umbrella-verdict-file={verdict}",
    )
    assert verdict.read_text().strip() == "degraded"
    result.assert_outcomes(failed=1)
    assert "Timeout" not in result.stdout.str()


@pytest.fixture
def full_listener() -> Iterator[str]:
    """A listener whose accept queue is full: a connection to it never opens (as behind a
    firewall that drops SYNs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    waiting = []
    for _ in range(8):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        waiting.append(client)
    yield f"http://127.0.0.1:{port}"
    for client in waiting:
        client.close()
    server.close()


def test_connect_timeout(verdict_of: VerdictOf, full_listener: str) -> None:
    config = (
        REPO / "umbrella.toml"
    ).read_text() + '\n[env.development.http]\nconnect_timeout = "0.2s"\n'
    word, run = verdict_of(
        "-m",
        "postdeploy",
        "--umbrella-environment=development",
        target=full_listener,
        config=config,
    )
    assert word == "could-not-run"
    (failed,) = run.failed_names()
    message = run.message_of(failed)
    assert "the connection never opened" in message
    assert "hangs" not in message


def test_refused(verdict_of: VerdictOf) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    word, _ = verdict_of(
        "-m", "postdeploy", "--umbrella-environment=development", target=f"http://127.0.0.1:{port}"
    )
    assert word == "could-not-run"


def test_not_the_api(verdict_of: VerdictOf, static_site: str) -> None:
    """Some other site at the URL (here: a static site answering 404 HTML): without a baseline
    a wrong URL and lost routes look the same."""
    word, run = verdict_of(
        "-m", "postdeploy", "--umbrella-environment=development", target=static_site
    )
    assert word == "could-not-run"
    assert len(run.failed_names()) == 1


def test_outside_api_down(verdict_of: VerdictOf, sentry_api: FakeSentry) -> None:
    sentry_api.mode = "server-error"
    word, _ = verdict_of("checks/test_sentry.py")
    assert word == "could-not-run"


def test_missing_secret_strict(
    verdict_of: VerdictOf, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server()
    word, _ = verdict_of(
        "-m", "postdeploy", "--umbrella-strict-skips", *_as_development(target), target=target.url
    )
    assert word == "could-not-run"


def test_nothing_judged(
    verdict_of: VerdictOf,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every destructive check refused (the target does not say its environment): never green."""
    target = sandbox_server("health-no-environment", environment="staging")
    _with_tokens(monkeypatch, target)
    word, run = verdict_of(
        "-m",
        "destructive",
        "--umbrella-allow-destructive",
        "--umbrella-environment=staging",
        target=target.url,
    )
    assert word == "could-not-run"
    assert run.ret == 1
    assert run.failed_names() == []
    verdict_line = next(line for line in run.output.splitlines() if "umbrella: verdict:" in line)
    assert "the safety guard refused all " in verdict_line
    assert "did not say which environment it is" in verdict_line
    assert "to let them through, the target's health route must answer 200 naming" in verdict_line


def test_suite_error(verdict_of: VerdictOf, suite_dir: Path) -> None:
    (suite_dir / "checks" / "test_crash.py").write_text(
        "def test_crash():\n    raise RuntimeError('the suite broke')\n", encoding="utf-8"
    )
    word, _ = verdict_of("checks/test_health.py", "checks/test_crash.py")
    assert word == "could-not-run"


@pytest.mark.parametrize(
    "overlay",
    [
        pytest.param('[env.development.http]\nread_timeout = "1ms"\n', id="read-timeout-1ms"),
        pytest.param('[env.development.http]\nconnect_timeout = "0s"\n', id="connect-timeout-0s"),
        pytest.param('[env.development.budgets]\nceiling = "0s"\n', id="ceiling-0s"),
        pytest.param('[env.development.budgets.endpoints]\n"/v1/gigs" = "0ms"\n', id="budget-0ms"),
    ],
)
def test_unmeetable_config(
    verdict_of: VerdictOf,
    sandbox_server: Callable[..., Sandbox],
    overlay: str,
) -> None:
    target = sandbox_server()
    config = (REPO / "umbrella.toml").read_text() + "\n" + overlay
    word, run = verdict_of(
        "-m", "postdeploy", *_as_development(target), target=target.url, config=config
    )
    assert word == "could-not-run"
    assert run.ret == 4
    assert "no healthy service could meet it" in run.stderr
    assert sandbox_requests(target) == 0


@pytest.mark.parametrize(
    ("variable", "value", "said", "secret"),
    [
        pytest.param(
            "API_URL",
            "http://checker:pa55-w0rd-x@127.0.0.1:{port}",
            "carries credentials",
            "pa55-w0rd-x",
            id="url-with-credentials",
        ),
        pytest.param(
            "UMBRELLA_USER_TOKEN",
            "tok-first-half\ntok-second-half",
            "UMBRELLA_USER_TOKEN holds a control character",
            "tok-second-half",
            id="token-with-a-line-break",
        ),
        pytest.param("API_URL", "http://[::1", "is not a valid URL", None, id="url-bracket"),
        pytest.param(
            "API_URL", "https://umbrella..app", "empty part in its host", None, id="url-dots"
        ),
    ],
)
def test_bad_input(
    verdict_of: VerdictOf,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    said: str,
    secret: str | None,
) -> None:
    target = sandbox_server()
    port = target.url.rsplit(":", 1)[1]
    monkeypatch.setenv(variable, value.format(port=port))
    if variable != "API_URL":
        monkeypatch.setenv("API_URL", target.url)
    word, run = verdict_of("-m", "postdeploy", "--umbrella-environment=development", target="")
    output = run.output + run.stderr
    assert word == "could-not-run"
    assert run.ret == 4
    assert said in output
    assert "Traceback" not in output
    if secret:
        assert secret not in output
    assert sandbox_requests(target) == 0


def test_aftermath_contained(
    verdict_of: VerdictOf,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
) -> None:
    """A malformed webhook and a corrupt history come after the verdict, and stay one line."""
    target = sandbox_server("health-500")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "hooks slack com / not a url")
    reports = suite_dir / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "history.sqlite").write_bytes(b"this is not a database" * 100)
    word, run = verdict_of(
        "-m",
        "postdeploy",
        "--umbrella-alert",
        f"--umbrella-d1-sqlite={target.d1_sqlite}",  # D1's figures go to the history
        *_as_development(target),
        target=target.url,
    )
    output = run.output
    assert word == "broken"
    assert "INTERNALERROR" not in output
    assert "could not alert Slack: SLACK_WEBHOOK_URL is not" in output
    assert "history.sqlite was unreadable" in output
    assert len(list(reports.glob("history.sqlite.unreadable-*"))) == 1
    assert (reports / "postdeploy-latest.html").exists()


def test_broken_beats_doubt(verdict_of: VerdictOf, sandbox_server: Callable[..., Sandbox]) -> None:
    target = sandbox_server("health-500")  # and no tokens: strict skips fail for lack of them
    word, _ = verdict_of(
        "-m", "postdeploy", "--umbrella-strict-skips", *_as_development(target), target=target.url
    )
    assert word == "broken"


def test_doubt_beats_degraded(
    verdict_of: VerdictOf, sandbox_server: Callable[..., Sandbox]
) -> None:
    target = sandbox_server("slow=/v1/health:200")  # health over its 50 ms budget, no tokens
    word, run = verdict_of(
        "-m", "postdeploy", "--umbrella-strict-skips", *_as_development(target), target=target.url
    )
    assert word == "could-not-run"
    assert "also found: 1 degraded" in run.output


def test_xdist_parity(verdict_of: VerdictOf) -> None:
    """One defect, strict skips: the same outcomes and verdict with -n 2 as serially."""

    def counts(run: CheckRun) -> tuple[int, int, int]:
        return (
            len(run.failed_names()),
            len(run.skipped_names()),
            len(run.passed_names()),
        )

    args = ("-m", "postdeploy", "--umbrella-strict-skips")
    serial_word, serial = verdict_of(*args, faults=["health-500"])
    xdist_word, xdist = verdict_of(*args, "-n", "2", faults=["health-500"])
    assert (xdist_word, counts(xdist)) == (serial_word, counts(serial))
    assert serial_word == "broken"
    assert counts(serial)[0] == 1


def test_a_verdict_left_by_an_earlier_run_never_survives_a_usage_error(
    run_checks: RunChecks, tmp_path: Path
) -> None:
    verdict = tmp_path / "verdict"
    verdict.write_text("healthy\n")
    run = run_checks(
        "-m",
        "postdeploy",
        "--umbrella-sandbox-fault=no-such-fault",
        f"--umbrella-verdict-file={verdict}",
    )
    assert run.ret == 4
    assert verdict.read_text() == "could-not-run\n"


if sys.platform != "linux":  # the full accept queue is how Linux behaves
    test_connect_timeout = pytest.mark.skip(reason="Linux only")(test_connect_timeout)
