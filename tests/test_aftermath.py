"""What a finished run leaves behind besides its report: the alert's text, its closing notes
(Slack alerted, Clerk sessions revoked) and nothing at all for a run that found nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from tests.fakes import FakeClerk, SlackHook
from umbrella_checks.operations.incident import Failure
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.wiring.aftermath import alert_text

REPORT = Path("reports/daily-latest.html")


def _failures(count: int) -> list[Failure]:
    return [Failure(f"checks/t.py::test_{n}", "failed", severity="SEV-2") for n in range(count)]


@pytest.mark.parametrize(
    ("count", "more"),
    [
        pytest.param(10, "", id="ten-all-named"),
        pytest.param(11, " and 1 more", id="eleven-ten-named-and-1-more"),
    ],
)
def test_an_alert_names_ten_failures_and_counts_the_rest(count: int, more: str) -> None:
    text = alert_text("daily", "https://staging.umbrella.app", _failures(count), REPORT)
    assert text == (
        f":rotating_light: umbrella-checks daily on https://staging.umbrella.app: {count} failed "
        f"(SEV-2): {', '.join(f'test_{n}' for n in range(10))}{more}. Report: {REPORT}"
    )


def _daily(pytester: pytest.Pytester, target: Sandbox, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-m", "daily", f"--base-url={target.url}", "--umbrella-environment=development", *args
    )


def test_an_alert_slack_took_is_noted(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = _daily(pytester, sandbox_server("health-500"), "--umbrella-alert", "-k", "health")
    assert result.ret == 1
    assert len(slack.posts) == 1
    assert "umbrella: Slack alerted" in result.stdout.lines


def test_a_run_that_found_nothing_alerts_nobody(
    pytester: pytest.Pytester,
    suite_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = _daily(pytester, sandbox_server(), "--umbrella-alert", "-k", "health")
    assert result.ret == 0
    assert slack.posts == []
    assert list((suite_dir / "reports").glob("incident-*.md")) == []


def test_revoking_the_runs_minted_sessions_is_noted(
    run_checks: RunChecks,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    with FakeClerk(["clerk_user_1"]).running() as clerk:
        monkeypatch.setenv("CLERK_SECRET_KEY", FakeClerk.TOKEN)
        monkeypatch.setenv("CLERK_API_URL", clerk.base)
        monkeypatch.setenv("UMBRELLA_USER_ID", "clerk_user_1")
        target = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
        run = run_checks(
            "checks/test_smoke.py::test_protected_route_accepts_the_test_user",
            "--umbrella-environment=development",
            target=target.url,
        )
        assert clerk.revoked == 1
    assert "umbrella: Clerk: revoked 1 minted session(s)" in run.output
