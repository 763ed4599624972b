"""Calls to services we cannot run here (Cloudflare GraphQL, Sentry), with one error policy.

An outage, a refused token or a malformed answer becomes ``could not check: <reason>``: the
check fails with that line — never a pass, never a traceback, never the token.
"""

from __future__ import annotations

from typing import Any

import httpx

from umbrella_checks.client import USER_AGENT, RequestCounter, fail
from umbrella_checks.config import Http
from umbrella_checks.secrets import Secret, scrub


def call(
    method: str,
    url: str,
    *,
    what: str,
    token: Secret,
    http: Http,
    counter: RequestCounter,
    json: Any = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One request; any answer that is not 2xx fails the check naming the cause."""
    timeout = httpx.Timeout(http.read_timeout, connect=http.connect_timeout)
    counter.add()
    try:
        response = httpx.request(
            method,
            url,
            json=json,
            params=params,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token.reveal()}", "User-Agent": USER_AGENT},
        )
    except httpx.TimeoutException:
        fail(f"could not check: {what} did not answer within {http.read_timeout:g} s")
    except httpx.HTTPError as exc:
        fail(f"could not check: cannot reach {what} ({type(exc).__name__})")
    reason = refusal(response, what, token)
    if reason:
        fail(reason)
    return response


def refusal(response: httpx.Response, what: str, token: Secret) -> str | None:
    """The one-line ``could not check`` for a non-2xx answer, or None for a 2xx."""
    status = response.status_code
    if status in (401, 403):
        return (
            f"could not check: {what} refused the token in {token.source} (HTTP {status}); "
            "check it is valid and has read access"
        )
    if status == 429:
        wait = response.headers.get("Retry-After", "unknown")
        return (
            f"could not check: {what} is rate limiting (HTTP 429, Retry-After: {wait} s); "
            "run again later"
        )
    if status >= 500:
        return f"could not check: {what} failed (HTTP {status})"
    if status >= 400:
        return scrub(f"could not check: {what} answered HTTP {status}: {response.text[:200]}")
    return None


def json_body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        fail(f"could not check: {what} answered HTTP {response.status_code} with malformed JSON")
