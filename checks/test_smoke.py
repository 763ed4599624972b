"""Runbook › Emergency Commands › `npm run verify:deployment` and `npm run test:smoke`.

What CI runs right after a deploy to decide on rollback: is the Worker routing, guarding,
talking to browsers and answering fast enough on the critical paths?
"""

from collections.abc import Mapping
from typing import Any

import pytest

from umbrella_checks.api import (
    Answer,
    ApiClient,
    Figures,
    Latency,
    Limits,
    Planner,
    Secret,
    Settings,
    cannot_judge,
    judge_latency,
    judged,
    saw,
    sends,
    settings_of,
)

pytestmark = [pytest.mark.postdeploy, pytest.mark.severity("SEV-1")]


def _preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }


def _preflights_allowed(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    for origin in settings.config.cors.allowed_origins:
        planner.add(
            "OPTIONS", settings.config.cors.preflight_path, headers=_preflight_headers(origin)
        )


def _preflight_disallowed(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    origin = settings.config.cors.disallowed_origin
    planner.add("OPTIONS", settings.config.cors.preflight_path, headers=_preflight_headers(origin))


def _unknown_route(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.routes.unknown)


def _profile_anonymous(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.routes.profile)


def _profile_signed_in(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.routes.profile, who="user")


def _latency_samples(planner: Planner, settings: Settings, params: Mapping[str, Any]) -> None:
    routes = settings.config.routes
    route = routes.critical[params["critical"]]
    who = "user" if route.signed_in else "anonymous"
    planner.add("GET", routes.fill(route.path), who=who, times=settings.latency_samples, timed=True)


def _preflight(api: ApiClient, settings: Settings, origin: str) -> Answer:
    return api.request(
        "OPTIONS", settings.config.cors.preflight_path, headers=_preflight_headers(origin)
    )


@sends(_preflights_allowed)
def test_cors_preflight_allows_each_configured_origin(api: ApiClient, settings: Settings) -> None:
    """Without these headers every browser call from the web app fails, though curl works."""
    judged(len(settings.config.cors.allowed_origins), "origins in [cors] allowed_origins")
    for origin in settings.config.cors.allowed_origins:
        answer = _preflight(api, settings, origin)
        answer.expect_status(200, 204)
        granted = answer.headers.get("Access-Control-Allow-Origin")
        if granted != origin:
            answer.fail(
                f"Access-Control-Allow-Origin: {origin}",
                repr(granted) if granted else "no Access-Control-Allow-Origin header",
                "the Worker's CORS allow-list lost this origin; check its allowed origins for "
                f"{settings.environment}, or record the real list in [env.{settings.environment}"
                ".cors] allowed_origins",
            )
        credentials = answer.headers.get("Access-Control-Allow-Credentials")
        if credentials != "true":
            answer.fail("Access-Control-Allow-Credentials: true", repr(credentials))


@sends(_preflight_disallowed)
def test_cors_does_not_grant_credentials_to_other_origins(
    api: ApiClient, settings: Settings
) -> None:
    """Reflecting any origin with credentials lets any site act as a signed-in user."""
    origin = settings.config.cors.disallowed_origin
    answer = _preflight(api, settings, origin)
    granted = answer.headers.get("Access-Control-Allow-Origin")
    credentials = answer.headers.get("Access-Control-Allow-Credentials")
    if granted in (origin, "*") and credentials == "true":
        answer.fail(
            f"no credentials for origin {origin}",
            f"Access-Control-Allow-Origin: {granted} with credentials",
            "the Worker reflects any Origin; restrict it to the allow-list",
        )
    saw(
        f"preflight from {origin}",
        f"Access-Control-Allow-Origin: {granted}, Allow-Credentials: {credentials}",
        "expected no credentials for an origin outside the allow-list",
    )


def _preflight_of_the_web_app(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    for origin in settings.config.cors.allowed_origins[:1]:
        planner.add(
            "OPTIONS", settings.config.cors.preflight_path, headers=_preflight_headers(origin)
        )


@pytest.mark.severity("SEV-3")
@sends(_preflight_of_the_web_app)
def test_cors_preflight_is_cached_long_enough(api: ApiClient, settings: Settings) -> None:
    """A preflight browsers may not reuse costs the web app a round trip before most API calls
    (without Access-Control-Max-Age they reuse it for 5 s)."""
    cors = settings.config.cors
    judged(len(cors.allowed_origins), "origins in [cors] allowed_origins")
    answer = _preflight(api, settings, cors.allowed_origins[0])
    raw = answer.headers.get("Access-Control-Max-Age")
    if raw is None or not raw.strip().isdigit() or int(raw) < cors.min_max_age:
        answer.fail(
            f"Access-Control-Max-Age of at least {cors.min_max_age:g} s ([cors] min_max_age)",
            "no Access-Control-Max-Age header" if raw is None else repr(raw),
            "set maxAge in the Worker's CORS middleware (Chrome caps it at 7200 s)",
        )


@pytest.mark.severity("SEV-3")
@sends(_unknown_route)
def test_unknown_route_answers_404_envelope(api: ApiClient, settings: Settings) -> None:
    """A SPA fallback answering 200 HTML hides broken API routes from every client."""
    answer = api.get(settings.config.routes.unknown)
    answer.expect_status(404, hint="unknown API routes must not fall through to the web app")
    answer.expect_envelope()
    answer.expect_error_code("not_found")
    answer.expect_no_internals()


@sends(_profile_anonymous)
def test_protected_route_refuses_anonymous(api: ApiClient, settings: Settings) -> None:
    """Auth middleware missing after a deploy exposes every user's data."""
    answer = api.get(settings.config.routes.profile)
    answer.expect_status(
        401, hint="auth is not enforced: roll back now (Incident Response › SEV-1)"
    )
    answer.expect_error_code("authentication_failed")


@sends(_profile_signed_in)
def test_protected_route_accepts_the_test_user(
    api: ApiClient, settings: Settings, user_token: Secret
) -> None:
    """Users can sign in: Clerk keys and the auth middleware work together."""
    answer = api.get(settings.config.routes.profile, token=user_token)
    answer.expect_status(
        200,
        hint=f"check CLERK_SECRET_KEY / CLERK_PUBLISHABLE_KEY for [env.{settings.environment}] "
        "(Common Issues › Issue 4), or refresh the token in "
        f"{user_token.source}",
    )
    answer.expect_envelope()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "critical" in metafunc.fixturenames:
        names = list(settings_of(metafunc.config).config.routes.critical)
        metafunc.parametrize("critical", names, ids=names)


@pytest.mark.severity("SEV-2")
@sends(_latency_samples)
def test_critical_path_meets_its_latency_budget(
    request: pytest.FixtureRequest,
    api: ApiClient,
    settings: Settings,
    figures: Figures,
    critical: str,
) -> None:
    """Runbook › Key Metrics: P95 < 500 ms overall, tighter per endpoint (monitoring guide).

    Judged on the median of a few requests so one slow packet does not fail a deploy, by the
    service's own time (its Server-Timing total, else time to first byte less a round trip: a
    CI runner far from the edge must not fail a healthy deploy), and by a wall-clock ceiling
    that holds however the service times itself. A Server-Timing or a ceiling over its limit
    is final; a miss timed by bytes may be the target's queue behind the tier's own requests,
    so the same requests are sent again one at a time and every sample taken is judged.
    """
    routes, budgets = settings.config.routes, settings.config.budgets
    route = routes.critical[critical]
    path = routes.fill(route.path)
    endpoint, _, _ = path.partition("?")
    budget = budgets.for_endpoint(endpoint)
    if budget is None:
        cannot_judge(f"no budget for {endpoint} in [budgets.endpoints]")
    token = request.getfixturevalue("user_token") if route.signed_in else None
    limits = Limits.of(budget, budgets.ceiling)
    samples = settings.latency_samples
    burst = Latency.of([api.get(path, token=token) for _ in range(samples)])
    figures.record(f"median GET {endpoint} (ms)", burst.ms)
    figures.record(f"median GET {endpoint} wall (ms)", burst.wall_ms)
    alone = None
    if burst.misses(limits) and not burst.final(limits):
        alone = Latency.of(api.resend("GET", path, token=token, times=samples))
        if alone.answers:
            figures.record(f"median GET {endpoint} one at a time (ms)", alone.ms)
    figures.samples(f"GET {path}", (burst + alone if alone else burst).milliseconds)
    miss = judge_latency(burst, alone, limits)
    if miss:
        burst.answers[-1].fail(
            miss.expected,
            miss.got,
            "see Common Issues › Issue 2 (High Latency): D1 queries, KV cache, N+1 queries",
        )
