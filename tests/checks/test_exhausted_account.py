"""The status matrix's "limit-exhausted" caller: a given exhausted token is used as it is; else
the limit account's quota is used up first (destructive, non-production only), an account
already over it is used as it is, and a Violet that never refuses fails in one line."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import RunChecks
from umbrella_checks.sandbox import Sandbox

ROW = "test_route_answers_its_status[POST /v1/violet/prompt [limit-exhausted] -> 429]"


def _prompts(sandbox: Sandbox) -> int:
    counts = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["counts"]
    return int(counts.get("prompts", 0))


def _row_on(
    sandbox: Sandbox, run_checks: RunChecks, monkeypatch: pytest.MonkeyPatch, exhausted: bool
) -> str:
    """The row's outcome on ``sandbox`` as a staging target, destructive work allowed."""
    monkeypatch.setenv("UMBRELLA_LIMIT_TOKEN", sandbox.accounts["limit"].token)
    if exhausted:
        monkeypatch.setenv("UMBRELLA_EXHAUSTED_TOKEN", sandbox.accounts["exhausted"].token)
    run = run_checks(
        "checks/test_status_matrix.py",
        "-k",
        "limit-exhausted",
        "--umbrella-environment=staging",
        "--umbrella-allow-destructive",
        target=sandbox.url,
    )
    assert list(run.outcomes) == [ROW]
    return run.outcomes[ROW] if run.outcomes[ROW] != "failed" else run.message_of(ROW)


def test_a_given_exhausted_token_costs_no_quota(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server(environment="staging")
    assert _row_on(sandbox, run_checks, monkeypatch, exhausted=True) == "passed"
    assert _prompts(sandbox) == 1  # the row's own prompt


def test_without_one_the_limit_account_is_used_up_first(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server(environment="staging")
    assert _row_on(sandbox, run_checks, monkeypatch, exhausted=False) == "passed"
    assert _prompts(sandbox) == 52  # 50 accepted, the 429 that proves it, the row's own


def test_a_limit_account_already_over_its_quota_is_used_as_it_is(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server("limit-account-exhausted", environment="staging")
    assert _row_on(sandbox, run_checks, monkeypatch, exhausted=False) == "passed"
    assert _prompts(sandbox) == 2


def test_a_violet_that_never_refuses_fails_naming_it(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_server("rate-limit-off", environment="staging")
    message = _row_on(sandbox, run_checks, monkeypatch, exhausted=False)
    assert "expected 429 once the limit account's quota was used up, got none" in message
