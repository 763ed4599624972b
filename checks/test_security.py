"""Runbook › Weekly Review › Security Review: authentication failures, suspicious access,
routes that do work for anyone.

Every signed-in route must refuse a token Clerk did not sign, and every trigger or maintenance
route must refuse anonymous callers — in every environment, preview included (preview
deployments are public). Read-only: plain GETs, no parameters that could force work.
"""

import html
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from umbrella_checks.api import (
    Answer,
    ApiClient,
    Figures,
    GraphQL,
    Planner,
    ReportNotes,
    Secret,
    Settings,
    cannot_judge,
    credential,
    fail,
    forgery,
    judged,
    jwt_expiry,
    maintenance_probe,
    matrix_rows,
    missing_input,
    not_applicable,
    saw,
    sends,
)

pytestmark = [pytest.mark.weekly, pytest.mark.severity("SEV-1")]


@pytest.fixture(scope="module")
def signed_in_routes(pytestconfig: pytest.Config, settings: Settings) -> list[str]:
    """The routes the status matrix says refuse anonymous callers with 401."""
    routes = settings.config.routes
    return [
        routes.fill(row.path)
        for row in matrix_rows(pytestconfig)
        if row.method == "GET" and row.who == "anonymous" and row.statuses == (401,)
    ]


def _maintenance_probes(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.routes.unknown)  # what "no such route" looks like here
    for entry in settings.config.security.maintenance_routes:
        planner.add(*maintenance_probe(entry))


def _fallback_page(unknown: Answer) -> str | None:
    """The content type of the page the target answers a path it has no route for, when that
    is a 2xx page and not JSON (a Worker serving its web app's shell): the same page from a
    maintenance route means "no such API route", never an open trigger."""
    if not 200 <= unknown.status < 300:
        return None
    try:
        unknown.parsed()
    except ValueError:  # UnicodeDecodeError too
        return unknown.headers.get("content-type", "").split(";")[0] or "no content-type"
    return None


def _is_the_fallback(answer: Answer, fallback: str | None) -> bool:
    return fallback is not None and _fallback_page(answer) == fallback


# What an anonymous caller's answer says about a maintenance route, by status class.
def _what_it_did(path: str, status: int) -> str:
    if 200 <= status < 300:
        return f"did the work for anyone ({status})"
    if status == 405:
        return (
            f"answered 405 before checking the caller: the route exists and serves another "
            f'method; probe it with that one ("POST {path}" in [security] maintenance_routes)'
        )
    if 300 <= status < 400:
        return f"redirected an anonymous caller ({status}) instead of refusing with 401/403"
    if status >= 500:
        return f"crashed for an anonymous caller ({status})"
    return (
        f"read the request before checking the caller ({status}): with the parameters it "
        "asked for, it would do the work for anyone"
    )


