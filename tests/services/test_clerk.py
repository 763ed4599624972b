"""Tokens minted per run through a local server speaking Clerk's Backend API, verified by the
sandbox against that server's key: minting, sharing, re-minting, revocation, and errors."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunChecks
from tests.fakes import FakeClerk
from umbrella_checks.config.suite import Http
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.secrets import Secret
from umbrella_checks.services.clerk import ClerkApi, ClerkError, TokenStore, frontend_api_of

USER = "clerk_user_1"  # the sandbox's artist account
ADMIN = "clerk_user_3"  # the sandbox's admin account
SIGNED_IN = "checks/test_smoke.py::test_protected_route_accepts_the_test_user"


@pytest.fixture
def clerk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClerk]:
    with FakeClerk([USER, ADMIN]).running() as server:
        monkeypatch.setenv("CLERK_SECRET_KEY", FakeClerk.TOKEN)
        monkeypatch.setenv("CLERK_API_URL", server.base)
        monkeypatch.setenv("UMBRELLA_USER_ID", USER)
        yield server


@pytest.fixture
def target(sandbox_server: Callable[..., Sandbox], clerk: FakeClerk) -> Sandbox:
    return sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")


def test_minted_tokens_pass_the_sandbox_and_are_revoked(
    run_checks: RunChecks,
    target: Sandbox,
    clerk: FakeClerk,
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
) -> None:
    monkeypatch.setenv("UMBRELLA_ADMIN_ID", ADMIN)
    run = run_checks(
        "checks/test_smoke.py",
        "checks/test_status_matrix.py",
        "--umbrella-environment=development",
        target=target.url,
    )
    assert "test_protected_route_accepts_the_test_user" in run.passed_names()
    assert "test_route_answers_its_status[GET /v1/admin/stats [admin] -> 200]" in run.passed_names()
    assert run.failed_names() == []
    assert (clerk.created, clerk.revoked) == (2, 2)
    report = (suite_dir / "reports" / "custom-latest.html").read_text()
    assert "minted per run via Clerk for UMBRELLA_USER_ID" in report
    assert "eyJ" not in report  # no JWT (they all start with a base64 '{"')
    assert FakeClerk.TOKEN not in report


def test_four_workers_share_one_session(
    pytester: pytest.Pytester, suite_dir: Path, target: Sandbox, clerk: FakeClerk
) -> None:
    result = pytester.runpytest_subprocess(
        SIGNED_IN,
        "--umbrella-environment=development",
        f"--base-url={target.url}",
        "-n",
        "4",
        "--dist=each",
    )
    result.assert_outcomes(passed=4)
    assert (clerk.created, clerk.revoked) == (1, 1)


def test_sessions_are_revoked_when_the_run_fails(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], clerk: FakeClerk
) -> None:
    broken = sandbox_server("auth-not-enforced", clerk_jwks_url=f"{clerk.base}/jwks")
    run = run_checks(
        "checks/test_smoke.py", "--umbrella-environment=development", target=broken.url
    )
    assert run.ret == 1
    assert (clerk.created, clerk.revoked) == (1, 1)


def test_a_token_near_expiry_is_reminted_from_the_same_session(clerk: FakeClerk) -> None:
    api = ClerkApi(Secret("CLERK_SECRET_KEY", FakeClerk.TOKEN), clerk.base, Http(), None)
    store = TokenStore.create(api, {"user": USER}, margin=20)
    now = [time.time()]
    store.clock = lambda: now[0]
    first = store.current("user")
    assert store.current("user") == first
    assert clerk.tokens == 1
    now[0] += 45  # 15 s left of 60: inside the 20 s margin
    clerk.lifetime = 3600  # the fake signs with real time; keep the new token clear of the margin
    second = store.current("user")
    assert second != first
    assert (clerk.created, clerk.tokens) == (1, 2)
    worker = TokenStore.open(store.path, api, margin=20)
    worker.clock = store.clock
    assert worker.current("user") == second  # read from the shared file, not minted again
    assert clerk.tokens == 2
    assert store.close() == []
    assert clerk.revoked == 1
    assert not store.path.exists()


@pytest.fixture
def live_clerk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClerk]:
    """A production instance: POST /sessions is refused; sign-in tokens work."""
    with FakeClerk([USER, ADMIN], secret=FakeClerk.LIVE).running() as server:
        monkeypatch.setenv("CLERK_SECRET_KEY", FakeClerk.LIVE)
        monkeypatch.setenv("CLERK_API_URL", server.base)
        monkeypatch.setenv("UMBRELLA_USER_ID", USER)
        yield server


def test_a_production_instance_signs_in_with_sign_in_tokens(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    live_clerk: FakeClerk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = live_clerk.frontend.removeprefix("http://")
    # Clerk's publishable key names its Frontend API; the fake serves plain http on loopback.
    monkeypatch.setenv("CLERK_FRONTEND_API_URL", live_clerk.frontend)
    assert frontend_api_of("pk_live_" + base64.b64encode(f"{host}$".encode()).decode()) == (
        f"https://{host}"
    )
    target = sandbox_server(clerk_jwks_url=f"{live_clerk.base}/jwks")
    run = run_checks(SIGNED_IN, "--umbrella-environment=development", target=target.url)
    assert run.passed_names() == ["test_protected_route_accepts_the_test_user"]
    assert (live_clerk.created, live_clerk.tokens, live_clerk.revoked) == (1, 1, 1)
    assert live_clerk.tickets == {}  # the one ticket was redeemed


def test_a_production_key_without_the_frontend_api_is_one_line(
    pytester: pytest.Pytester,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    live_clerk: FakeClerk,
) -> None:
    result = pytester.runpytest_subprocess(
        SIGNED_IN, f"--base-url={sandbox_server().url}", "--umbrella-environment=development"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1
    assert "set CLERK_PUBLISHABLE_KEY (or CLERK_FRONTEND_API_URL)" in lines[0]
    assert live_clerk.created == 0


def test_a_production_instance_with_the_native_api_off_names_the_setting() -> None:
    """Clerk serves native-mode Frontend API calls only with the instance's Native API on
    (Dashboard › Native applications); off, minting fails with that named, not a bare 400."""
    with FakeClerk([USER], secret=FakeClerk.LIVE, native_api=False).running() as server:
        secret = Secret("CLERK_SECRET_KEY", FakeClerk.LIVE)
        api = ClerkApi(secret, server.base, Http(), None, frontend_api=server.frontend)
        with pytest.raises(ClerkError) as refused:
            api.create_session("user", USER)
    message = str(refused.value)
    assert "Clerk refused native-mode sign-in (native_api_disabled)" in message
    assert "Clerk Dashboard › Native applications" in message
    assert FakeClerk.LIVE not in message


def test_clerk_refusing_sessions_names_the_fix() -> None:
    with FakeClerk([USER], refuse_sessions=True).running() as server:
        api = ClerkApi(Secret("CLERK_SECRET_KEY", FakeClerk.TOKEN), server.base, Http(), None)
        with pytest.raises(ClerkError) as refused:
            api.create_session("user", USER)
    message = str(refused.value)
    assert message.startswith("Clerk (user account): POST /sessions refused (HTTP 403")
    assert "give its sk_live_ key and CLERK_PUBLISHABLE_KEY" in message
    assert FakeClerk.TOKEN not in message


@pytest.mark.parametrize(
    ("mode", "user", "fragment"),
    [
        pytest.param("bad-token", USER, "Clerk refused CLERK_SECRET_KEY (HTTP 401", id="bad-key"),
        pytest.param(
            "ok", "user_nobody", "unknown Clerk user or session (HTTP 404", id="unknown-user"
        ),
        pytest.param(
            "rate-limited", USER, "rate limited by Clerk (HTTP 429, Retry-After: 7 s)", id="429"
        ),
        pytest.param("server-error", USER, "Clerk failed (HTTP 500)", id="5xx"),
        pytest.param("malformed", USER, "answer is not JSON", id="malformed"),
        pytest.param("hang", USER, "no answer within 1 s", id="timeout"),
    ],
)
def test_clerk_errors_are_one_line_naming_the_account(
    pytester: pytest.Pytester,
    suite_dir: Path,
    target: Sandbox,
    clerk: FakeClerk,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    user: str,
    fragment: str,
) -> None:
    clerk.mode = mode
    monkeypatch.setenv("UMBRELLA_USER_ID", user)
    (suite_dir / "umbrella.toml").write_text('[http]\nread_timeout = "1s"\n', "utf-8")
    result = pytester.runpytest_subprocess(
        SIGNED_IN, f"--base-url={target.url}", "--umbrella-environment=development"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("ERROR: cannot mint test tokens: Clerk (user account): ")
    assert fragment in lines[0]
    assert FakeClerk.TOKEN not in result.stdout.str() + result.stderr.str()


def test_an_expired_static_token_says_so_and_how_to_fix_it(
    run_checks: RunChecks, target: Sandbox, clerk: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UMBRELLA_USER_ID")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", clerk.sign(USER, "sess_old", time.time() - 3600))
    run = run_checks(SIGNED_IN, "--umbrella-environment=development", target=target.url)
    message = run.message_of("test_protected_route_accepts_the_test_user")
    assert message.startswith("UMBRELLA_USER_TOKEN expired at ")
    assert "JWT template" in message
    assert "CLERK_SECRET_KEY" in message
    assert "eyJ" not in message


def test_the_sandbox_verifies_signature_and_expiry(target: Sandbox, clerk: FakeClerk) -> None:
    def status(token: str) -> int:
        return httpx.get(
            f"{target.url}/v1/profile", timeout=5, headers={"Authorization": f"Bearer {token}"}
        ).status_code

    assert status(clerk.sign(USER, "s", time.time() + 60)) == 200
    assert status(clerk.sign(USER, "s", time.time() - 1)) == 401
    other = FakeClerk([USER])
    assert status(other.sign(USER, "s", time.time() + 60)) == 401  # another instance's key
    other.server.server_close()


def test_locust_users_share_one_minted_session(
    tmp_path: Path, target: Sandbox, clerk: FakeClerk
) -> None:
    from tests.commands.test_perf import FAST, perf

    (tmp_path / "umbrella.toml").write_text(FAST, "utf-8")
    env = {
        **os.environ,
        "API_URL": target.url,
        "ENVIRONMENT": "development",
        "UMBRELLA_CONFIG": str(tmp_path / "umbrella.toml"),
    }
    done = perf(tmp_path, "-u", "5", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    profile = next(line for line in done.stdout.splitlines() if line.startswith("/v1/profile"))
    requests, failures = (int(x) for x in profile.split()[1:3])
    assert requests > 0
    assert failures == 0
    assert (clerk.created, clerk.revoked) == (1, 1)
