"""The certificate and registration readers on their own: real TLS servers on loopback with
certificates made here, and RDAP answered over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.certificates import https_server, issue
from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.services import tls
from umbrella_checks.transport import RequestCounter

EXPIRES = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("names", "host", "covered"),
    [
        pytest.param(("api.example",), "api.example", True, id="exact"),
        pytest.param(("API.Example",), "api.EXAMPLE.", True, id="case-and-root-dot"),
        pytest.param(("other.example", "api.example"), "api.example", True, id="second-name"),
        pytest.param(("*.example",), "api.example", True, id="wildcard-one-label"),
        pytest.param(("*.example",), "a.api.example", False, id="wildcard-not-two-labels"),
        pytest.param(("*.api.example",), "api.example", False, id="wildcard-not-the-parent"),
        pytest.param(("www.example",), "api.example", False, id="sibling-name"),
        pytest.param(("x.api.example",), "y.api.example", False, id="same-parent-no-wildcard"),
        pytest.param((), "api.example", False, id="no-names"),
        pytest.param(("*.example",), "api.other", False, id="wildcard-other-parent"),
        pytest.param(("*.example",), "x.notexample", False, id="wildcard-parent-is-a-label"),
    ],
)
def test_a_certificate_covers_only_its_names(
    names: tuple[str, ...], host: str, covered: bool
) -> None:
    assert tls.Certificate("s", "i", EXPIRES, names).covers(host) is covered


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[..., tuple[int, Path]]]:
    """An HTTPS server on loopback: (port, CA file)."""
    with ExitStack() as servers:

        def start(
            *,
            san: bool = True,
            common: str | None = "localhost",
            names: tuple[str, ...] = ("localhost", "alt.local"),
        ) -> tuple[int, Path]:
            folder = tmp_path / f"cert-{len(list(tmp_path.iterdir()))}"
            folder.mkdir()
            ca, cert, key = issue(folder, names, EXPIRES, common=common, san=san)
            return servers.enter_context(https_server(cert, key)), ca

        yield start


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_certificate_is_read_with_its_names_issuer_and_expiry(
    tls_server: Callable[..., tuple[int, Path]],
) -> None:
    port, _ca = tls_server()
    cert = tls.peer_certificate("localhost", port, 5.0)
    assert cert.subject == "localhost"
    assert cert.issuer == "umbrella-checks test CA"
    assert cert.not_after == EXPIRES
    assert cert.names == ("localhost", "alt.local")


def test_a_certificate_without_san_names_nothing_and_without_cn_shows_its_subject(
    tls_server: Callable[..., tuple[int, Path]],
) -> None:
    """Browsers ignore the CN: without SAN a certificate names no host at all."""
    port, _ca = tls_server(san=False, common=None)
    cert = tls.peer_certificate("localhost", port, 5.0)
    assert cert.names == ()
    assert cert.subject == "O=Umbrella Ops"
    assert not cert.covers("localhost")


def test_no_tls_server_is_could_not_check_not_a_crash() -> None:
    port = _closed_port()
    with pytest.raises(CouldNotCheck, match=f"TLS handshake with localhost:{port} failed"):
        tls.peer_certificate("localhost", port, 2.0)
    with pytest.raises(CouldNotCheck, match=f"TLS handshake with localhost:{port} failed"):
        tls.trust_problem("localhost", port, 2.0, None)


def test_a_plain_http_server_is_could_not_check(httpserver: HTTPServer) -> None:
    port = httpserver.port
    with pytest.raises(CouldNotCheck, match="TLS handshake"):
        tls.peer_certificate("localhost", port, 2.0)
    with pytest.raises(CouldNotCheck, match="TLS handshake"):
        tls.trust_problem("localhost", port, 2.0, None)


def test_the_chain_is_trusted_only_with_its_ca(
    tls_server: Callable[..., tuple[int, Path]],
) -> None:
    port, ca = tls_server()
    assert tls.trust_problem("localhost", port, 5.0, str(ca)) is None
    problem = tls.trust_problem("localhost", port, 5.0, None)
    assert problem is not None
    assert "unable to get local issuer" in problem


def test_a_trusted_chain_is_judged_apart_from_the_name(
    tls_server: Callable[..., tuple[int, Path]],
) -> None:
    """The wrong name is its own failure, with its own message: the chain of a certificate
    for another host is still trusted."""
    port, ca = tls_server(names=("www.other.example",), common="www.other.example")
    assert tls.trust_problem("localhost", port, 5.0, str(ca)) is None


def _expiry(httpserver: HTTPServer) -> datetime:
    return tls.registration_expiry(
        httpserver.url_for("/domain/{domain}"), "umbrella.app", Http(), RequestCounter()
    )


def _events(*events: dict[str, str]) -> dict[str, object]:
    return {"ldhName": "umbrella.app", "events": list(events)}


def test_the_expiration_event_is_read_whatever_the_order(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/domain/umbrella.app").respond_with_json(
        _events(
            {"eventAction": "registration", "eventDate": "2020-01-01T00:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2031-05-06T07:08:09Z"},
        )
    )
    assert _expiry(httpserver) == EXPIRES


def test_an_expiry_without_a_zone_is_utc(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/domain/umbrella.app").respond_with_json(
        _events({"eventAction": "expiration", "eventDate": "2031-05-06T07:08:09"})
    )
    assert _expiry(httpserver) == EXPIRES


def test_an_expiry_in_another_zone_keeps_it(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/domain/umbrella.app").respond_with_json(
        _events({"eventAction": "expiration", "eventDate": "2031-05-06T09:08:09+02:00"})
    )
    expires = _expiry(httpserver)
    assert expires == EXPIRES
    assert expires.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_events({"eventAction": "registration", "eventDate": "x"}), id="no-expiry"),
        pytest.param({"ldhName": "umbrella.app"}, id="no-events"),
        pytest.param(["not", "an", "object"], id="not-an-object"),
        pytest.param(_events({"eventAction": "expiration"}), id="no-date"),
        pytest.param(_events({"eventAction": "expiration", "eventDate": "soon"}), id="bad-date"),
    ],
)
def test_a_record_without_an_expiry_is_could_not_check(
    httpserver: HTTPServer, record: object
) -> None:
    httpserver.expect_request("/domain/umbrella.app").respond_with_json(record)
    with pytest.raises(CouldNotCheck, match=r"has no expiration event for umbrella\.app"):
        _expiry(httpserver)


def test_an_rdap_error_is_could_not_check(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/domain/umbrella.app").respond_with_data("", status=404)
    with pytest.raises(CouldNotCheck, match="answered HTTP 404"):
        _expiry(httpserver)


def test_an_unreachable_rdap_server_is_could_not_check() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/domain/{{domain}}"
    with pytest.raises(CouldNotCheck, match="RDAP"):
        tls.registration_expiry(url, "umbrella.app", Http(), RequestCounter())


def _chain(httpserver: HTTPServer, hops: int) -> None:
    """``hops`` redirects before the record, as bootstrap services and registries chain them."""
    for hop in range(hops):
        target = "/domain/umbrella.app" if hop == 0 else f"/hop/{hop}"
        following = f"/hop/{hop + 1}" if hop + 1 < hops else "/record"
        httpserver.expect_request(target).respond_with_data(
            "", status=302, headers={"Location": httpserver.url_for(following)}
        )
    httpserver.expect_request("/record").respond_with_json(
        _events({"eventAction": "expiration", "eventDate": "2031-05-06T07:08:09Z"})
    )


# The bound as documented (docs/checks.md), not read from the module: a changed bound shows.
def test_five_redirects_are_followed(httpserver: HTTPServer) -> None:
    _chain(httpserver, 5)
    assert _expiry(httpserver) == EXPIRES


def test_a_sixth_redirect_is_could_not_check(httpserver: HTTPServer) -> None:
    _chain(httpserver, 6)
    with pytest.raises(CouldNotCheck, match="TooManyRedirects"):
        _expiry(httpserver)
