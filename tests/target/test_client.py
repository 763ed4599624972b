"""The target's client on its own, against a local HTTP server: what it counts as sent, what
it cancels, and how it describes an answer that is not the contract's shape."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from umbrella_checks.config.suite import Envelope, Errors, Http, SuiteConfig
from umbrella_checks.config.units import Duration
from umbrella_checks.errors import CheckFailed, RootCause, Unreachable
from umbrella_checks.target.answer import Answer, envelope_problem, snippet
from umbrella_checks.target.client import ApiClient
from umbrella_checks.target.exchange import Exchange, Planned
from umbrella_checks.target.timing import BY_BYTES
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
    closing = threading.Thread(target=api.close, daemon=True)
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


# ----------------------------------------------------------------------
# The target's client at its edges: how it times an answer (httpcore's marks, the connect
# round trip), what a hang and a refused connection become, waiting for its own requests in
# flight, and the envelope rule on bodies that are not quite the contract's.
CONNECT = ("connection.connect_tcp.started", "connection.connect_tcp.complete")


@pytest.mark.parametrize(
    ("marks", "rtt"),
    [
        pytest.param({CONNECT[0]: 1.0, CONNECT[1]: 1.25}, 0.25, id="connected-rtt-is-connect"),
        pytest.param({CONNECT[0]: 1.0}, None, id="connect-unfinished-no-rtt"),
        pytest.param({CONNECT[1]: 1.25}, None, id="connection-reused-no-rtt"),
        pytest.param({}, None, id="no-marks-no-rtt"),
    ],
)
def test_the_round_trip_is_the_tcp_connect_time(marks: dict[str, float], rtt: float) -> None:
    exchange = Exchange(httpx.Response(200), started=0.0, finished=2.0, marks=marks)
    assert exchange.rtt == rtt


@pytest.mark.parametrize("protocol", [pytest.param(p, id=p) for p in ("http11", "http2")])
def test_time_to_first_byte_less_the_round_trip_is_the_service_time(protocol: str) -> None:
    # Sent at 0.1 s, headers back at 0.4 s, connecting took 0.1 s: 0.2 s were the service's.
    # The body's last byte (0.9 s) is no part of it.
    marks = {
        CONNECT[0]: 0.0,
        CONNECT[1]: 0.1,
        f"{protocol}.send_request_headers.started": 0.1,
        f"{protocol}.receive_response_headers.complete": 0.4,
    }
    exchange = Exchange(httpx.Response(200), started=0.0, finished=0.9, marks=marks)
    answer = exchange.answer("GET", "http://x/", None, Errors(), True, ("total",))
    assert answer.timed_by == BY_BYTES
    assert answer.server_time == pytest.approx(0.2)
    assert answer.elapsed == pytest.approx(0.9)


@pytest.fixture
def headers_then_body() -> Iterator[str]:
    """A server that sends an answer's headers at once and its body 0.4 s later."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                body = b'{"success": true, "meta": {"timestamp": "x"}}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                )
                time.sleep(0.4)
                conn.sendall(body)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_an_answer_is_timed_to_its_first_byte_not_its_last(headers_then_body: str) -> None:
    # httpcore's trace marks are what the client reads: a slow body is the network's (or the
    # size's), never the service's time.
    api = ApiClient.for_target(headers_then_body, SuiteConfig(), RequestCounter())
    try:
        answer = api.get("/v1/health")
    finally:
        api.close()
    assert answer.elapsed >= 0.4
    assert answer.server_time < 0.3, answer.server_time


def _client(url: str, read_timeout: float = 10.0) -> ApiClient:
    config = SuiteConfig(http=Http(read_timeout=Duration(read_timeout), concurrency=1))
    return ApiClient.for_target(url, config, RequestCounter())


