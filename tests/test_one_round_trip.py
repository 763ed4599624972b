"""The post-deploy tier's requests go out together, and no more of them than checks use.

Speed itself is the benchmark's to show (bench/postdeploy.py); these prove the mechanism: the
sandbox sees the requests in flight at once, and counts as many as the run reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunChecks
from umbrella_checks.sandbox import Sandbox


def _signed_in(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    monkeypatch.setenv("UMBRELLA_ADMIN_TOKEN", sandbox.accounts["admin"].token)


def _state(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["counts"]
    return counts


def test_the_planned_requests_are_in_flight_together(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 60 ms an answer on the routes with roomy budgets (not health's 50 ms): long enough that
    # requests sent together overlap, short of every budget they have.
    sandbox = sandbox_server(
        *(f"slow={route}:60" for route in ("/v1/artists", "/v1/gigs", "/v1/profile", "/v1/admin"))
    )
    _signed_in(monkeypatch, sandbox)
    run = run_checks("-m", "postdeploy", "--environment=development", target=sandbox.url)
    assert run.failed_names() == []
    assert _state(sandbox)["max_in_flight"] >= 4  # one at a time would be 1


def test_concurrency_1_sends_as_checks_ask(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
) -> None:
    sandbox = sandbox_server()
    _signed_in(monkeypatch, sandbox)
    config = (
        suite_dir / "umbrella.toml"
    ).read_text() + "\n[env.development.http]\nconcurrency = 1\n"
    run = run_checks(
        "-m", "postdeploy", "--environment=development", target=sandbox.url, config=config
    )
    assert run.failed_names() == []
    assert _state(sandbox)["max_in_flight"] == 1


def test_every_request_sent_is_counted_and_the_tier_stays_under_60(
    pytester: pytest.Pytester,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = sandbox_server()
    _signed_in(monkeypatch, sandbox)
    result = pytester.runpytest_subprocess(
        "-m", "postdeploy", f"--base-url={sandbox.url}", "--environment=development"
    )
    reported = re.search(r"umbrella: (\d+) requests sent to the target", result.stdout.str())
    assert reported is not None
    assert int(reported.group(1)) == _state(sandbox)["requests"] <= 60


def test_the_start_of_run_probe_goes_out_with_the_planned_requests(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Health answers in a second: a probe sent on its own would be answered before any other
    # request arrived; sent with the tier's planned requests, they all arrive while it waits
    # (a second leaves room for a loaded machine).
    sandbox = sandbox_server("slow=/v1/health:1000")
    _signed_in(monkeypatch, sandbox)
    run_checks("-m", "postdeploy", "--environment=development", target=sandbox.url)
    events: list[str] = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["events"]
    probe_answered = events.index("end GET /v1/health")
    arrived = [
        event
        for event in events[:probe_answered]
        if event.startswith("start ") and not event.endswith("/v1/health")
    ]
    assert len(arrived) >= 10, events[: probe_answered + 1]


def test_the_target_version_is_in_the_summary_and_the_report(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    # The probe is answered while checks run: the header cannot show it, the summary does.
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--sandbox")
    assert result.ret == 0
    lines = result.stdout.lines
    version = "umbrella: Target version: 0.1.0 (environment development)"
    assert version in lines
    collected = next(i for i, line in enumerate(lines) if line.startswith("collected "))
    assert lines.index(version) > collected
    (report,) = (suite_dir / "reports").glob("postdeploy-*Z.html")
    text = report.read_text(encoding="utf-8")
    assert "Target version" in text
    assert "0.1.0 (environment development)" in text


def test_a_healthy_target_far_away_meets_its_latency_budgets(run_checks: RunChecks) -> None:
    # 150 ms of network on every answer: three times health's 50 ms budget, yet none of it is
    # the service's own time, which is what the budgets judge.
    run = run_checks("-m", "postdeploy", faults=["distance=150"])
    assert run.failed_names() == []
    assert "test_critical_path_meets_its_latency_budget[health]" in run.passed_names()
