"""The monitor command's loop, state and output, one behaviour each.

A scheduler or a terminal runs ``python -m umbrella_checks monitor``; what it prints, what it
keeps between runs and how it exits is what the on-call engineer reads. Health is a real local
server (pytest-httpserver) answering as the Worker does; Slack is the local incoming webhook.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes import SlackHook
from umbrella_checks.commands import monitor
from umbrella_checks.config.suite import SuiteConfig

HEALTHY = {"data": {"status": "healthy", "environment": "development"}}


@pytest.fixture
def health() -> Iterator[HTTPServer]:
    """A Worker's health route of its own (Slack's webhook has the shared ``httpserver``)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("API_URL", "UMBRELLA_CONFIG", "SLACK_WEBHOOK_URL", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no umbrella.toml of the host's


def _answer(server: HTTPServer, body: object, status: int = 200) -> None:
    server.clear_all_handlers()
    server.expect_request("/v1/health").respond_with_json(body, status=status)


def _health_requests(server: HTTPServer) -> int:
    return sum(1 for request, _ in server.log if request.path == "/v1/health")


def _run(server: HTTPServer, state: Path, *args: str) -> int:
    return monitor.main(
        [f"--base-url={server.url_for('/').rstrip('/')}", f"--state={state}", *args]
    )


def test_help_says_what_the_monitor_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        monitor.main(["--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Monitor mode: the runbook's alert rule" in out


def test_help_states_the_five_minute_default_and_no_count_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The runbook checks every 5 minutes; without --count the loop never stops."""
    with pytest.raises(SystemExit):
        monitor.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "seconds between checks (default: 300.0)" in out
    assert "stop after N checks (default: 0, never)" in out


@pytest.mark.parametrize(
    ("count", "healthy", "code"),
    [
        pytest.param(2, True, 0, id="two-healthy-exit-0"),
        pytest.param(3, False, 1, id="three-failing-exit-1"),
    ],
)
def test_the_loop_checks_count_times_and_exits_on_the_last(
    health: HTTPServer, tmp_path: Path, count: int, healthy: bool, code: int
) -> None:
    _answer(health, HEALTHY if healthy else {"error": "down"}, 200 if healthy else 500)
    done = _run(health, tmp_path / "state.json", "--interval=0", f"--count={count}")
    assert done == code
    assert _health_requests(health) == count


def test_the_loop_exit_follows_the_last_check_not_the_first(
    health: HTTPServer, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    _answer(health, {"error": "down"}, 500)
    assert _run(health, state, "--count=1") == 1
    _answer(health, HEALTHY)
    assert _run(health, state, "--interval=0", "--count=1") == 0


def test_once_checks_once(health: HTTPServer, tmp_path: Path) -> None:
    _answer(health, HEALTHY)
    assert _run(health, tmp_path / "state.json", "--once") == 0
    assert _health_requests(health) == 1


def test_no_answer_is_a_failure_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    gone = server.url_for("/").rstrip("/")
    server.stop()  # nothing listens there any more
    assert monitor.main([f"--base-url={gone}", f"--state={tmp_path / 's.json'}", "--once"]) == 1
    out = capsys.readouterr().out
    assert " FAIL " in out
    assert "(consecutive failures: 1)" in out


def test_a_200_that_is_not_healthy_warns_and_counts_no_failure(
    health: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(health, {"data": {"status": "degraded"}})
    assert _run(health, tmp_path / "state.json", "--once") == 0
    out = capsys.readouterr().out
    assert "ok (warning: 200, but data.status is 'degraded') (consecutive failures: 0)" in out


def test_a_healthy_200_has_no_warning(
    health: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(health, HEALTHY)
    _run(health, tmp_path / "state.json", "--once")
    out = capsys.readouterr().out
    assert "ok (consecutive failures: 0)" in out
    assert "warning" not in out


def test_recovery_resets_the_count_kept_between_runs(health: HTTPServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    _answer(health, {"error": "down"}, 500)
    for _ in range(3):
        _run(health, state, "--once")
    assert json.loads(state.read_text())["failures"] == 3
    _answer(health, HEALTHY)
    _run(health, state, "--once")
    kept = json.loads(state.read_text())
    assert (kept["failures"], kept["alerted"]) == (0, False)


def test_the_state_file_may_live_in_a_folder_not_made_yet(
    health: HTTPServer, tmp_path: Path
) -> None:
    _answer(health, HEALTHY)
    state = tmp_path / "deep" / "er" / "state.json"
    assert _run(health, state, "--once") == 0
    assert state.exists()


@pytest.mark.parametrize(
    ("answer", "last", "posts"),
    [
        pytest.param("ok", "alert sent", 1, id="slack-took-it"),
        pytest.param("forbidden", "could not alert Slack: HTTP 403 invalid_token", 0, id="refused"),
    ],
)
def test_an_alert_says_whether_slack_took_it(
    health: HTTPServer,
    tmp_path: Path,
    slack: SlackHook,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    last: str,
    posts: int,
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    slack.answer(answer)
    _answer(health, {"error": "down"}, 500)
    _run(health, tmp_path / "state.json", "--interval=0", "--count=2")
    assert capsys.readouterr().out.splitlines()[-1] == last  # never the webhook's URL
    assert len(slack.posts) == posts


def _scheduler_env() -> dict[str, str]:
    """As a scheduler starts the monitor: output to a pipe, block-buffered (no
    PYTHONUNBUFFERED), no target or alert settings of this machine's."""
    drop = ("API_URL", "UMBRELLA_CONFIG", "SLACK_WEBHOOK_URL", "PYTHONUNBUFFERED")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _first_lines(args: list[str], env: dict[str, str], lines: int) -> list[str]:
    """The first lines a running monitor prints, read while it waits for its next check: a
    scheduler's log or a terminal shows each check as it happens, not when the loop ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "umbrella_checks", "monitor", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    got: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            got.put(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # Long enough for a busy machine; a line held in a buffer never comes before the kill.
        return [got.get(timeout=30) for _ in range(lines)]
    except queue.Empty:
        return []
    finally:
        process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    "webhook", [pytest.param(False, id="no-webhook"), pytest.param(True, id="webhook")]
)
def test_each_check_and_alert_is_printed_as_it_happens(
    health: HTTPServer, tmp_path: Path, slack: SlackHook, webhook: bool
) -> None:
    # One failure already counted: the loop's first check alerts, then sleeps an hour.
    state = tmp_path / "state.json"
    base = health.url_for("/").rstrip("/")
    state.write_text(json.dumps({"failures": 1, "alerted": False, "last": "", "target": base}))
    _answer(health, {"error": "down"}, 500)
    env = _scheduler_env()
    if webhook:
        env["SLACK_WEBHOOK_URL"] = slack.url
    args = [f"--base-url={base}", f"--state={state}", "--interval=3600"]
    printed = _first_lines(args, env, 2)
    assert len(printed) == 2, f"printed so far: {printed}"
    assert "FAIL " in printed[0]
    if webhook:
        assert printed[1] == "alert sent"
    else:
        assert printed[1].startswith("alert (SLACK_WEBHOOK_URL not set): :red_circle:")


def test_a_healthy_check_is_printed_before_the_next_one(health: HTTPServer, tmp_path: Path) -> None:
    _answer(health, HEALTHY)
    base = health.url_for("/").rstrip("/")
    env = _scheduler_env()
    args = [f"--base-url={base}", f"--state={tmp_path / 'state.json'}", "--interval=3600"]
    printed = _first_lines(args, env, 1)
    assert len(printed) == 1
    assert printed[0].endswith(" ok (consecutive failures: 0)")


@pytest.mark.parametrize(
    ("status", "down"),
    [
        pytest.param(200, False, id="200-up"),
        pytest.param(204, True, id="204-down"),
        pytest.param(301, True, id="redirect-down"),
        pytest.param(404, True, id="404-down"),
        pytest.param(503, True, id="503-down"),
    ],
)
def test_down_is_anything_but_a_200(health: HTTPServer, status: int, down: bool) -> None:
    """The runbook's rule: health answering anything but 200 (or nothing) is down."""
    _answer(health, HEALTHY, status=status)
    seen = monitor.observe_health(health.url_for("/").rstrip("/"), SuiteConfig())
    assert (seen.problem is not None) is down
    if down:
        assert f"HTTP {status}" in (seen.problem or "")


def test_the_second_failure_in_a_row_alerts_once_and_recovery_once() -> None:
    state = monitor.State()
    said = [monitor.step(state, problem) for problem in ("a", "b", "c", None, None)]
    assert said[0] is None  # one failure is a blip
    assert said[1] == ":red_circle: health failing 2 checks in a row: b"
    assert said[2] is None  # still down: no second page
    assert said[3] == ":white_check_mark: recovered: c"
    assert said[4] is None


def test_a_failure_between_successes_never_alerts() -> None:
    state = monitor.State()
    assert [monitor.step(state, p) for p in ("a", None, "b", None)] == [None] * 4
