"""Slack incoming webhooks: ``POST <url>`` with ``{"text": ...}``; the URL itself is the secret."""

from __future__ import annotations

import time

import httpx

from umbrella_checks.config.suite import Http
from umbrella_checks.secrets import Secret, scrub
from umbrella_checks.transport import NoAnswer, request_once


def webhook_problem(url: str) -> str | None:
    """Why ``url`` is no webhook to post to (never quoting it: the URL is the secret)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "is not a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "is not an http(s) URL with a host"
    return None


# A 429 asking for longer than this is reported instead of waited for: alerts must not hang.
MAX_RETRY_WAIT = 5.0


def post(webhook: Secret, text: str, http: Http) -> str | None:
    """Send ``text``; None when Slack took it, else one line saying why not (no URL in it)."""
    problem = webhook_problem(webhook.reveal())
    if problem:
        return f"could not alert Slack: {webhook.source} {problem}; set it to the webhook's URL"
    for first in (True, False):  # one retry, after a 429 that says when
        try:
            response = request_once(
                http, "POST", webhook.reveal(), what="Slack", json={"text": text}
            )
        except NoAnswer as exc:
            kind = "no answer in time" if exc.timed_out else "cannot reach it"
            return f"could not alert Slack: {kind}"
        if response.status_code == 200:
            return None
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "")
            if first and wait.isdigit() and int(wait) <= MAX_RETRY_WAIT:
                time.sleep(int(wait))
                continue
            again = "" if first else " still"
            return (
                f"could not alert Slack:{again} rate limited (HTTP 429, Retry-After: {wait or '?'})"
            )
        body = " ".join(response.text.split())[:80]
        return scrub(f"could not alert Slack: HTTP {response.status_code} {body}")
    raise AssertionError("unreachable: the second attempt always returns")
