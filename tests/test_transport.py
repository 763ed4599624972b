"""The one HTTP client factory and its single-request helper, on real sockets: what a client
offers in its TLS hello, which redirects it follows, how "no answer" reads, and the one line a
read-only service's refusal becomes."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.certificates import https_server, issue
from umbrella_checks.config.suite import Http
from umbrella_checks.config.units import Duration
from umbrella_checks.transport import (
    NoAnswer,
    RequestCounter,
    could_not_check_reason,
    new_client,
    request_once,
    send,
)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A TCP port that records the first bytes each connection sends and answers nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    seen.append(conn.recv(65536))
                done.wait(2)  # hold the connection open, unanswered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server, seen
    done.set()
    thread.join(timeout=5)
    server.close()


@pytest.mark.parametrize(
    ("http2", "offered"),
    [pytest.param(True, True, id="http2-offers-h2"), pytest.param(False, False, id="http11-only")],
)
def test_http2_is_offered_in_the_tls_hello_only_when_asked(
    listener: tuple[socket.socket, list[bytes]], http2: bool, offered: bool
) -> None:
    server, seen = listener
    port = server.getsockname()[1]
    quick = Http(connect_timeout=Duration(2.0), read_timeout=Duration(0.5))
    with new_client(quick, http2=http2) as client, pytest.raises(httpx.HTTPError):
        client.get(f"https://127.0.0.1:{port}/")
    assert seen, "the client sent no TLS hello"
    assert (b"\x02h2" in seen[0]) is offered
    assert b"\x08http/1.1" in seen[0]


def test_a_hung_service_is_no_answer_timed_out(listener: tuple[socket.socket, list[bytes]]) -> None:
    port = listener[0].getsockname()[1]
    with pytest.raises(NoAnswer) as raised:
        request_once(
            Http(read_timeout=Duration(0.3)), "GET", f"http://127.0.0.1:{port}/", what="Sentry"
        )
    assert raised.value.timed_out
    assert str(raised.value).startswith("Sentry: no answer within 0.3 s (read timeout)")


def test_a_refused_connection_is_no_answer_not_timed_out() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(NoAnswer) as raised:
        request_once(Http(), "GET", f"http://127.0.0.1:{port}/", what="Sentry")
    assert not raised.value.timed_out


@pytest.mark.parametrize(
    ("redirects", "status"),
    [pytest.param(0, 302, id="none-followed"), pytest.param(1, 200, id="one-followed")],
)
def test_redirects_are_followed_only_when_asked(
    httpserver: HTTPServer, redirects: int, status: int
) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data("here")
    answer = request_once(
        Http(), "GET", httpserver.url_for("/old"), what="RDAP", redirects=redirects
    )
    assert answer.status_code == status


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        pytest.param(200, None, id="200-usable"),
        pytest.param(302, None, id="3xx-not-refused"),
        pytest.param(400, "answered HTTP 400: bad query", id="400"),
        pytest.param(401, "refused the token in SENTRY_AUTH_TOKEN (HTTP 401)", id="401"),
        pytest.param(403, "refused the token in SENTRY_AUTH_TOKEN (HTTP 403)", id="403"),
        pytest.param(404, "answered HTTP 404: bad query", id="404-not-a-token-problem"),
        pytest.param(499, "answered HTTP 499: bad query", id="499"),
        pytest.param(500, "failed (HTTP 500)", id="500"),
    ],
)
def test_a_services_answer_becomes_one_reason(status: int, reason: str | None) -> None:
    found = could_not_check_reason(
        httpx.Response(status, text="bad query"), "Sentry", "SENTRY_AUTH_TOKEN"
    )
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(f"could not check: Sentry {reason}")


@pytest.fixture
def private_https(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An HTTPS server whose certificate only a private CA vouches for: (the CA, its URL)."""
    ca, cert, key = issue(tmp_path, ("localhost",), datetime.now(UTC) + timedelta(days=30))
    with https_server(cert, key) as port:
        yield ca, f"https://localhost:{port}/"


@pytest.mark.parametrize(
    ("trust_private_ca", "tls", "answered"),
    [
        pytest.param(True, True, True, id="ssl-cert-file-trusted"),
        pytest.param(False, True, False, id="not-in-certifi"),
        pytest.param(True, False, False, id="plain-http-client-trusts-nothing"),
    ],
)
def test_https_trusts_ssl_cert_file_else_certifi(
    private_https: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    trust_private_ca: bool,
    tls: bool,
    answered: bool,
) -> None:
    ca, url = private_https
    if trust_private_ca:
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with new_client(Http(), tls=tls) as client:
        try:
            status: int | None = send(client, "GET", url, what="Sentry").status_code
        except NoAnswer:
            status = None
    assert (status is not None) is answered  # any HTTP answer: the handshake was trusted


def test_an_ssl_cert_file_that_is_no_file_is_passed_over(
    private_https: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nowhere.pem"))
    with pytest.raises(NoAnswer):  # certifi's bundle: the private CA is not trusted
        request_once(Http(), "GET", private_https[1], what="Slack")


def test_a_single_request_is_https_by_default(
    private_https: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, url = private_https
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert request_once(Http(), "GET", url, what="Slack").status_code == 501  # GET unsupported


def test_defaults_follow_no_redirect_and_count_every_request(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    counter = RequestCounter()
    with new_client(Http(), counter=counter) as client:
        assert client.get(httpserver.url_for("/old")).status_code == 302
        client.get(httpserver.url_for("/old"))
    assert counter.total == 2
    assert request_once(Http(), "GET", httpserver.url_for("/old"), what="RDAP").status_code == 302


def test_http11_is_the_default(listener: tuple[socket.socket, list[bytes]]) -> None:
    port = listener[0].getsockname()[1]
    quick = Http(connect_timeout=Duration(2.0), read_timeout=Duration(0.5))
    with new_client(quick) as client, pytest.raises(httpx.HTTPError):
        client.get(f"https://127.0.0.1:{port}/")
    assert listener[1]
    assert b"\x02h2" not in listener[1][0]
