"""`python -m umbrella_checks contract diff`: drift at a glance, each difference once, with the
line that would record it; nothing on a target shaped as recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import SUITE_VARIABLES
from umbrella_checks.sandbox import Sandbox


def _diff(sandbox: Sandbox) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
    env |= {"API_URL": sandbox.url, "ENVIRONMENT": "development"}
    env["UMBRELLA_USER_TOKEN"] = sandbox.accounts["user"].token
    return subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "contract", "diff"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
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
