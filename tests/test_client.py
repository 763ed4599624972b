"""The target's client on its own, against a local HTTP server: what it counts as sent, what
it cancels, and how it describes an answer that is not the contract's shape."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from umbrella_checks.config.suite import Http, SuiteConfig
from umbrella_checks.errors import CheckFailed
from umbrella_checks.target.answer import snippet
from umbrella_checks.target.client import ApiClient
from umbrella_checks.target.exchange import Planned
from umbrella_checks.transport import RequestCounter


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        pytest.param("a  b\n c", 160, "a b c", id="whitespace-flattened"),
        pytest.param("abcdef", 6, "abcdef", id="exactly-the-limit-is-whole"),
        pytest.param("abcdefg", 6, "abcde…", id="longer-is-cut-to-the-limit"),
    ],
)
def test_a_snippet_is_at_most_its_limit(text: str, limit: int, shown: str) -> None:
    assert snippet(text, limit) == shown


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[ApiClient]:
    api = ApiClient.for_target(httpserver.url_for("/"), SuiteConfig(), RequestCounter())
    yield api
    api.close()


def test_the_counter_given_is_the_one_counting(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/health").respond_with_json(
        {"success": True, "meta": {"timestamp": "x"}}
    )
    counter = RequestCounter()
    api = ApiClient.for_target(httpserver.url_for("/"), SuiteConfig(), counter)
    try:
        api.get("/v1/health")
    finally:
        api.close()
    assert counter.total == 1


def test_a_prefetched_answer_no_check_read_is_counted_at_close(httpserver: HTTPServer) -> None:
    """It was sent all the same: the tier's request count includes it."""
    httpserver.expect_request("/v1/health").respond_with_json(
        {"success": True, "meta": {"timestamp": "x"}}
    )
    counter = RequestCounter()
    api = ApiClient.for_target(httpserver.url_for("/"), SuiteConfig(), counter)
    api.prefetch([(Planned.of("GET", "/v1/health"), {"checks/test_x.py::test_y"})])
    api.quiet(timeout=5)
    api.close()
    assert counter.total == 1
    assert len(httpserver.log) == 1


def test_a_prefetched_request_not_yet_sent_is_cancelled_at_close(httpserver: HTTPServer) -> None:
    """One at a time (concurrency 1): /a has been answered, /b is in flight, /c waits in the
    pool. Closing counts the two sent and cancels /c — never sent, never counted."""
    started, release = threading.Event(), threading.Event()

    def held(_: Request) -> Response:
        started.set()
        release.wait(timeout=10)
        return Response('{"success": true, "meta": {"timestamp": "x"}}', 200)

    httpserver.expect_request("/a").respond_with_json({"success": True})
    httpserver.expect_request("/b").respond_with_handler(held)
    httpserver.expect_request("/c").respond_with_json({"success": True})
    counter = RequestCounter()
    config = SuiteConfig(http=Http(concurrency=1))
    api = ApiClient.for_target(httpserver.url_for("/"), config, counter)
    api.prefetch([(Planned.of("GET", path), {path}) for path in ("/a", "/b", "/c")])
    assert started.wait(timeout=10)
    closing = threading.Thread(target=api.close)
    closing.start()
    release.set()
    closing.join(timeout=20)
    assert [entry[0].path for entry in httpserver.log] == ["/a", "/b"]
    assert counter.total == 2


def _bare(httpserver: HTTPServer, body: object) -> ApiClient:
    httpserver.expect_request("/v1/health").respond_with_json(body)
    return ApiClient.for_target(httpserver.url_for("/"), SuiteConfig(), RequestCounter())


def test_a_missing_field_of_an_answer_without_envelope_says_so(httpserver: HTTPServer) -> None:
    api = _bare(httpserver, {"status": "ok", "env": "production"})
    try:
        answer = api.get("/v1/health")
        with pytest.raises(CheckFailed) as failed:
            answer.field("data.environment", required="the runbook needs the environment")
    finally:
        api.close()
    message = str(failed.value)
    assert 'expected field "data", got an answer with no envelope, top-level keys: env, status' in (
        message
    )
    assert "(the runbook needs the environment; the contract's envelope is missing" in message


def test_a_missing_field_of_an_enveloped_answer_lists_what_data_has(
    httpserver: HTTPServer,
) -> None:
    api = _bare(
        httpserver,
        {"success": True, "data": {"status": "healthy"}, "meta": {"timestamp": "x"}},
    )
    try:
        answer = api.get("/v1/health")
        with pytest.raises(CheckFailed) as failed:
            answer.field("data.version")
    finally:
        api.close()
    assert 'expected field "data.version", got an answer whose data has: status' in str(
        failed.value
    )
