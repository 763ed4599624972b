"""The weekly security review: forged tokens and open maintenance routes, proven both ways."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import CheckRun, RunChecks
from tests.fakes import FakeGraphQL
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.target import forgery

SECURITY = "checks/test_security.py"
FORGED = "test_signed_in_routes_refuse_a_forged_token[{}]"
SWEEP = "test_maintenance_routes_refuse_anonymous_callers"
ALL = sorted([*(FORGED.format(kind) for kind in forgery.KINDS), SWEEP])


@pytest.mark.parametrize("environment", ["development", "preview", "production"])
def test_the_security_review_passes_on_the_healthy_sandbox(
    run_checks: RunChecks, environment: str
) -> None:
    run = run_checks(SECURITY, f"--umbrella-environment={environment}")
    # And the edge's 401/403s, read from the sandbox's own Cloudflare.
    assert run.passed_names() == sorted([*ALL, "test_authentication_failures_did_not_surge"])


@pytest.mark.parametrize(
    ("fault", "failing", "fragment"),
    [
        pytest.param(
            "auth-skips-verification",
            [FORGED.format(kind) for kind in forgery.KINDS],
            # Every route that accepted it is listed, not just the first.
            "answered 200; GET http://127.0.0.1:",
            id="claims-read-without-verifying",
        ),
        pytest.param(
            "auth-accepts-unsigned",
            [FORGED.format("unsigned")],
            "expected 401 for an unsigned token (alg: none) on every signed-in route",
            id="alg-none-accepted",
        ),
        pytest.param(
            "auth-ignores-expiry",
            [FORGED.format("expired")],
            "expected 401 for a real token of the instance, used after it expired",
            id="expiry-unchecked",
        ),
        pytest.param(
            "auth-trusts-any-issuer",
            [FORGED.format("other-issuer")],
            "expected 401 for a real token of another Clerk instance",
            id="issuer-unchecked",
        ),
        pytest.param(
            "open-trigger-route",
            [SWEEP],
            "/v1/analytics/trigger did the work for anyone (200)",
            id="open-trigger-route",
        ),
        pytest.param(
            "trigger-validates-first",
            [SWEEP],
            "/v1/cron/analytics read the request before checking the caller (400)",
            id="validates-parameters-before-the-caller",
        ),
        pytest.param(
            "trigger-post-only-open",
            [SWEEP],
            "/v1/admin/analytics/run answered 405 before checking the caller: the route exists "
            'and serves another method; probe it with that one ("POST /v1/admin/analytics/run"',
            id="post-only-route-probed-with-get",
        ),
        pytest.param(
            "route-5xx=/v1/debug",
            [SWEEP],
            "/v1/debug crashed for an anonymous caller (500)",
            id="maintenance-route-crashes",
        ),
    ],
)
def test_the_security_review_catches_its_fault(
    run_checks: RunChecks, fault: str, failing: list[str], fragment: str
) -> None:
    run = run_checks(SECURITY, faults=[fault])
    assert run.failed_names() == sorted(failing)
    for name in failing:
        assert fragment in run.message_of(name)
        assert "eyJ" not in run.message_of(name)  # a forged token is still never printed


def test_a_web_app_shell_on_every_unknown_path_is_no_open_trigger(run_checks: RunChecks) -> None:
    """A Worker serving its web app's HTML shell for every path it has no route for: a
    maintenance route answering that page has no route there, it did no work."""
    run = run_checks(SECURITY, "-k", SWEEP, faults=["unknown-route-html"])
    assert run.passed_names() == [SWEEP]


def test_an_open_trigger_beside_a_web_app_shell_is_still_caught(run_checks: RunChecks) -> None:
    run = run_checks(SECURITY, "-k", SWEEP, faults=["unknown-route-html", "open-trigger-route"])
    assert run.failed_names() == [SWEEP]
    message = run.message_of(SWEEP)
    assert "/v1/analytics/trigger did the work for anyone (200)" in message
    assert "/v1/cron " not in message  # the shell: no such route


def test_the_sweep_never_starts_the_dev_servers_own_cron(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    """On `wrangler dev`, GET /__scheduled runs the cron for anyone: the built-in list never
    reaches the platform's own routes, so a read-only weekly run writes nothing to D1."""
    target = sandbox_server("dev-server")
    rows = _cron_rows(target)
    run = run_checks(SECURITY, "-k", SWEEP, "--umbrella-environment=development", target=target.url)
    assert run.passed_names() == [SWEEP]
    assert _cron_rows(target) == rows
    events = httpx.get(f"{target.url}/__sandbox/state", timeout=5).json()["events"]
    assert not [event for event in events if "/__scheduled" in event or "/cdn-cgi/" in event]


