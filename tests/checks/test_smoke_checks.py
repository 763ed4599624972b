"""The post-deploy gate: smoke checks and the status matrix, proven against their faults."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks, assert_on_call_message
from umbrella_checks.sandbox import Sandbox

MATRIX = "test_route_answers_its_status[{}]"
WEBHOOK = "POST /v1/auth/webhook [anonymous] -> 400 (no svix headers: refused before any work)"
EXHAUSTED = "POST /v1/violet/prompt [limit-exhausted] -> 429"
ANONYMOUS_PROMPT = (
    "POST /v1/violet/prompt [anonymous] -> 401 (no prompt: refused before any AI call)"
)
BUDGET = "test_critical_path_meets_its_latency_budget[{}]"


def matrix(*ids: str) -> list[str]:
    return [MATRIX.format(i) for i in ids]


ANONYMOUS_401 = matrix(
    "GET /v1/profile [anonymous] -> 401",
    "GET /v1/profile [invalid-token] -> 401",
    "GET /v1/artists?limit={list_limit} [anonymous] -> 401",
    "GET /v1/gigs?limit={list_limit} [anonymous] -> 401",
    "GET /v1/auth/session [anonymous] -> 401",
    "GET /v1/admin/stats [anonymous] -> 401",
)

# The rows that send a POST (or use quota): destructive, so off unless
# --umbrella-allow-destructive — never sent to production, however the service refuses them.
DESTRUCTIVE_ROWS = matrix(
    WEBHOOK,
    ANONYMOUS_PROMPT,
    "POST /v1/violet/prompt [user] -> 400 (malformed JSON)",
    "POST /v1/violet/prompt [user] -> 400 (missing field prompt)",
    EXHAUSTED,
)

ERROR_ROWS = [
    *matrix(
        "GET /v1/artists/{missing_artist_id} [anonymous] -> 404",
        "GET /v1/profile/{missing_artist_id} [anonymous] -> 404",
        "GET /v1/artists?limit=lots [user] -> 400",
        "GET /v1/violet/usage [anonymous] -> 401",
        "GET /v1/admin/stats [user] -> 403",
        "GET /v1/this-route-does-not-exist [anonymous] -> 404",
    ),
    *ANONYMOUS_401,
]


def test_the_whole_gate_passes_on_the_healthy_sandbox(run_checks: RunChecks) -> None:
    run = run_checks("-m", "postdeploy")
    assert run.failed_names() == []
    assert run.skipped_names() == sorted(DESTRUCTIVE_ROWS)
    assert len(run.passed_names()) >= 40
    assert run.ret == 0


def test_with_destructive_checks_allowed_every_row_passes_on_the_sandbox(
    run_checks: RunChecks,
) -> None:
    run = run_checks("-m", "postdeploy", "--umbrella-allow-destructive")
    assert run.failed_names() == []
    assert run.skipped_names() == []


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param(
            "unknown-route-html",
            [
                "test_unknown_route_answers_404_envelope",
                *matrix("GET /v1/this-route-does-not-exist [anonymous] -> 404"),
            ],
            "expected status 404, got 200: text/html",
            id="unknown-route-html",
        ),
        pytest.param(
            "cors-missing",
            ["test_cors_preflight_allows_each_configured_origin"],
            "expected Access-Control-Allow-Origin: https://umbrella.app, got no "
            "Access-Control-Allow-Origin header",
            id="cors-missing",
        ),
        pytest.param(
            # One defect, one failure: the route's other checks cannot judge (root cause).
            "route-5xx=/v1/gigs",
            [BUDGET.format("gigs")],
            "expected status 200, got 500",
            id="5xx-on-a-route",
        ),
        pytest.param(
            "stack-trace",
            ["test_unknown_route_answers_404_envelope", *ERROR_ROWS],
            "expected a body without stack traces, file paths or SQL",
            id="stack-trace",
        ),
        pytest.param(
            "auth-not-enforced",
            ["test_protected_route_refuses_anonymous", *ANONYMOUS_401],
            "expected status 401, got 200",
            id="auth-not-enforced",
        ),
        pytest.param(
            "envelope-missing=/v1/gigs",
            # One difference, one failure: the matrix row then cannot judge (a skip).
            [BUDGET.format("gigs")],
            "expected a JSON envelope with success and meta.timestamp, got 200",
            id="envelope-missing",
        ),
        pytest.param(
            "cors-any-origin",
            ["test_cors_does_not_grant_credentials_to_other_origins"],
            "expected no credentials for origin https://evil.example, got "
            "Access-Control-Allow-Origin: https://evil.example with credentials",
            id="cors-reflects-any-origin",
        ),
        pytest.param(
            "auth-broken",
            [
                "test_protected_route_accepts_the_test_user",
                *[BUDGET.format(x) for x in ("artists", "gigs", "auth-session", "profile")],
                *matrix(
                    "GET /v1/profile [user] -> 200",
                    "GET /v1/artists?limit={list_limit} [user] -> 200",
                    "GET /v1/artists?limit=lots [user] -> 400",
                    "GET /v1/gigs?limit={list_limit} [user] -> 200",
                    "GET /v1/auth/session [user] -> 200",
                    "GET /v1/violet/usage [user] -> 200",
                    "GET /v1/admin/stats [user] -> 403",
                    "GET /v1/admin/stats [admin] -> 200",
                ),
            ],
            "expected status 200, got 401",
            id="valid-tokens-refused",
        ),
        pytest.param(
            "admin-not-enforced",
            matrix("GET /v1/admin/stats [user] -> 403"),
            "expected status 403, got 200",
            id="admin-not-enforced",
        ),
        pytest.param(
            "cors-no-credentials",
            ["test_cors_preflight_allows_each_configured_origin"],
            "expected Access-Control-Allow-Credentials: true, got None",
            id="cors-without-credentials",
        ),
        pytest.param(
            "error-code=/v1/umbrella-checks-unknown-route:ROUTE_NOT_FOUND",
            ["test_unknown_route_answers_404_envelope"],
            'expected error code "not_found", got 404',
            id="unknown-route-wrong-code",
        ),
        pytest.param(
            "error-code=/v1/profile:UNAUTHORIZED",
            [
                "test_protected_route_refuses_anonymous",
                *matrix(
                    "GET /v1/profile [anonymous] -> 401",
                    "GET /v1/profile [invalid-token] -> 401",
                    "GET /v1/profile/{missing_artist_id} [anonymous] -> 404",
                ),
            ],
            'expected error code "authentication_failed", got 401',
            id="anonymous-401-wrong-code",
        ),
        pytest.param(
            "success-on-error",
            [
                "test_protected_route_refuses_anonymous",
                "test_unknown_route_answers_404_envelope",
                *ERROR_ROWS,
            ],
            '"success": true',
            id="success-true-on-errors",
        ),
        pytest.param(
            "preflight-max-age=5",
            ["test_cors_preflight_is_cached_long_enough"],
            "expected Access-Control-Max-Age of at least 600 s ([cors] min_max_age), got '5'",
            id="preflight-cached-5s",
        ),
        pytest.param(
            "preflight-no-max-age",
            ["test_cors_preflight_is_cached_long_enough"],
            "expected Access-Control-Max-Age of at least 600 s ([cors] min_max_age), got no "
            "Access-Control-Max-Age header",
            id="preflight-not-cached",
        ),
        pytest.param(
            "slow-but-first=/v1/artists:400",
            [BUDGET.format("artists")],
            "expected median server time ≤ 300 ms over 3 requests (timed by Server-Timing "
            "total), got 4",
            id="slow-on-most-samples",
        ),
        pytest.param(
            "slow=/v1/artists:400",
            [BUDGET.format("artists")],
            "expected median server time ≤ 300 ms over 3 requests (timed by Server-Timing "
            "total), got 4",
            id="slow-route",
        ),
    ],
)
def test_gate_catches_its_fault(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks("-m", "postdeploy", "--deselect=checks/test_health.py", faults=[fault])
    assert run.failed_names() == sorted(failing)
    for name in failing:
        assert_on_call_message(run.message_of(name))
    assert any(fragment in run.message_of(name) for name in failing)


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param(
            "webhook-missing", matrix(WEBHOOK), "expected status 400, got 404", id="webhook-missing"
        ),
        pytest.param(
            # Without auth, the promptless probe meets validation instead: 400, not 401.
            "auth-not-enforced",
            matrix(ANONYMOUS_PROMPT),
            "expected status 401, got 400",
            id="prompt-auth-not-enforced",
        ),
    ],
)
def test_destructive_rows_catch_their_fault_where_they_may_run(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks(
        "checks/test_status_matrix.py",
        "-k",
        "webhook or prompt",
        "--umbrella-allow-destructive",
        faults=[fault],
    )
    assert run.failed_names() == sorted(failing)
    assert any(fragment in run.message_of(name) for name in failing)


def test_a_bare_route_is_one_failure_never_a_teardown_error(
    run_checks: RunChecks,
) -> None:
    run = run_checks("-m", "postdeploy", faults=["envelope-missing=/v1/gigs"])
    assert run.errored == []
    assert run.failed_names() == [BUDGET.format("gigs")]
    assert "record it in [envelope] bare_routes" in run.message_of(BUDGET.format("gigs"))
    row = MATRIX.format("GET /v1/gigs?limit={list_limit} [user] -> 200")
    assert run.message_of(row) == (
        "cannot judge: GET /v1/gigs answers without the envelope (failed once, in "
        f"{BUDGET.format('gigs')})"
    )


def test_latency_failure_lists_every_sample(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_smoke.py", faults=["slow=/v1/gigs:450"])
    message = run.message_of(BUDGET.format("gigs"))
    assert "samples: " in message
    assert message.count(", ") >= 2
    assert "High Latency" in message


def test_missing_tokens_skip_with_the_variable_name(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    run = run_checks("-m", "postdeploy", "--umbrella-environment=development", target=sandbox.url)
    skipped = run.skipped_names()
    assert "test_protected_route_accepts_the_test_user" in skipped
    assert MATRIX.format("GET /v1/admin/stats [admin] -> 200") in skipped
    assert "UMBRELLA_USER_TOKEN" in run.message_of("test_protected_route_accepts_the_test_user")
    assert run.failed_names() == []


def test_strict_skips_fails_a_run_without_secrets(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    run = run_checks(
        "-m",
        "postdeploy",
        "--umbrella-strict-skips",
        "--umbrella-environment=development",
        target=sandbox.url,
    )
    assert run.ret == 1
    # The safety guard's refusal is policy, not a missing input: it stays a skip.
    for name in DESTRUCTIVE_ROWS:
        assert run.outcomes[name] == "skipped"
        assert run.message_of(name).startswith("safety guard: destructive checks are off")
    message = run.message_of("test_protected_route_accepts_the_test_user")
    assert message.startswith("--umbrella-strict-skips: this check did not judge")
    assert "UMBRELLA_USER_TOKEN" in message
    assert "UMBRELLA_ADMIN_TOKEN" in run.message_of(
        MATRIX.format("GET /v1/admin/stats [admin] -> 200")
    )


def test_the_user_token_comes_from_the_old_scripts_variable_too(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = sandbox_server()
    monkeypatch.setenv("SMOKE_TEST_TOKEN", sandbox.accounts["user"].token)
    run = run_checks(
        "checks/test_smoke.py", "--umbrella-environment=development", target=sandbox.url
    )
    assert "test_protected_route_accepts_the_test_user" in run.passed_names()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(
            'method = "GET"\npath = "/v1/x"\nwho = "anonymous"\nstatus = 200\nstauts = 200\n',
            "row 1 (GET /v1/x): stauts: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            'method = "GET"\npath = "/v1/x"\nwho = "robot"\nstatus = 200\n',
            "row 1 (GET /v1/x): who:",
            id="unknown-who",
        ),
        pytest.param(
            'method = "GET"\npath = "v1/x"\nwho = "user"\nstatus = 200\n',
            "row 1 (GET v1/x): path:",
            id="relative-path",
        ),
        pytest.param(
            'method = "GET"\npath = "/v1/x"\nwho = "user"\n',
            "row 1 (GET /v1/x): status: required",
            id="missing-status",
        ),
    ],
)
def test_a_malformed_matrix_row_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path, row: str, expected: str
) -> None:
    (suite_dir / "checks" / "status_matrix.toml").write_text(f"[[row]]\n{row}", "utf-8")
    result = pytester.runpytest_subprocess("--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        line for line in result.stderr.lines if expected in line
    ]


def test_an_echoed_bearer_token_is_masked_everywhere(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
) -> None:
    """A server that echoes the Authorization header into its 401: the message keeps the
    echo, but as ``***``, and neither it nor the HTML report holds the token."""
    sandbox = sandbox_server("auth-broken", "echo-token")
    token = sandbox.accounts["user"].token
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", token)
    run = run_checks(
        "checks/test_smoke.py",
        "--umbrella-environment=development",
        "--umbrella-reports-dir=out",
        target=sandbox.url,
    )
    message = run.message_of("test_protected_route_accepts_the_test_user")
    assert "(got Bearer ***)" in message
    reports = [path.read_text(encoding="utf-8") for path in (suite_dir / "out").glob("*.html")]
    assert reports
    assert all("***" in report for report in reports)
    for text in [*run.messages.values(), *reports]:
        assert token not in text


def test_the_preflight_cache_threshold_is_the_configured_one(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """[cors] min_max_age decides: two days is more than the sandbox's one day."""
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + '\n[env.development.cors]\nmin_max_age = "2d"\n')
    run = run_checks("checks/test_smoke.py", "-k", "cached_long_enough")
    assert run.failed_names() == ["test_cors_preflight_is_cached_long_enough"]
    assert "at least 172800 s" in run.message_of("test_cors_preflight_is_cached_long_enough")


