"""What a finished run leaves behind besides its report: the alert's text, its closing notes
(Slack alerted, Clerk sessions revoked) and nothing at all for a run that found nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from tests.fakes import SlackHook, minting_clerk
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


@pytest.fixture
def alerting_health_run(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackHook
) -> Callable[[Sandbox], pytest.RunResult]:
    """The daily tier's health checks with --umbrella-alert and Slack's webhook set."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)

    def run(target: Sandbox) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            *("-m", "daily", "-k", "health", "--umbrella-alert"),
            *(f"--base-url={target.url}", "--umbrella-environment=development"),
        )

    return run


@pytest.mark.parametrize(
    ("faults", "code", "posts", "drafts"),
    [
        pytest.param(("health-500",), 1, 1, 1, id="failed-alerts-once"),
        pytest.param((), 0, 0, 0, id="found-nothing-alerts-nobody"),
    ],
)
def test_an_alert_goes_out_only_when_something_failed_and_is_noted(
    alerting_health_run: Callable[[Sandbox], pytest.RunResult],
    slack: SlackHook,
    sandbox_server: Callable[..., Sandbox],
    suite_dir: Path,
    faults: tuple[str, ...],
    code: int,
    posts: int,
    drafts: int,
) -> None:
    result = alerting_health_run(sandbox_server(*faults))
    assert result.ret == code
    assert len(slack.posts) == posts
    assert len(list((suite_dir / "reports").glob("incident-*.md"))) == drafts
    assert ("umbrella: Slack alerted" in result.stdout.lines) is bool(posts)


def test_revoking_the_runs_minted_sessions_is_noted(
    run_checks: RunChecks,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    with minting_clerk(monkeypatch) as clerk:
        target = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
        run = run_checks(
            "checks/test_smoke.py::test_protected_route_accepts_the_test_user",
            "--umbrella-environment=development",
            target=target.url,
        )
        assert clerk.revoked == 1
    assert "umbrella: Clerk: revoked 1 minted session(s)" in run.output