@pytest.fixture
def silent() -> Iterator[str]:
    """Accepts connections, never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_hang_marks_the_target_unresponsive(silent: str) -> None:
    api = _client(silent, read_timeout=0.3)
    try:
        with pytest.raises(RootCause) as raised:
            api.get("/v1/health")
    finally:
        api.close()
    assert type(raised.value) is RootCause  # not Unreachable: it connected
    assert "did not answer GET" in str(raised.value)
    assert api.unresponsive is not None


def test_a_refused_connection_is_unreachable_not_unresponsive() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    api = _client(url)  # the port is closed now: connections are refused
    try:
        with pytest.raises(Unreachable) as raised:
            api.get("/v1/health")
    finally:
        api.close()
    assert "is the URL right" in str(raised.value)
    assert api.unresponsive is None


def test_quiet_waits_for_the_requests_still_in_flight(httpserver: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/v1/gigs").respond_with_handler(slow)
    api = _client(httpserver.url_for("/"))
    try:
        api.prefetch([(Planned.of("GET", "/v1/gigs"), {"checks/test_x.py::test_y"})])
        api.quiet(timeout=10)
        assert len(httpserver.log) == 1  # answered before quiet returned
    finally:
        api.close()


def test_a_fresh_client_serves_a_prefetched_answer(httpserver: HTTPServer) -> None:
    # No check is marked destructive until the plugin says so: a prefetched answer serves the
    # check that declared it, without a second request.
    httpserver.expect_request("/v1/gigs").respond_with_json(
        {"success": True, "meta": {"timestamp": "x"}}
    )
    api = _client(httpserver.url_for("/"))
    try:
        api.asking = "checks/test_x.py::test_y"
        api.prefetch([(Planned.of("GET", "/v1/gigs"), {api.asking})])
        api.get("/v1/gigs")
    finally:
        api.close()
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"success": True, "meta": {"timestamp": "x"}}, None, id="whole-envelope"),
        pytest.param({"success": True, "meta": {}}, '"meta.timestamp"', id="meta-without-stamp"),
        pytest.param({"success": True, "meta": "x"}, '"meta.timestamp"', id="meta-not-an-object"),
        pytest.param({"success": True}, '"meta.timestamp"', id="no-meta"),
        pytest.param({"success": "yes", "meta": {}}, 'boolean "success"', id="success-not-bool"),
    ],
)
def test_what_the_envelope_lacks(body: object, problem: str | None) -> None:
    assert envelope_problem(body) == problem


def test_a_json_answer_that_is_not_json_breaks_no_envelope_rule(httpserver: HTTPServer) -> None:
    # Its checks say what is wrong with it when they read it; the envelope rule has nothing to
    # say about a body it cannot parse, and the request itself returns normally.
    httpserver.expect_request("/v1/gigs").respond_with_data(
        "<html>oops</html>", content_type="application/json"
    )
    violations: list[tuple[str, str]] = []
    api = ApiClient.for_target(httpserver.url_for("/"), SuiteConfig(), RequestCounter(), violations)
    try:
        answer = api.get("/v1/gigs")
    finally:
        api.close()
    assert answer.status == 200
    assert violations == []


def test_a_bare_answer_missing_a_field_lists_its_keys(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/health").respond_with_json({"status": "ok", "env": "prod"})
    config = SuiteConfig(envelope=Envelope(bare_routes=["/v1/health"]))
    api = ApiClient.for_target(httpserver.url_for("/"), config, RequestCounter())
    try:
        answer = api.get("/v1/health")
        with pytest.raises(CheckFailed) as failed:
            answer.field("data.version")
    finally:
        api.close()
    assert "whose top-level keys are: env, status" in str(failed.value)


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("2026-12-01T05:00:10Z", id="utc-marked"),
        pytest.param("2026-12-01T05:00:10", id="naive-read-as-utc"),
    ],
)
def test_a_fresh_timestamp_passes_with_or_without_its_zone(stamp: str) -> None:
    _stamped(stamp).expect_fresh("data.t", within=60)


def _stamped(
    stamp: str,
    now: datetime = datetime(2026, 12, 1, 5, 0, 0, tzinfo=UTC),
    headers: dict[str, str] | None = None,
) -> Answer:
    """A health answer carrying ``stamp``, sent (Date) and received (this runner's clock) at
    ``now`` unless ``headers`` say otherwise."""
    sent = {"Date": format_datetime(now, usegmt=True), **(headers or {})}
    body = {"success": True, "data": {"t": stamp}, "meta": {"timestamp": "x"}}
    return Answer(
        "GET",
        "http://x/v1/health",
        httpx.Response(200, json=body, headers=sent),
        0.01,
        received_at=now,
    )


def test_a_timestamp_that_is_no_time_fails_readably() -> None:
    with pytest.raises(CheckFailed) as failed:
        _stamped("soon").expect_fresh("data.t", within=60)
    assert "expected data.t as an ISO-8601 time, got 'soon'" in str(failed.value)


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        pytest.param({"CF-Cache-Status": "HIT"}, "CF-Cache-Status: HIT", id="cloudflare-hit"),
        pytest.param({"Age": "900"}, "Age: 900", id="age"),
        pytest.param(
            {"Date": "Tue, 01 Dec 2026 04:45:00 GMT"},
            "within 60 s of this runner.s clock",
            id="old-date",
        ),
    ],
)
def test_an_answer_from_a_cache_is_no_fresh_evidence(headers: dict[str, str], said: str) -> None:
    # The timestamp is as old as the Date a cache kept with it: judged against the Date alone,
    # it would pass.
    stamp = "2026-12-01T04:45:00Z" if "Date" in headers else "2026-12-01T05:00:00Z"
    with pytest.raises(CheckFailed, match=said):
        _stamped(stamp, headers=headers).expect_fresh("data.t", within=60)


@pytest.mark.parametrize(
    ("status", "fresh"),
    [
        pytest.param("MISS", True, id="miss"),
        pytest.param("DYNAMIC", True, id="dynamic"),
        pytest.param("HIT", False, id="hit"),
        pytest.param("STALE", False, id="stale"),
    ],
)
def test_only_a_cache_hit_is_an_answer_from_a_cache(status: str, fresh: bool) -> None:
    answer = _stamped("2026-12-01T05:00:00Z", headers={"CF-Cache-Status": status, "Age": "0"})
    assert (answer.from_cache() is None) is fresh


@pytest.mark.parametrize(
    "error",
    [
        pytest.param({"message": "no"}, id="error-without-code"),
        pytest.param({"code": ""}, id="error-with-empty-code"),
        pytest.param("no", id="error-not-an-object"),
    ],
)
def test_a_failed_answer_must_say_its_error_code(error: object) -> None:
    answer = Answer(
        "GET",
        "http://x/v1/gigs",
        httpx.Response(400, json={"success": False, "error": error, "meta": {"timestamp": "x"}}),
        0.01,
    )
    with pytest.raises(CheckFailed) as failed:
        answer.expect_envelope()
    assert 'expected an error envelope with "error.code"' in str(failed.value)


def test_a_route_recorded_bare_breaks_no_envelope_rule(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/health").respond_with_json({"status": "ok"})
    violations: list[tuple[str, str]] = []
    config = SuiteConfig(envelope=Envelope(bare_routes=["/v1/health"]))
    api = ApiClient.for_target(httpserver.url_for("/"), config, RequestCounter(), violations)
    try:
        assert api.get("/v1/health").field("data.status") == "ok"
    finally:
        api.close()
    assert violations == []


def test_a_snippet_is_160_characters_by_default() -> None:
    assert snippet("x" * 200) == "x" * 159 + "…"
    assert snippet("x" * 160) == "x" * 160


@pytest.mark.parametrize(
    ("stamp", "fresh"),
    [
        pytest.param("2026-12-01T05:01:00Z", True, id="exactly-the-allowed-skew-is-fresh"),
        pytest.param("2026-12-01T05:01:01Z", False, id="a-second-more-is-stale"),
    ],
)
def test_a_timestamp_is_fresh_up_to_its_allowed_skew(stamp: str, fresh: bool) -> None:
    answer = _stamped(stamp)
    if fresh:
        answer.expect_fresh("data.t", within=60)
    else:
        with pytest.raises(CheckFailed, match="stale cached answer or its clock is wrong"):
            answer.expect_fresh("data.t", within=60)


def test_a_resent_request_waits_for_the_requests_in_flight() -> None:
    # A latency miss is confirmed alone: not queued behind the tier's own burst. (A threaded
    # server and a client of many connections: either alone would serialise the two requests
    # whatever resend did.)
    seen: dict[str, float] = {}

    def slow(_: Request) -> Response:
        time.sleep(0.5)
        seen["gigs answered"] = time.monotonic()
        return Response("{}", content_type="application/json")

    def quick(_: Request) -> Response:
        seen["artists arrived"] = time.monotonic()
        return Response("{}", content_type="application/json")

    server = HTTPServer(threaded=True)
    server.start()
    try:
        server.expect_request("/v1/gigs").respond_with_handler(slow)
        server.expect_request("/v1/artists").respond_with_handler(quick)
        api = ApiClient.for_target(server.url_for("/"), SuiteConfig(), RequestCounter())
        try:
            api.prefetch([(Planned.of("GET", "/v1/gigs"), {"checks/test_x.py::test_y"})])
            api.resend("GET", "/v1/artists", times=1)
        finally:
            api.close()
    finally:
        server.clear()
        server.stop()
    assert seen["artists arrived"] >= seen["gigs answered"]


def test_an_answer_on_a_reused_connection_is_timed_with_the_round_trip_seen_before() -> None:
    # Only a request that opened its connection measures the round trip (its TCP connect); one
    # that reused it is timed with the shortest round trip the client has seen.
    api = ApiClient.for_target("http://127.0.0.1:9", SuiteConfig(), RequestCounter())
    try:
        opened = {
            CONNECT[0]: 0.0,
            CONNECT[1]: 0.1,
            "http11.send_request_headers.started": 0.1,
            "http11.receive_response_headers.complete": 0.4,
        }
        reused = {
            "http11.send_request_headers.started": 1.0,
            "http11.receive_response_headers.complete": 1.3,
        }
        api._answer(Exchange(httpx.Response(200), 0.0, 0.5, opened), "GET", "/a")
        answer = api._answer(Exchange(httpx.Response(200), 1.0, 1.4, reused), "GET", "/a")
    finally:
        api.close()
    assert answer.server_time == pytest.approx(0.2)
