"""The sandbox plays Cloudflare's GraphQL API, Sentry and Slack (sandbox/services.py) on the wire
formats the self-tests' fakes speak, so the daily and weekly tiers judge on it in one command;
each of their faults is caught by the check that exists for it, with the verdict the runbook
gives it, and an outside service that is down is doubt about the run, never ``broken``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunChecks


@pytest.mark.parametrize(
    ("tier", "fault", "check", "fragment"),
    [
        pytest.param(
            "daily",
            "traffic-errors=20",
            "test_worker_error_rate_is_under_budget[24h]",
            "got 20.00%",
            id="errors-daily",
        ),
        pytest.param(
            "daily",
            "traffic-drop",
            "test_request_volume_did_not_drop[24h]",
            "got 3000 (33%)",
            id="drop-daily",
        ),
        pytest.param(
            "weekly",
            "traffic-slow",
            "test_worker_latency_is_under_target[7d]",
            "P95",
            id="slow-weekly",
        ),
        pytest.param(
            "weekly", "r2-full", "test_r2_bucket_is_under_its_storage_quota", "9.5", id="r2-full"
        ),
        pytest.param(
            "weekly",
            "auth-failures-surge",
            "test_authentication_failures_did_not_surge",
            "401/403",
            id="auth-surge",
        ),
        pytest.param(
            "daily",
            "sentry-critical",
            "test_no_new_critical_or_high_sentry_issues",
            "D1_ERROR",
            id="sentry-critical",
        ),
    ],
)
def test_each_outside_fault_is_caught_by_its_check(
    run_checks: RunChecks, tmp_path: Path, tier: str, fault: str, check: str, fragment: str
) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks("-m", tier, f"--umbrella-verdict-file={verdict}", faults=[fault])
    assert run.failed_names() == [check]
    assert fragment in run.message_of(check)
    assert verdict.read_text(encoding="utf-8").strip() == "degraded"


@pytest.mark.parametrize(
    ("fault", "module", "service"),
    [
        pytest.param("cloudflare-down", "checks/test_traffic.py", "Cloudflare", id="cloudflare"),
        pytest.param("sentry-down", "checks/test_sentry.py", "Sentry", id="sentry"),
    ],
)
def test_an_outside_service_down_is_could_not_run(
    run_checks: RunChecks, tmp_path: Path, fault: str, module: str, service: str
) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks(module, f"--umbrella-verdict-file={verdict}", faults=[fault])
    assert run.failed_names()
    assert run.passed_names() == []
    assert verdict.read_text(encoding="utf-8").strip() == "could-not-run"
    for name in run.failed_names():
        assert service in run.message_of(name)
        assert "502" in run.message_of(name)


@pytest.mark.parametrize("tier", ["daily", "weekly"])
def test_every_tier_judges_on_the_sandbox_with_strict_skips(
    run_checks: RunChecks, tmp_path: Path, tier: str
) -> None:
    verdict = tmp_path / "verdict"
    run = run_checks("-m", tier, "--umbrella-strict-skips", f"--umbrella-verdict-file={verdict}")
    assert run.ret == 0, run.output[-3000:]
    assert run.failed_names() == []
    assert verdict.read_text(encoding="utf-8").strip() == "healthy"