def test_a_matrix_row_without_an_error_code_still_needs_success_false(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """A row that names no error code (production's codes may differ) is still an error at
    400: its envelope must say ``"success": false``."""
    (suite_dir / "checks" / "status_matrix.toml").write_text(
        '[[row]]\nmethod = "GET"\npath = "/v1/artists?limit=lots"\nwho = "user"\nstatus = 400\n',
        "utf-8",
    )
    run = run_checks("checks/test_status_matrix.py", faults=["success-on-error"])
    (name,) = run.failed_names()
    assert '"success": false on an error status' in run.message_of(name)


def test_a_matrix_file_that_is_not_utf8_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "status_matrix.toml").write_bytes(b'[[row]]\nmethod = "\xff"\n')
    result = pytester.runpytest_subprocess("--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1
    assert "status_matrix.toml cannot be read (" in lines[0]


# ----------------------------------------------------------------------
# Post-deploy checks at their edges: a preflight cached exactly as long as required, one
# preflight per run for the cache check, and a route answering 500 named as a crash.
CACHED = "test_cors_preflight_is_cached_long_enough"


def test_a_preflight_cached_exactly_the_minimum_passes(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_smoke.py", "-k", CACHED, faults=["preflight-max-age=600"])
    assert run.passed_names() == [CACHED]


def _sent(run_checks: RunChecks, suite_dir: Path, origins: list[str]) -> int:
    config = suite_dir / "umbrella.toml"
    listed = ", ".join(f'"{origin}"' for origin in origins)
    config.write_text(
        config.read_text() + f"\n[env.development.cors]\nallowed_origins = [{listed}]\n"
    )
    run = run_checks("checks/test_smoke.py", "-k", CACHED)
    assert run.passed_names() == [CACHED]
    found = re.search(r"umbrella: (\d+) requests sent to the target", run.output)
    assert found is not None
    return int(found.group(1))


def test_the_cache_check_sends_one_preflight_however_many_origins(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    original = (suite_dir / "umbrella.toml").read_text()
    one = _sent(run_checks, suite_dir, ["https://umbrella.app"])
    (suite_dir / "umbrella.toml").write_text(original)
    two = _sent(run_checks, suite_dir, ["https://umbrella.app", "https://www.umbrella.app"])
    assert two == one


def test_a_route_answering_500_is_named_a_crash(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_status_matrix.py", faults=["database-down"])
    assert any("expected 200 (never a 5xx), got 500" in m for m in run.messages.values())


@pytest.mark.parametrize("variant", ["preflight-200", "credentials-on-every-preflight"])
def test_harmless_cors_variants_pass(run_checks: RunChecks, variant: str) -> None:
    """A preflight answered 200, or credentials allowed on a preflight that grants no origin,
    is how many CORS middlewares answer: nothing to page anyone about."""
    run = run_checks("checks/test_smoke.py", "-k", "cors", faults=[variant])
    assert run.failed_names() == []
    assert len(run.passed_names()) == 3
