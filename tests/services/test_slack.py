"""Posting to a Slack incoming webhook, one answer at a time (pytest-httpserver answering as
Slack does): each refusal is one line naming what Slack said, a short rate limit is waited out
once, and the webhook's secret URL never appears."""

from __future__ import annotations

import socket
import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from umbrella_checks.config.suite import Http
from umbrella_checks.config.units import Duration
from umbrella_checks.secrets import Secret
from umbrella_checks.services import slack

PATH = "/services/T000/B000/unit-webhook-secret-4242"


def _hook(httpserver: HTTPServer) -> Secret:
    return Secret("SLACK_WEBHOOK_URL", httpserver.url_for(PATH))


@pytest.mark.parametrize(
    ("status", "text", "headers", "said"),
    [
        pytest.param(400, "invalid_payload", {}, "HTTP 400 invalid_payload", id="invalid-payload"),
        pytest.param(404, "no_service", {}, "HTTP 404 no_service", id="gone"),
        pytest.param(403, "invalid_token", {}, "HTTP 403 invalid_token", id="forbidden"),
        pytest.param(
            502,
            "<html>502  Bad\nGateway</html>",
            {},
            "HTTP 502 <html>502 Bad Gateway</html>",
            id="5xx",
        ),
        pytest.param(
            429,
            "rate_limited",
            {"Retry-After": "30"},
            "rate limited (HTTP 429, Retry-After: 30)",
            id="long-rate-limit",
        ),
        pytest.param(
            429, "rate_limited", {}, "rate limited (HTTP 429, Retry-After: ?)", id="no-retry-after"
        ),
    ],
)
def test_a_refusal_is_one_line_naming_what_slack_said(
    httpserver: HTTPServer, status: int, text: str, headers: dict[str, str], said: str
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        text, status=status, headers=headers
    )
    problem = slack.post(_hook(httpserver), "SEV-1: health", Http())
    assert problem == f"could not alert Slack: {said}"
    assert len(httpserver.log) == 1


def test_a_post_slack_takes_is_no_problem(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        PATH, method="POST", json={"text": "SEV-1: health"}
    ).respond_with_data("ok")
    assert slack.post(_hook(httpserver), "SEV-1: health", Http()) is None


def test_a_short_rate_limit_is_waited_out_once(httpserver: HTTPServer) -> None:
    answers = iter([("rate_limited", 429, {"Retry-After": "1"}), ("ok", 200, {})])

    def answer(_: Request) -> Response:
        text, status, headers = next(answers)
        return Response(text, status, headers)

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)
    assert slack.post(_hook(httpserver), "SEV-2: cron", Http()) is None
    assert len(httpserver.log) == 2


def test_still_rate_limited_after_the_retry_says_so(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "1"}
    )
    problem = slack.post(_hook(httpserver), "SEV-2: cron", Http())
    assert problem == "could not alert Slack: still rate limited (HTTP 429, Retry-After: 1)"
    assert len(httpserver.log) == 2


def test_an_unreachable_slack_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = Secret("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{port}{PATH}")
    assert slack.post(hook, "SEV-1", Http()) == "could not alert Slack: cannot reach it"


def test_a_slack_that_never_answers_is_one_line(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def hang(_: Request) -> Response:
        release.wait(timeout=5)
        return Response("ok")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(hang)
    try:
        problem = slack.post(_hook(httpserver), "SEV-1", Http(read_timeout=Duration(0.2)))
    finally:
        release.set()
    assert problem == "could not alert Slack: no answer in time"


def test_a_long_refusal_is_cut_to_80_characters(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data("x" * 100, status=500)
    problem = slack.post(_hook(httpserver), "SEV-1", Http())
    assert problem == "could not alert Slack: HTTP 500 " + "x" * 80


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("https://hooks.slack.com/services/x", None, id="https-with-host"),
        pytest.param("ftp://hooks.slack.com/services/x", "is not an http(s) URL", id="ftp"),
        pytest.param("https:///services/x", "is not an http(s) URL", id="no-host"),
    ],
)
def test_a_webhook_is_an_http_url_with_a_host(url: str, problem: str | None) -> None:
    found = slack.webhook_problem(url)
    assert found == problem if problem is None else problem in str(found)