def _cron_rows(target: Sandbox) -> int:
    with sqlite3.connect(f"file:{target.d1_sqlite}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM cron_logs").fetchone()[0])


@pytest.mark.parametrize("route", ["/__scheduled", "GET /cdn-cgi/handler/scheduled"])
def test_a_platform_route_in_the_sweep_is_refused_at_start(
    pytester: pytest.Pytester, suite_dir: Path, route: str
) -> None:
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + f'\n[security]\nmaintenance_routes = ["{route}"]\n')
    result = pytester.runpytest_subprocess(SECURITY, "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is the platform's own route, not the Worker's*"])


def test_a_maintenance_route_is_probed_with_the_method_it_serves(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    config = suite_dir / "umbrella.toml"
    config.write_text(
        config.read_text()
        + '\n[security]\nmaintenance_routes = ["/v1/cron", "POST /v1/admin/analytics/run"]\n'
    )
    run = run_checks(SECURITY, "-k", SWEEP, faults=["trigger-post-only-open"])
    assert run.failed_names() == [SWEEP]
    message = run.message_of(SWEEP)
    assert "POST http://127.0.0.1:" in message
    assert "/v1/admin/analytics/run did the work for anyone (200)" in message
    assert "/v1/cron " not in message  # 404: no such route, nothing to open


def test_a_maintenance_route_entry_that_is_no_path_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + '\n[security]\nmaintenance_routes = ["RUN /x"]\n')
    result = pytester.runpytest_subprocess(SECURITY, "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in result.stderr.lines if line.strip()]
    assert "security.maintenance_routes: 'RUN /x' is not a path or 'METHOD /path'" in line


def test_a_forged_token_copies_the_static_tokens_claims() -> None:
    static = forgery.forge("tampered-signature")  # any JWT stands in for a real session token
    header, claims = forgery.template(static, 0)
    tampered = forgery.forge("tampered-signature", static)
    assert tampered.split(".")[:2] == static.split(".")[:2]
    assert tampered.split(".")[2] != static.split(".")[2]
    assert claims["iss"] == "https://clerk.umbrella.app"
    assert header["alg"] == "RS256"


@pytest.mark.parametrize("kind", forgery.REAL)
def test_without_a_real_token_expired_and_other_issuer_cannot_judge(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], kind: str
) -> None:
    """On a target whose own tokens the run was not given, those kinds say so, never pass."""
    sandbox = sandbox_server()
    run = run_checks(
        SECURITY, "-k", "forged", "--umbrella-environment=development", target=sandbox.url
    )
    name = FORGED.format(kind)
    assert run.skipped_names() == sorted(FORGED.format(k) for k in forgery.REAL)
    assert run.message_of(name).startswith("cannot judge: no ")


