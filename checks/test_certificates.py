"""Runbook › Daily Operations (and Common Issues: the outage nobody deployed): the TLS
certificate and the domain registration, which expire on a date, not with a release."""

from datetime import datetime
from urllib.parse import urlsplit

import pytest

from umbrella_checks.api import RequestCounter, Settings, fail, not_applicable, tls

pytestmark = [pytest.mark.daily, pytest.mark.severity("SEV-2")]


def test_tls_certificate_is_trusted_names_the_host_and_has_weeks_left(
    base_url: str, settings: Settings, now: datetime
) -> None:
    """Browsers refuse an expired, mismatched or untrusted certificate outright."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        not_applicable(f"{base_url} is not https: there is no certificate to check")
    host, port = parts.hostname, parts.port or 443
    rules = settings.config.tls
    timeout = settings.config.http.connect_timeout
    cert = tls.peer_certificate(host, port, timeout)
    where = f"TLS certificate of {host}:{port} (issued by {cert.issuer})"
    days_left = (cert.not_after - now).total_seconds() / 86400
    if days_left < rules.min_days:
        fail(
            f"{where}: expected at least {rules.min_days} days left, got {days_left:.1f} "
            f"(expires {cert.not_after:%Y-%m-%d %H:%MZ}; renew it, or check why automatic "
            "renewal stopped)"
        )
    if not cert.covers(host):
        fail(
            f"{where}: expected a name matching {host}, got {', '.join(cert.names) or 'none'} "
            "(the wrong certificate is served: check the custom domain's settings)"
        )
    problem = tls.trust_problem(host, port, timeout, rules.ca_file)
    if problem:
        fail(f"{where}: expected a trusted chain, got {problem} (serve the full chain)")


def test_domain_registration_is_not_about_to_expire(
    settings: Settings, request_counter: RequestCounter, now: datetime
) -> None:
    """A lapsed registration takes the whole service off the internet."""
    rules = settings.config.tls
    if not rules.domain:
        not_applicable(
            'no [tls] domain set: set it (e.g. "umbrella.app") to check the registration\'s expiry'
        )
    expires = tls.registration_expiry(
        rules.rdap_url, rules.domain, settings.config.http, request_counter
    )
    days_left = (expires - now).total_seconds() / 86400
    if days_left < rules.min_domain_days:
        fail(
            f"domain {rules.domain}: expected at least {rules.min_domain_days} days of "
            f"registration left, got {days_left:.0f} (expires {expires:%Y-%m-%d}; renew it "
            "at the registrar)"
        )
