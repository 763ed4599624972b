"""The forged-token review's "expired" kind with only Clerk minting configured: the run mints
the user account's token, waits for it to expire and proves the target refuses it. Clerk is a
local server speaking its Backend API; the sandbox verifies against that server's key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import RunChecks
from tests.fakes import minting_clerk
from umbrella_checks.sandbox import Sandbox

EXPIRED = "test_signed_in_routes_refuse_a_forged_token[expired]"


def test_a_minted_token_is_used_once_expired(
    run_checks: RunChecks,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_server: Callable[..., Sandbox],
) -> None:
    with minting_clerk(monkeypatch, lifetime=2) as clerk:  # tokens expire in 2 s
        target = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
        run = run_checks(
            "checks/test_security.py",
            "-k",
            "forged and expired",
            "--umbrella-environment=development",
            target=target.url,
        )
    assert run.passed_names() == [EXPIRED]
    assert clerk.created == 1


def test_without_a_token_or_minting_the_expired_kind_names_both_ways(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    run = run_checks(
        "checks/test_security.py",
        "-k",
        "forged and expired",
        "--umbrella-environment=development",
        target=sandbox_server().url,
    )
    message = run.message_of(EXPIRED)
    assert "set UMBRELLA_EXPIRED_TOKEN" in message
    assert "CLERK_SECRET_KEY and UMBRELLA_USER_ID to mint one" in message
