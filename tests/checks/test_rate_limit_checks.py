"""Violet's 50/day limit: both levels pass on the sandbox, fail on each fault, and the
destructive level never sends a prompt to anything that looks like production."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunChecks, assert_on_call_message, checks_in
from umbrella_checks.sandbox import Sandbox

READ_ONLY = checks_in("test_rate_limit.py", destructive=False)
DESTRUCTIVE = checks_in("test_rate_limit.py", destructive=True)
ALLOW = ("checks/test_rate_limit.py", "--umbrella-allow-destructive")


@pytest.fixture(autouse=True)
def _clear_of_midnight() -> None:
    # The sandbox's day rolls over at 00:00 UTC like the real one, and the minute-boundary
    # check rightly refuses to judge in the two minutes before it.
    now = datetime.now(UTC)
    if (now.hour, now.minute) >= (23, 57) or (now.hour, now.minute) < (0, 1):
        pytest.skip("within minutes of 00:00 UTC, when Violet's daily window rolls over")


def test_both_levels_pass_on_the_healthy_sandbox(run_checks: RunChecks) -> None:
    run = run_checks(*ALLOW)
    assert run.passed_names() == sorted(READ_ONLY + DESTRUCTIVE)


def test_the_read_only_level_needs_no_opt_in(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_rate_limit.py")
    assert run.passed_names() == READ_ONLY
    assert run.skipped_names() == DESTRUCTIVE
    for name in DESTRUCTIVE:
        assert "--umbrella-allow-destructive --umbrella-environment=staging" in run.message_of(name)


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param(
            "rate-limit-off",
            ["test_exactly_the_remaining_quota_is_accepted"],
            "expected 429 for prompt 51",
            id="not-enforced",
        ),
        pytest.param(
            "rate-limit-off-by-one",
            ["test_exactly_the_remaining_quota_is_accepted"],
            "got 200: prompt 51 was accepted too",
            id="off-by-one",
        ),
        pytest.param(
            "retry-after-missing",
            ["test_every_429_is_a_proper_429"],
            "/v1/violet/prompt): no Retry-After header",
            id="retry-after-missing",
        ),
        pytest.param(
            "second-limiter",
            ["test_every_429_is_a_proper_429"],
            "/v1/violet/prompt): no Retry-After header, "
            "X-RateLimit-Remaining: 49 (two limiters disagree",
            id="second-limiter",
        ),
        pytest.param(
            "reset-missing-on-429",
            ["test_every_429_is_a_proper_429"],
            "/v1/violet/prompt): no X-RateLimit-Reset header",
            id="429-without-reset",
        ),
        pytest.param(
            "rate-limit-per-minute",
            [
                "test_every_429_is_a_proper_429",
                "test_quota_stays_closed_after_a_minute",
                "test_violet_window_is_daily",
            ],
            "expected X-RateLimit-Reset at the next 00:00 UTC",
            id="per-minute-window",
        ),
        pytest.param(
            "violet-limit=100",
            ["test_violet_limit_is_the_documented_one"],
            "expected X-RateLimit-Limit: 50, got 100",
            id="wrong-limit",
        ),
        pytest.param(
            "rate-limit-remaining-wrong",
            ["test_violet_remaining_matches_usage"],
            "expected X-RateLimit-Remaining: 47 (limit 50 - used 3 in the body), got 48",
            id="remaining-disagrees-with-usage",
        ),
        pytest.param(
            "usage-limit-wrong",
            ["test_violet_limit_is_the_documented_one"],
            "expected data.limit 50, got 100",
            id="usage-body-limit-wrong",
        ),
        pytest.param(
            "remaining-off-by-one",
            ["test_violet_remaining_matches_usage", "test_exactly_the_remaining_quota_is_accepted"],
            "expected 429 for prompt 50 (X-RateLimit-Remaining promised 48 after the first), "
            "got 200: prompt 50 was accepted too",
            id="prompt-counted-twice",
        ),
        pytest.param(
            "reset-off=120",
            ["test_violet_window_is_daily", "test_every_429_is_a_proper_429"],
            "away), X-RateLimit-Reset 20",  # both the Retry-After and the reset named
            id="reset-2-minutes-late",
        ),
        pytest.param(
            "reset-off=-120",
            ["test_violet_window_is_daily", "test_every_429_is_a_proper_429"],
            "X-RateLimit-Reset at the next 00:00 UTC",
            id="reset-2-minutes-early",
        ),
        pytest.param(
            "error-code=/v1/violet/prompt:TOO_MANY_REQUESTS",
            ["test_the_prompt_past_the_limit_gets_429_envelope"],
            'expected error code "RATE_LIMIT_EXCEEDED", got 429',
            id="429-wrong-code",
        ),
        pytest.param(
            "rate-limit-global",
            ["test_another_account_is_unaffected"],
            "expected the test user's own quota (X-RateLimit-Remaining > 0), got 0",
            id="shared-quota",
        ),
        pytest.param(
            "rate-limit-remaining-wrong",
            [
                "test_every_429_is_a_proper_429",
                "test_exactly_the_remaining_quota_is_accepted",
                "test_violet_remaining_matches_usage",
            ],
            "counting down by one per accepted prompt (49, 48, 47, 46, 45, 44, …), "
            "got 50, 49, 48, 47, 46, 45, …",
            id="remaining-inconsistent",
        ),
    ],
)
def test_rate_limit_checks_catch_their_fault(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks(*ALLOW, faults=[fault])
    assert sorted(set(run.failed_names()) & set(failing)) == sorted(failing)
    # Checks that depend on a refused prompt error out when none was refused; nothing passes
    # by accident and nothing outside the rate-limit module is involved.
    assert not set(run.passed_names()) & set(failing)
    for name in failing:
        assert_on_call_message(run.message_of(name))
    assert any(fragment in run.message_of(name) for name in failing)


def test_every_429_problem_is_reported_together(run_checks: RunChecks) -> None:
    """The first 429's problem does not hide the later one's."""
    run = run_checks(*ALLOW, "-k", "proper_429", faults=["retry-after-missing", "second-limiter"])
    message = run.message_of("test_every_429_is_a_proper_429")
    assert "got on the first 429 (POST http://127.0.0.1:" in message
    assert "/v1/violet/prompt): no Retry-After header; on the 429 after the minute" in message
    assert "X-RateLimit-Remaining: 49" in message
    # Both wrong: not two limiters disagreeing, one that never says when to retry.
    assert message.endswith("(clients cannot know when to retry)")


def test_a_per_minute_window_is_named_as_one(run_checks: RunChecks) -> None:
    run = run_checks(*ALLOW, faults=["rate-limit-per-minute"])
    assert "s away: a per-minute window)" in run.message_of("test_violet_window_is_daily")
    assert "s away: a per-minute window)" in run.message_of("test_every_429_is_a_proper_429")


def test_a_reset_off_by_exactly_the_slack_passes(run_checks: RunChecks) -> None:
    run = run_checks(*ALLOW, faults=["reset-off=60"])
    assert run.passed_names() == sorted(READ_ONLY + DESTRUCTIVE)


def test_a_limit_account_exhausted_before_the_run_is_could_not_check(
    run_checks: RunChecks,
) -> None:
    run = run_checks(*ALLOW, faults=["limit-account-exhausted"])
    measured = sorted(set(DESTRUCTIVE) - {"test_another_account_is_unaffected"})
    assert run.failed_names() == measured  # could not check, never a pass
    assert run.passed_names() == sorted([*READ_ONLY, "test_another_account_is_unaffected"])
    message = run.message_of("test_exactly_the_remaining_quota_is_accepted")
    assert message.startswith("could not check: the limit account in sandbox limit account")
    assert "answered 429 to the first prompt" in message


def test_the_destructive_level_stays_within_limit_plus_3_requests(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "checks/test_rate_limit.py",
        "-m",
        "destructive",
        "--umbrella-sandbox",
        "--umbrella-allow-destructive",
    )
    result.assert_outcomes(passed=len(DESTRUCTIVE))
    counted = re.search(r"umbrella: (\d+) requests sent to the target", result.stdout.str())
    assert counted is not None
    assert int(counted.group(1)) - 1 <= 50 + 3  # less the start-of-run probe


def test_the_destructive_level_never_prompts_a_production_target(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = sandbox_server(environment="production")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    monkeypatch.setenv("UMBRELLA_LIMIT_TOKEN", sandbox.accounts["limit"].token)
    # The user says staging, but the target itself reports production: refused.
    run = run_checks(
        "-m",
        "weekly or postdeploy",
        "--umbrella-allow-destructive",
        "--umbrella-environment=staging",
        target=sandbox.url,
    )
    for name in DESTRUCTIVE:
        assert run.message_of(name).startswith(
            f"safety guard: refused: the target at {sandbox.url} reports environment production"
        )
    state = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()
    assert state["counts"].get("prompts", 0) == 0


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://api.umbrella.app", id="as-written"),
        pytest.param("https://Umbrella.app", id="capitals"),  # matched once normalised
    ],
)
def test_a_sensitive_url_is_refused_before_any_request(
    pytester: pytest.Pytester, suite_dir: Path, url: str
) -> None:
    result = pytester.runpytest_subprocess(
        f"--base-url={url}", "--umbrella-environment=staging", "--umbrella-allow-destructive"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "matches the sensitive-URL pattern" in result.stderr.str()


def test_error_codes_compare_without_case_unless_strict(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    drifted = run_checks(*ALLOW, faults=["error-codes-lowercase"])
    assert "test_the_prompt_past_the_limit_gets_429_envelope" in drifted.passed_names()
    strict = (suite_dir / "umbrella.toml").read_text() + "\n[errors]\nstrict_case = true\n"
    exact = run_checks(*ALLOW, faults=["error-codes-lowercase"], config=strict)
    name = "test_the_prompt_past_the_limit_gets_429_envelope"
    assert exact.failed_names() == [name]
    assert 'expected error code "RATE_LIMIT_EXCEEDED" (exactly: [errors] strict_case), got 429' in (
        exact.message_of(name)
    )


def test_a_service_spelling_of_a_code_is_recorded_in_errors(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    recorded = (suite_dir / "umbrella.toml").read_text() + (
        '\n[errors]\nstrict_case = true\ncodes = { RATE_LIMIT_EXCEEDED = "rate_limit_exceeded" }\n'
    )
    run = run_checks(*ALLOW, faults=["error-codes-lowercase"], config=recorded)
    assert "test_the_prompt_past_the_limit_gets_429_envelope" in run.passed_names()


def test_the_usage_answer_is_read_once_by_every_check_that_reads_it(
    run_checks: RunChecks,
) -> None:
    """docs/safety.md: the weekly tier's one Violet usage GET, shared by the checks reading it
    (the start-of-run probe is the other request)."""
    run = run_checks("checks/test_rate_limit.py", "-m", "not destructive")
    assert len(run.passed_names()) >= 2
    assert "umbrella: 2 requests sent to the target" in run.output
