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

from tests.conftest import RunChecks, arrived_while_the_probe_waited
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.sandbox.process import SandboxProcess
from umbrella_checks.target.pacing import START


def _signed_in(monkeypatch: pytest.MonkeyPatch, tokens: dict[str, str]) -> None:
    """The user's and the admin's tokens of a sandbox, in-process or a process of its own."""
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", tokens["user"])
    monkeypatch.setenv("UMBRELLA_ADMIN_TOKEN", tokens["admin"])


def _state(url: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{url}/__sandbox/state", timeout=5).json()["counts"]
    return counts


def test_the_planned_requests_are_in_flight_together(
    run_checks: RunChecks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 150 ms an answer on the routes with roomy budgets (not health's 50 ms): long enough that
    # requests sent together overlap, short of every budget they have (300 ms and more). The
    # sandbox is a process of its own, as --umbrella-sandbox's is: sharing this one's GIL, on a
    # loaded machine under coverage, it once saw only three at a time.
    slow = tuple(
        f"slow={route}:150" for route in ("/v1/artists", "/v1/gigs", "/v1/profile", "/v1/admin")
    )
    sandbox = SandboxProcess.spawn(slow, "development")
    try:
        _signed_in(monkeypatch, sandbox.info["tokens"])
        run = run_checks(
            "-m", "postdeploy", "--umbrella-environment=development", target=sandbox.url
        )
        state = _state(sandbox.url)
    finally:
        sandbox.stop()
    assert run.failed_names() == []
    assert state["max_in_flight"] >= 4  # one at a time would be 1


def test_concurrency_1_sends_as_checks_ask(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
) -> None:
    sandbox = sandbox_server()
    _signed_in(monkeypatch, sandbox.info.tokens)
    config = (
        suite_dir / "umbrella.toml"
    ).read_text() + "\n[env.development.http]\nconcurrency = 1\n"
    run = run_checks(
        "-m", "postdeploy", "--umbrella-environment=development", target=sandbox.url, config=config
    )
    assert run.failed_names() == []
    assert _state(sandbox.url)["max_in_flight"] == 1


def test_every_request_sent_is_counted_and_the_tier_stays_under_60(
    pytester: pytest.Pytester,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = sandbox_server()
    _signed_in(monkeypatch, sandbox.info.tokens)
    result = pytester.runpytest_subprocess(
        "-m", "postdeploy", f"--base-url={sandbox.url}", "--umbrella-environment=development"
    )
    reported = re.search(r"umbrella: (\d+) requests sent to the target", result.stdout.str())
    assert reported is not None
    assert int(reported.group(1)) == _state(sandbox.url)["requests"] <= 60


def test_the_start_of_run_probe_goes_out_with_the_planned_requests(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Health answers in a second: a probe sent on its own would be answered before any other
    # request arrived; sent with the tier's planned requests, those the first window holds
    # arrive while it waits. (How many more follow depends on how fast the others come back:
    # on a loaded machine the pacer reads their spread as a queue and narrows the window.)
    sandbox = sandbox_server("slow=/v1/health:1000")
    _signed_in(monkeypatch, sandbox.info.tokens)
    run_checks("-m", "postdeploy", "--umbrella-environment=development", target=sandbox.url)
    arrived = arrived_while_the_probe_waited(sandbox)
    assert len(arrived) >= START - 1, arrived


def test_the_target_version_is_in_the_summary_and_the_report(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    # The probe is answered while checks run: the header cannot show it, the summary does.
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
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


def _events(sandbox: Sandbox) -> list[str]:
    events: list[str] = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["events"]
    return events


def test_every_request_a_check_sends_was_declared_by_it(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """Declarations and checks agree: renaming or changing a check cannot silently turn its
    prefetching off (the run lists any request a check sent without declaring it)."""
    run = run_checks("-m", "postdeploy or daily or weekly", "-p", "no:randomly")
    assert run.failed_names() == []
    assert "sent on demand, not declared" not in run.output


def test_an_undeclared_request_is_listed(run_checks: RunChecks, suite_dir: Path) -> None:
    check = suite_dir / "checks" / "test_smoke.py"
    source = check.read_text()
    # A check that sends what it did not declare: its declaration is gone.
    check.write_text(source.replace("@sends(_unknown_route)\n", ""))
    run = run_checks("checks/test_smoke.py", "-p", "no:randomly")
    assert (
        "1 request(s) sent on demand, not declared by the check that sent them (each drops "
        "what is prefetched): test_unknown_route_answers_404_envelope: GET "
        "/v1/umbrella-checks-unknown-route" in run.output
    )


def test_a_prefetched_answer_serves_only_its_own_check_and_only_before_state_changes(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The status matrix and the Violet checks both read GET /v1/violet/usage as the user: each
    gets an answer of its own, and the one judged after the quota was used up is fetched after
    the prompts that used it (not prefetched before them)."""
    sandbox = sandbox_server(environment="staging")
    for account in ("user", "limit"):
        monkeypatch.setenv(f"UMBRELLA_{account.upper()}_TOKEN", sandbox.accounts[account].token)
    run = run_checks(
        "checks/test_status_matrix.py",
        "checks/test_rate_limit.py",
        "-k",
        "usage or another_account or documented_one or window_is_daily",
        "--umbrella-environment=staging",
        "--umbrella-allow-destructive",
        "-p",
        "no:randomly",
        target=sandbox.url,
    )
    assert run.failed_names() == []
    assert "test_another_account_is_unaffected" in run.passed_names()
    starts = [event for event in _events(sandbox) if event.startswith("start ")]
    usage = [i for i, event in enumerate(starts) if event == "start GET /v1/violet/usage"]
    prompts = [i for i, event in enumerate(starts) if event == "start POST /v1/violet/prompt"]
    assert len(prompts) >= 50
    # Prefetched, one each: the matrix's anonymous and user rows, and the read-only Violet
    # checks' shared answer (the user row's answer is not handed to them); after the prompts:
    # the unaffected-account check's own.
    assert len([i for i in usage if i < prompts[0]]) == 3
    assert usage[-1] > prompts[-1]