def _documented_routes(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    for documented in settings.config.security.rate_limits.values():
        who = "user" if documented.per == "user" else "anonymous"
        for path in documented.routes:
            planner.add("GET", path, who=who)


def _token_of_kind(kind: str, config: pytest.Config, settings: Settings) -> Secret:
    """The token to try: built here (unsigned, tampered), or a real one (expired: waited for,
    at most forgery.MAX_WAIT s; other issuer: must still be live). No real token: cannot judge."""
    static = settings.tokens.get("user")
    if kind not in forgery.REAL:
        return Secret(
            f"forged {kind} token", forgery.forge(kind, static.reveal() if static else None)
        )
    if kind == "expired":
        # A token kept past its expiry, else the user's own (static or minted), once expired.
        token = settings.tokens.get("expired") or static
        if token is None and settings.clerk is not None and "user" in settings.clerk.mint:
            token = credential(config, "user")
        if token is None:
            cannot_judge(
                "no real token of the target's own Clerk instance to use once expired: set "
                "UMBRELLA_EXPIRED_TOKEN (a session token kept past its 60 s), or CLERK_SECRET_KEY "
                "and UMBRELLA_USER_ID to mint one"
            )
        wait, why_not = forgery.expiry_wait(jwt_expiry(token.reveal()), time.time())
        if why_not:
            cannot_judge(f"{token.source}: {why_not}")
        time.sleep(wait)
        return token
    token = settings.tokens.get("other-issuer")
    if token is None:
        cannot_judge(
            "no token of another Clerk instance: set UMBRELLA_OTHER_ISSUER_TOKEN (e.g. one "
            "minted from the development instance, when checking production)"
        )
    exp = jwt_expiry(token.reveal())
    if exp is not None and exp < time.time():
        cannot_judge(
            f"{token.source} has expired, so a 401 would prove nothing about its issuer: "
            "mint it just before the run"
        )
    return token


@pytest.mark.on_demand("forged tokens are made when the check runs")
@pytest.mark.parametrize("kind", list(forgery.KINDS))
def test_signed_in_routes_refuse_a_forged_token(
    kind: str,
    pytestconfig: pytest.Config,
    api: ApiClient,
    settings: Settings,
    signed_in_routes: list[str],
) -> None:
    """A Worker that reads a token's claims without verifying Clerk's signature, expiry and
    issuer lets anyone act as any user."""
    judged(len(signed_in_routes), "signed-in GET routes (anonymous -> 401) in the status matrix")
    token = _token_of_kind(kind, pytestconfig, settings)
    accepted = []
    for path in signed_in_routes:
        answer = api.get(path, token=token)
        if answer.status != 401:
            accepted.append(f"{answer.what} answered {answer.status}")
            continue
        body = answer.expect_envelope()
        if body["success"] is not False:
            accepted.append(f"{answer.what} answered 401 with success true")
    if accepted:
        fail(
            f"expected 401 for {forgery.KINDS[kind]} on every signed-in route, got: "
            + "; ".join(accepted)
            + " (the Worker does not verify Clerk's session tokens: check the auth middleware "
            "verifies signature, exp and iss against the instance's JWKS)"
        )


@sends(_maintenance_probes)
def test_maintenance_routes_refuse_anonymous_callers(api: ApiClient, settings: Settings) -> None:
    """The runbook's manual analytics trigger, cron and admin routes: 401 or 403 for anyone
    without credentials (404, or the page an unknown path gets: no such route). Anything else
    means the route did work, or read the request, before checking the caller: a 400 "force
    must be true" runs the job for anyone who adds force=true."""
    entries = settings.config.security.maintenance_routes
    if not entries:
        not_applicable("[security] maintenance_routes is empty: list the routes to probe")
    fallback = _fallback_page(api.get(settings.config.routes.unknown))
    open_routes, refused = [], []
    for method, path in (maintenance_probe(entry) for entry in entries):
        answer = api.request(method, path)
        if answer.status not in (401, 403, 404) and not _is_the_fallback(answer, fallback):
            open_routes.append(f"{method} {answer.url} {_what_it_did(path, answer.status)}")
        refused.append(f"{method} {path} {answer.status}")
    if open_routes:
        fail(
            "expected 401 or 403 (404: no such route) from every maintenance route for an "
            "anonymous caller, got: " + "; ".join(open_routes) + " (check the caller first — "
            "the admin role — or remove the route: scheduled work belongs to the cron trigger)"
        )
    saw(
        f"{len(refused)} maintenance routes, anonymous",
        ", ".join(refused),
        "expected 401 or 403 (404: no such route)",
    )


@pytest.mark.severity("SEV-3")
@sends(_documented_routes)
def test_documented_rate_limits_are_visible_on_their_routes(
    request: pytest.FixtureRequest, api: ApiClient, settings: Settings
) -> None:
    """A limit the service documents but no answer shows is a limit clients cannot respect —
    or one that is not there. ``[security.rate_limits.<name>]`` lists them."""
    limits = settings.config.security.rate_limits
    if not limits:
        not_applicable(
            "no [security.rate_limits] documented beyond Violet's (judged by its checks); "
            "record each public or per-user limit the service documents there"
        )
    header = settings.config.violet.headers.limit  # how this service spells it ([violet.headers])
    invisible = []
    for name, documented in limits.items():
        token = request.getfixturevalue("user_token") if documented.per == "user" else None
        answers = [api.get(path, token=token) for path in documented.routes]
        if not any(a.headers.get(header) for a in answers):
            asked = ", ".join(f"{a.what} ({a.status})" for a in answers)
            invisible.append(
                f"{name} ({documented.limit} per {documented.window:g} s per {documented.per}) "
                f"is shown on no route: {asked} answered without {header}"
            )
    if invisible:
        fail(
            "expected every documented rate limit's X-RateLimit-* headers on the routes it "
            "protects, got: " + "; ".join(invisible) + " (attach the limiter to those routes, "
            "or correct [security.rate_limits])"
        )


@pytest.fixture(scope="module")
def zone(settings: Settings) -> str:
    cloudflare = settings.cloudflare
    if cloudflare is None or not cloudflare.zone_id:
        missing_input(
            "no zone for HTTP analytics: set CLOUDFLARE_ZONE_ID (with CLOUDFLARE_API_TOKEN and "
            "CLOUDFLARE_ACCOUNT_ID; a token with Zone Analytics read)"
        )
    return cloudflare.zone_id


@pytest.mark.severity("SEV-2")
def test_authentication_failures_did_not_surge(
    graphql: GraphQL,
    zone: str,
    settings: Settings,
    figures: Figures,
    report_notes: ReportNotes,
) -> None:
    """401/403 answers this week against last week's: a surge is credential stuffing, token
    scraping or a broken client release; where they come from tells which."""
    end = datetime.now().astimezone().replace(microsecond=0)
    this = graphql.auth_failures(zone, end - timedelta(days=7), end)
    before = graphql.auth_failures(zone, end - timedelta(days=14), end - timedelta(days=7))
    figures.record("401/403 at the edge (7 d)", this.refused)
    figures.record("401/403 share of requests (%)", round(this.rate * 100, 3))
    top_countries = sorted(this.by_country.items(), key=lambda kv: -kv[1])[:5]
    top_paths = sorted(this.by_path.items(), key=lambda kv: -kv[1])[:5]
    listed = "; ".join(
        [
            "countries: " + ", ".join(f"{c} {n}" for c, n in top_countries),
            "paths: " + ", ".join(f"{p} {n}" for p, n in top_paths),
        ]
    )
    report_notes.add(f"<p>401/403 this week by {html.escape(listed)}</p>")
    rules = settings.config.security
    grew = before.rate > 0 and this.rate > rules.auth_failures_growth * before.rate
    if this.refused >= rules.auth_failures_min and (grew or before.refused == 0):
        fail(
            f"Cloudflare HTTP analytics for zone {zone}: expected 401/403 at most "
            f"{rules.auth_failures_growth:g}× last week's share ({before.rate:.2%}, "
            f"{before.refused} answers), got {this.rate:.2%} ({this.refused} answers) — top "
            f"{listed} (look for credential stuffing from those countries, or a client "
            "release sending stale tokens)"
        )
    saw(
        "401/403 share of requests this week",
        f"{this.rate:.2%} ({this.refused} answers; last week {before.rate:.2%})",
        f"expected at most {rules.auth_failures_growth:g}× last week's, or under "
        f"{rules.auth_failures_min} answers",
    )
