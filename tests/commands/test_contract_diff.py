"""`python -m umbrella_checks contract diff`: drift at a glance, each difference once, with the
line that would record it; nothing on a target shaped as recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SUITE_VARIABLES
from umbrella_checks.commands.contract import HEALTH_FACTS, Difference, admin, prompt, usage
from umbrella_checks.config.suite import SuiteConfig
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.secrets import Secret
from umbrella_checks.target.client import ApiClient
from umbrella_checks.transport import RequestCounter


def _run(cwd: Path | None = None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m umbrella_checks contract diff` with only these of the suite's variables."""
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "contract", "diff", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _diff(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(
        None,
        *args,
        API_URL=sandbox.url,
        ENVIRONMENT="development",
        UMBRELLA_USER_TOKEN=sandbox.accounts["user"].token,
        UMBRELLA_ADMIN_TOKEN=sandbox.accounts["admin"].token,
    )


def _differences(done: subprocess.CompletedProcess[str]) -> list[str]:
    lines = [line.strip() for line in done.stdout.splitlines()]
    return [line for line in lines if line.startswith("- ") and not line.startswith("- not asked")]


def test_a_target_shaped_as_recorded_has_no_differences(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server())
    assert done.returncode == 0, done.stdout + done.stderr
    # Every route family the tiers judge, each the same.
    assert done.stdout.count(": same") == 9, done.stdout
    assert "To record" not in done.stdout


def test_each_difference_is_named_once_with_its_recording_in_one_pass(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server("envelope-missing=/v1/health", "usage-in-body"))
    assert done.returncode == 1
    assert _differences(done) == [
        "- no envelope (top-level keys: dependencies, environment, service, status, timestamp, "
        'uptime, version); to record: [envelope] bare_routes = ["/v1/health"]',
        "- rate-limit headers X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset absent "
        "(rate-limit headers it has: none); to record: [violet] headers_on_usage = false",
        "- data.used absent (its object has: count, left, quota, resetsAt); to record: [violet] "
        'used_field = "data.count"',
        "- data.remaining absent (its object has: count, left, quota, resetsAt); to record: "
        '[violet] remaining_field = "data.left"',
        "- data.limit absent (its object has: count, left, quota, resetsAt); to record: [violet] "
        'limit_field = "data.quota"',
        "- data.resetAt absent (its object has: count, left, quota, resetsAt); to record: "
        '[violet] reset_field = "data.resetsAt"',
    ]
    block = done.stdout.split("in umbrella.toml", 1)[1]
    assert '[env.development.envelope]\n  bare_routes = ["/v1/health"]' in block
    assert 'reset_field = "data.resetsAt"' in block


def test_a_field_the_runbook_needs_is_said_missing_never_offered_as_a_recording(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server("envelope-missing=/v1/health", "health-no-environment"))
    (missing,) = [line for line in _differences(done) if "data.environment" in line]
    assert "no field of the answer says which environment answers" in missing
    assert "add it to the Worker's health answer (nothing to record)" in missing
    assert "environment_field" not in done.stdout


def test_a_fact_under_another_name_is_recorded_by_its_path(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    done = _diff_with(sandbox_server(), tmp_path, '[health]\nenvironment_field = "data.env"\n')
    assert '[health] environment_field = "data.environment"' in done.stdout


def test_ids_this_environment_lacks_are_recorded_with_one_it_has(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server("ids-differ"))
    block = done.stdout.split("in umbrella.toml", 1)[1]
    assert '[env.development.routes]\n  artist_id = "art_1"\n  profile_id = "art_1"' in block


def test_an_allow_list_it_cannot_see_is_a_comment_to_fill_in(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server("cors-origins-differ"))
    assert "a preflight from https://umbrella.app is granted no origin" in done.stdout
    assert '# allowed_origins = ["<each origin this environment allows>"]' in done.stdout


def test_a_field_the_prompt_needs_is_found_by_a_prompt_refused_before_work(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    import httpx

    sandbox = sandbox_server("prompt-needs-model")
    done = _diff(sandbox)
    assert "a prompt needs 'model' too (model is required)" in done.stdout
    state = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()
    assert state["counts"].get("prompts", 0) == 0  # refused before any work


def test_no_prompt_is_sent_to_a_target_that_does_not_say_it_is_not_production(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    import httpx

    sandbox = sandbox_server(environment="production")
    done = _diff(sandbox, "--umbrella-environment=production")
    assert "not asked: a POST is sent only to a target that says it is not production" in (
        done.stdout
    )
    events = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["events"]
    assert not [event for event in events if event.startswith("start POST")]


def test_the_environment_option_is_the_tiers_own(sandbox_server: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_server(environment="staging")
    done = _diff(sandbox, "--umbrella-environment=staging")
    assert done.stdout.startswith(f"{sandbox.url} (staging) against the recorded contract:")


def test_diff_sends_only_reads(sandbox_server: Callable[..., Sandbox]) -> None:
    """GETs and preflights, and one prompt refused before any work."""
    import httpx

    sandbox = sandbox_server()
    _diff(sandbox)
    state = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()
    assert state["counts"].get("prompts", 0) == 0
    sent = {event.split()[1] for event in state["events"] if event.startswith("start ")}
    assert sent == {"GET", "OPTIONS", "POST"}
    posts = [e for e in state["events"] if e.startswith("start POST")]
    assert posts == ["start POST /v1/violet/prompt"]


def _diff_with(
    sandbox: Sandbox, tmp_path: Path, config: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "umbrella.toml").write_text(config)
    return _run(
        None,
        API_URL=sandbox.url,
        ENVIRONMENT="development",
        UMBRELLA_CONFIG=str(tmp_path / "umbrella.toml"),
    )


SHOUTED = "error-code=/v1/umbrella-checks-unknown-route:NOT_FOUND"


def test_an_error_code_in_another_case_is_a_difference_only_when_case_is_strict(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    shouted = sandbox_server(SHOUTED)
    lenient = _diff_with(shouted, tmp_path)
    assert "error code" not in lenient.stdout  # compared without case by default
    strict = _diff_with(shouted, tmp_path, "[errors]\nstrict_case = true\n")
    assert strict.returncode == 1
    assert (
        'error code "NOT_FOUND" where the contract says "not_found"; to record: [errors] codes '
        '= { not_found = "NOT_FOUND" }' in strict.stdout
    )


def test_a_recorded_code_spelling_is_no_difference(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    recorded = '[errors]\nstrict_case = true\n[errors.codes]\nnot_found = "NOT_FOUND"\n'
    done = _diff_with(sandbox_server(SHOUTED), tmp_path, recorded)
    assert "error code" not in done.stdout


def test_a_recorded_bare_route_that_has_the_envelope_is_a_difference(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    done = _diff_with(sandbox_server(), tmp_path, '[envelope]\nbare_routes = ["/v1/health"]\n')
    assert done.returncode == 1
    assert "has the envelope, but [envelope] bare_routes lists /v1/health" in done.stdout


def test_a_target_that_does_not_answer_is_one_line_and_exit_4(tmp_path: Path) -> None:
    done = _run(tmp_path, API_URL="http://127.0.0.1:9", ENVIRONMENT="development")
    assert done.returncode == 4
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("contract: GET http://127.0.0.1:9/v1/health: could not connect")


def test_a_health_route_answering_no_json_is_said(tmp_path: Path) -> None:
    """Some other site at the URL: the diff says the route answers without JSON."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = _run(tmp_path, API_URL=url, ENVIRONMENT="development")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1
    assert "- answers 404 without JSON" in done.stdout


def test_a_bad_api_url_is_named_as_the_variable(tmp_path: Path) -> None:
    done = _run(tmp_path, API_URL="ftp://umbrella.app")
    assert done.returncode == 4
    assert done.stderr.startswith("contract: API_URL")


def test_the_block_to_paste_records_a_worker_like_the_real_one_in_one_pass(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """docs/differences.md's walk-through: run the diff, paste its block, run it again — every
    route the same."""
    sandbox = sandbox_server(
        "envelope-missing=/v1/health", "ids-differ", "usage-in-body", "error-codes-lowercase"
    )
    tokens = {
        "UMBRELLA_USER_TOKEN": sandbox.accounts["user"].token,
        "UMBRELLA_ADMIN_TOKEN": sandbox.accounts["admin"].token,
    }
    config = tmp_path / "umbrella.toml"
    config.write_text("")
    env = {"API_URL": sandbox.url, "ENVIRONMENT": "development", "UMBRELLA_CONFIG": str(config)}
    first = _run(None, **env, **tokens)
    assert first.returncode == 1
    block = first.stdout.split("(a commented line needs its value):\n", 1)[1]
    config.write_text("\n".join(line.strip() for line in block.splitlines()) + "\n")
    again = _run(None, **env, **tokens)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_target_compared_without_tokens_exits_0_saying_what_it_did_not_ask(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    """What was not asked is not a difference: no token, no failing exit."""
    sandbox = sandbox_server()
    done = _run(None, API_URL=sandbox.url, ENVIRONMENT="development")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "- not asked: set UMBRELLA_USER_TOKEN" in done.stdout


def _nowhere() -> ApiClient:
    return ApiClient.for_target("http://127.0.0.1:9", SuiteConfig(), RequestCounter())


TOKEN = Secret("UMBRELLA_USER_TOKEN", "t")


@pytest.mark.parametrize(
    ("ask", "said"),
    [
        pytest.param(
            lambda api: admin(api, SuiteConfig(), None), "UMBRELLA_ADMIN_TOKEN", id="admin"
        ),
        pytest.param(
            lambda api: usage(api, SuiteConfig(), None), "UMBRELLA_USER_TOKEN", id="usage"
        ),
        pytest.param(
            lambda api: prompt(api, SuiteConfig(), None, "development"),
            "UMBRELLA_USER_TOKEN",
            id="prompt-without-token",
        ),
        pytest.param(
            lambda api: prompt(api, SuiteConfig(), TOKEN, "production"),
            "only to a target that says it is not production",
            id="prompt-to-production",
        ),
    ],
)
def test_what_cannot_be_asked_is_not_asked_and_said_so(
    ask: Callable[[ApiClient], list[Difference]], said: str
) -> None:
    api = _nowhere()
    found = ask(api)
    assert [(d.not_asked, said in d.line) for d in found] == [(True, True)]
    assert api.counter.total == 0


@pytest.mark.parametrize(
    ("fact", "value", "holds"),
    [
        pytest.param("status_field", "healthy", True, id="status-healthy"),
        pytest.param("status_field", "down", False, id="status-down"),
        pytest.param("version_field", "1.2.3", True, id="version-text"),
        pytest.param("version_field", 123, False, id="version-a-number"),
        pytest.param("timestamp_field", "2026-12-06T12:00:00Z", True, id="timestamp-iso"),
        pytest.param("timestamp_field", "yesterday", False, id="timestamp-words"),
        pytest.param("timestamp_field", 1765022400, False, id="timestamp-a-number"),
        pytest.param("dependencies_field", {"d1": "healthy"}, True, id="dependencies-object"),
        pytest.param("dependencies_field", "healthy", False, id="dependencies-text"),
    ],
)
def test_a_health_fact_is_recognised_by_what_its_field_holds(
    fact: str, value: object, holds: bool
) -> None:
    assert HEALTH_FACTS[fact][1]("field", value, SuiteConfig()) is holds
