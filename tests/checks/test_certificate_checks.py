"""Certificates and domain registration: a real TLS server on loopback with certificates made
here (a private CA the check is told to trust), and RDAP answered in its JSON format."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.certificates import https_server, issue
from tests.conftest import RunChecks
from umbrella_checks.config.suite import Http
from umbrella_checks.transport import NoAnswer, new_client, send

CERT = "test_tls_certificate_is_trusted_names_the_host_and_has_weeks_left"
DOMAIN = "test_domain_registration_is_not_about_to_expire"


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start an HTTPS server on loopback serving a fresh certificate: (URL, CA file)."""
    with ExitStack() as servers:

        def start(host: str = "localhost", days: int = 90) -> tuple[str, Path]:
            folder = tmp_path / f"{host}-{days}"
            folder.mkdir()
            ca, cert, key = issue(folder, (host,), datetime.now(UTC) + timedelta(days=days))
            port = servers.enter_context(https_server(cert, key))
            return f"https://localhost:{port}", ca

        yield start


def _config(ca: Path | None = None, rdap: str | None = None, domain: str | None = None) -> str:
    lines = ["[tls]"]
    if ca:
        lines.append(f'ca_file = "{ca}"')
    if rdap:
        lines += [f'rdap_url = "{rdap}"', f'domain = "{domain}"']
    return "\n".join(lines) + "\n"


def test_a_good_certificate_passes(
    run_checks: RunChecks, tls_target: Callable[..., tuple[str, Path]]
) -> None:
    url, ca = tls_target()
    run = run_checks("checks/test_certificates.py", target=url, config=_config(ca))
    assert run.passed_names() == [CERT]


@pytest.mark.parametrize(
    ("host", "days", "trusted", "fragment"),
    [
        pytest.param(
            "localhost", 5, True, "expected at least 14 days left, got 5.0", id="expiring"
        ),
        pytest.param(
            "www.other.example", 90, True, "expected a name matching localhost", id="wrong-name"
        ),
        pytest.param(
            "localhost",
            90,
            False,
            "expected a trusted chain, got unable to get local issuer",
            id="untrusted",
        ),
    ],
)
def test_a_bad_certificate_fails_naming_why(
    run_checks: RunChecks,
    tls_target: Callable[..., tuple[str, Path]],
    host: str,
    days: int,
    trusted: bool,
    fragment: str,
) -> None:
    url, ca = tls_target(host, days)
    run = run_checks(
        "checks/test_certificates.py", target=url, config=_config(ca if trusted else None)
    )
    assert run.failed_names() == [CERT]
    message = run.message_of(CERT)
    assert message.startswith(f"TLS certificate of localhost:{url.rsplit(':', 1)[1]}")
    assert fragment in message


@pytest.mark.parametrize(
    ("days", "passes"),
    [pytest.param(400, True, id="a-year-left"), pytest.param(10, False, id="10-days")],
)
def test_the_domain_registration_is_judged_from_rdap(
    run_checks: RunChecks, httpserver: HTTPServer, days: int, passes: bool
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    httpserver.expect_request("/domain/umbrella.app").respond_with_json(
        {
            "objectClassName": "domain",
            "ldhName": "umbrella.app",
            "events": [
                {"eventAction": "registration", "eventDate": "2024-01-01T00:00:00Z"},
                {"eventAction": "expiration", "eventDate": expires},
            ],
        }
    )
    rdap = httpserver.url_for("/domain/{domain}")
    run = run_checks(
        "checks/test_certificates.py", config=_config(rdap=rdap, domain="umbrella.app")
    )
    if passes:
        assert run.passed_names() == [DOMAIN]
    else:
        assert run.failed_names() == [DOMAIN]
        assert "expected at least 30 days of registration left, got 10" in run.message_of(DOMAIN)


def _rdap_record(days: int) -> dict[str, object]:
    expires = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "ldhName": "umbrella.app",
        "events": [{"eventAction": "expiration", "eventDate": expires}],
    }


def test_rdap_follows_the_bootstrap_redirect_to_the_registry(
    run_checks: RunChecks, httpserver: HTTPServer
) -> None:
    """rdap.org answers with a redirect to the registry's server (RFC 7480 expects clients to
    follow): the check follows it."""
    registry = httpserver.url_for("/registry/domain/umbrella.app")
    httpserver.expect_request("/domain/umbrella.app").respond_with_data(
        "", status=302, headers={"Location": registry}
    )
    httpserver.expect_request("/registry/domain/umbrella.app").respond_with_json(_rdap_record(400))
    rdap = httpserver.url_for("/domain/{domain}")
    run = run_checks(
        "checks/test_certificates.py", config=_config(rdap=rdap, domain="umbrella.app")
    )
    assert run.passed_names() == [DOMAIN]


def test_an_rdap_redirect_loop_is_could_not_check_after_a_few_hops(
    run_checks: RunChecks, httpserver: HTTPServer
) -> None:
    loop = httpserver.url_for("/domain/umbrella.app")
    httpserver.expect_request("/domain/umbrella.app").respond_with_data(
        "", status=302, headers={"Location": loop}
    )
    rdap = httpserver.url_for("/domain/{domain}")
    run = run_checks(
        "checks/test_certificates.py", config=_config(rdap=rdap, domain="umbrella.app")
    )
    assert run.failed_names() == [DOMAIN]
    message = run.message_of(DOMAIN)
    assert message.startswith("could not check: RDAP ")
    assert "TooManyRedirects" in message


def test_the_client_for_a_plain_http_target_trusts_no_certificate(
    tls_target: Callable[..., tuple[str, Path]],
) -> None:
    """A plain-HTTP target's client loads no CA bundle; an https:// URL reached through it must
    fail verification, never go unverified."""
    url, _ca = tls_target()
    with new_client(Http(), tls=False) as client, pytest.raises(NoAnswer, match="CERTIFICATE"):
        send(client, "GET", url, what=f"GET {url}")