def test_no_signed_in_route_in_the_matrix_is_cannot_judge(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    """The forged-token review takes its routes from the matrix: none to try is no verdict."""
    matrix = suite_dir / "checks" / "status_matrix.toml"
    matrix.write_text(
        '[[row]]\nmethod = "GET"\npath = "/v1/health"\nwho = "anonymous"\nstatus = 200\n'
    )
    run = run_checks(SECURITY, "-k", "forged", faults=["auth-skips-verification"])
    assert run.failed_names() == []
    assert run.passed_names() == []
    for kind in forgery.KINDS:
        assert run.message_of(FORGED.format(kind)).startswith(
            "cannot judge: no signed-in GET routes"
        )


DOCUMENTED = "test_documented_rate_limits_are_visible_on_their_routes"


@pytest.mark.parametrize(
    ("routes", "passes"),
    [
        pytest.param('["/v1/violet/usage"]', True, id="shown"),
        pytest.param('["/v1/gigs?limit=5", "/v1/profile"]', False, id="shown-nowhere"),
    ],
)
def test_a_documented_limit_must_show_on_its_routes(
    run_checks: RunChecks, suite_dir: Path, routes: str, passes: bool
) -> None:
    config = (suite_dir / "umbrella.toml").read_text() + (
        f'\n[security.rate_limits.per-user]\nlimit = 50\nwindow = "1d"\nroutes = {routes}\n'
    )
    run = run_checks(SECURITY, "-k", "documented", config=config)
    # The routes were declared with the check, so their answers came with the tier's requests.
    assert "sent on demand, not declared" not in run.output
    if passes:
        assert run.passed_names() == [DOCUMENTED]
        return
    assert run.failed_names() == [DOCUMENTED]
    message = run.message_of(DOCUMENTED)
    assert (
        "per-user (50 per 86400 s per user) is shown on no route: GET http://127.0.0.1:" in message
    )


def test_no_documented_limit_beyond_violet_is_not_applicable(run_checks: RunChecks) -> None:
    run = run_checks(SECURITY, "-k", "documented", "--umbrella-strict-skips")
    assert run.skipped_names() == [DOCUMENTED]  # never a pass; off by configuration
    assert run.message_of(DOCUMENTED).startswith("not applicable: no [security.rate_limits]")


SURGE = "test_authentication_failures_did_not_surge"


@pytest.fixture
def zone_analytics(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraphQL]:
    with FakeGraphQL().running() as api:
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", FakeGraphQL.TOKEN)
        monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acc123")
        monkeypatch.setenv("CLOUDFLARE_ZONE_ID", "zone123")
        monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", api.base)
        yield api


def test_a_steady_week_of_auth_failures_passes_and_is_listed(
    run_checks: RunChecks, zone_analytics: FakeGraphQL, suite_dir: Path
) -> None:
    run = run_checks(SECURITY, "-k", "surge")
    assert run.passed_names() == [SURGE]
    html = (suite_dir / "reports" / "custom-latest.html").read_text()
    assert "countries: PT 150, DE 20" in html
    # (150 + 20) of 100 000 requests, as the weekly trend will compare it.
    assert re.search(r"401/403 share of requests \(%\)\W+0\.17\b", html), html
    assert re.search(r"401/403 at the edge \(7 d\)\W+170\b", html), html


def test_a_surge_of_auth_failures_fails_naming_where_from(
    run_checks: RunChecks, zone_analytics: FakeGraphQL
) -> None:
    zone_analytics.auth_current = (100_000, [(401, "XX", "/v1/auth/session", 5_000)])
    run = run_checks(SECURITY, "-k", "surge")
    assert run.failed_names() == [SURGE]
    message = run.message_of(SURGE)
    assert (
        "expected 401/403 at most 3× last week's share (0.16%, 140 answers), got 5.00%" in message
    )
    assert "countries: XX 5000; paths: /v1/auth/session 5000" in message


@pytest.mark.parametrize(
    ("before", "now", "verdict"),
    [
        pytest.param(100, 300, "passed", id="exactly-3x-is-not-a-surge"),
        pytest.param(100, 301, "failed", id="just-over-3x-is-a-surge"),
        pytest.param(0, 100, "failed", id="none-last-week-and-100-now"),
        pytest.param(0, 99, "passed", id="none-last-week-and-under-the-floor"),
    ],
)
def test_the_surge_rule_at_its_edges(
    run_checks: RunChecks, zone_analytics: FakeGraphQL, before: int, now: int, verdict: str
) -> None:
    previous = [(401, "PT", "/v1/profile", before)] if before else []
    zone_analytics.auth_previous = (100_000, previous)
    zone_analytics.auth_current = (100_000, [(401, "PT", "/v1/profile", now)])
    run = run_checks(SECURITY, "-k", "surge")
    assert run.outcomes == {SURGE: verdict}


def test_the_surge_lists_the_top_five_in_order(
    run_checks: RunChecks, zone_analytics: FakeGraphQL
) -> None:
    zone_analytics.auth_current = (
        100_000,
        [
            (401, c, f"/v1/{c.lower()}", n)
            for c, n in zip("ABCDEF", (10, 900, 800, 700, 600, 500), strict=True)
        ],
    )
    message = run_checks(SECURITY, "-k", "surge").message_of(SURGE)
    assert (
        "countries: B 900, C 800, D 700, E 600, F 500; "
        "paths: /v1/b 900, /v1/c 800, /v1/d 700, /v1/e 600, /v1/f 500 (look" in message
    )


def test_auth_failures_need_the_zone(
    run_checks: RunChecks, zone_analytics: FakeGraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFLARE_ZONE_ID")
    run = run_checks(SECURITY, "-k", "surge")
    assert "set CLOUDFLARE_ZONE_ID" in run.message_of(SURGE)


def _sweep_of_one_route(
    run_checks: RunChecks, httpserver: HTTPServer, suite_dir: Path, status: int
) -> CheckRun:
    """The maintenance sweep against a local target whose one maintenance route answers
    ``status`` (and whose health answer is the contract's)."""
    httpserver.expect_request("/v1/health").respond_with_json(
        {"success": True, "data": {"status": "healthy"}, "meta": {"timestamp": "x"}}
    )
    httpserver.expect_request("/v1/run-jobs").respond_with_data("", status=status)
    config = (suite_dir / "umbrella.toml").read_text() + (
        '\n[security]\nmaintenance_routes = ["/v1/run-jobs"]\n'
    )
    return run_checks(
        SECURITY,
        "-k",
        SWEEP,
        "--umbrella-environment=development",
        target=httpserver.url_for("/").rstrip("/"),
        config=config,
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        pytest.param(299, "did the work for anyone (299)", id="2xx"),
        pytest.param(300, "redirected an anonymous caller (300)", id="300"),
        pytest.param(399, "redirected an anonymous caller (399)", id="399"),
        pytest.param(400, "read the request before checking the caller (400)", id="400"),
    ],
)
def test_a_maintenance_answer_is_named_by_its_status_class(
    run_checks: RunChecks, httpserver: HTTPServer, suite_dir: Path, status: int, said: str
) -> None:
    run = _sweep_of_one_route(run_checks, httpserver, suite_dir, status)
    assert run.failed_names() == [SWEEP]
    assert f"/v1/run-jobs {said}" in run.message_of(SWEEP)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_maintenance_route_refusing_or_absent_passes(
    run_checks: RunChecks, httpserver: HTTPServer, suite_dir: Path, status: int
) -> None:
    run = _sweep_of_one_route(run_checks, httpserver, suite_dir, status)
    assert run.passed_names() == [SWEEP]


def _jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.mark.parametrize(
    ("claims", "judged"),
    [
        pytest.param({"exp": 1_000_000_000}, False, id="expired-proves-nothing"),
        pytest.param({"iss": "https://other.example"}, True, id="no-expiry-is-tried"),
    ],
)
def test_a_token_of_another_issuer_is_tried_only_while_live(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    claims: dict[str, object],
    judged: bool,
) -> None:
    sandbox = sandbox_server()
    monkeypatch.setenv("UMBRELLA_OTHER_ISSUER_TOKEN", _jwt(claims))
    run = run_checks(
        SECURITY,
        "-k",
        "other-issuer",
        "--umbrella-environment=development",
        target=sandbox.url,
    )
    name = FORGED.format("other-issuer")
    if judged:
        assert run.passed_names() == [name]  # the sandbox refuses a token it did not sign
    else:
        assert run.skipped_names() == [name]
        assert "has expired, so a 401 would prove nothing about its issuer" in run.message_of(name)
