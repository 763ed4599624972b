"""`python -m umbrella_checks contract diff`: drift at a glance, each difference once, with the
line that would record it; nothing on a target shaped as recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SUITE_VARIABLES
from umbrella_checks.sandbox import Sandbox


def _run(cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m umbrella_checks contract diff` with only these of the suite's variables."""
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "contract", "diff"],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _diff(sandbox: Sandbox) -> subprocess.CompletedProcess[str]:
    return _run(
        API_URL=sandbox.url,
        ENVIRONMENT="development",
        UMBRELLA_USER_TOKEN=sandbox.accounts["user"].token,
    )


def test_a_target_shaped_as_recorded_has_no_differences(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": same") == 4


def test_each_difference_is_named_once_with_its_recording(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    done = _diff(sandbox_server("envelope-missing=/v1/health", "usage-in-body"))
    assert done.returncode == 1
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("-")]
    assert lines == [
        "- no envelope (top-level keys: dependencies, environment, service, status, timestamp, "
        'uptime, version); to record: [envelope] bare_routes = ["/v1/health"]',
        "- rate-limit headers X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset absent "
        "(rate-limit headers it has: none); to record: [violet] headers_on_usage = false, or "
        "[violet.headers] names",
        "- data.used absent (its object has: count, left, quota, resetsAt); to record: the right "
        "path in [violet] used_field",
        "- data.remaining absent (its object has: count, left, quota, resetsAt); to record: the "
        "right path in [violet] remaining_field",
    ]


def test_diff_sends_only_reads(sandbox_server: Callable[..., Sandbox]) -> None:
    import httpx

    sandbox = sandbox_server()
    _diff(sandbox)
    state = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()
    assert state["counts"]["requests"] == 4
    assert state["counts"].get("prompts", 0) == 0


def _diff_with(
    sandbox: Sandbox, tmp_path: Path, config: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "umbrella.toml").write_text(config)
    return _run(
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


def test_a_target_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, API_URL="http://127.0.0.1:9", ENVIRONMENT="development")
    assert done.returncode == 1
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
