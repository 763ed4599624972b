"""The target's TLS certificate and its domain's registration: what expires without a deploy.

The certificate is read from a handshake that does not verify (so an expired or mismatched one
can still be described), then judged: days left, issuer, whether it names the host, whether
the platform's trust store (or ``[tls] ca_file``) accepts it. The registration's expiry comes
from RDAP (``[tls] rdap_url``), the registries' JSON successor to WHOIS.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.transport import NoAnswer, RequestCounter, request_once

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_after: datetime
    names: tuple[str, ...]

    def covers(self, host: str) -> bool:
        """Does a DNS name of the certificate match ``host`` (one wildcard label allowed)?"""
        host = host.lower().rstrip(".")
        for name in (n.lower() for n in self.names):
            if name == host:
                return True
            if (
                name.startswith("*.")
                and host.count(".") == name.count(".")
                and host.endswith(name[1:])
            ):
                return True
        return False


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def peer_certificate(host: str, port: int, timeout: float) -> Certificate:
    from cryptography import x509  # only where a certificate is read: not on every run

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read it whatever it is; judging comes after
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise CouldNotCheck(f"TLS handshake with {host}:{port} failed ({exc})") from None
    if not der:
        raise CouldNotCheck(f"{host}:{port} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return Certificate(
        _common_name(cert.subject),
        _common_name(cert.issuer),
        cert.not_valid_after_utc,
        names,
    )


def trust_problem(host: str, port: int, timeout: float, ca_file: str | None) -> str | None:
    """Why a verifying client refuses the certificate chain, or None when it accepts it."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # the name is judged separately, with a clearer message
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc)
    except (OSError, ssl.SSLError) as exc:
        raise CouldNotCheck(f"TLS handshake with {host}:{port} failed ({exc})") from None


RDAP_REDIRECTS = 5


def registration_expiry(
    rdap_url: str, domain: str, http: Http, counter: RequestCounter
) -> datetime:
    """The domain's registration expiry, from its RDAP record's ``expiration`` event."""
    url = rdap_url.format(domain=domain)
    try:
        # RDAP bootstrap services (rdap.org) redirect to the registry's own server, and clients
        # are to follow (RFC 7480 §5.2): a few hops, never a loop.
        response = request_once(
            http, "GET", url, what=f"RDAP {url}", counter=counter, redirects=RDAP_REDIRECTS
        )
    except NoAnswer as exc:
        raise CouldNotCheck(str(exc)) from None
    if response.status_code != 200:
        raise CouldNotCheck(f"RDAP {url} answered HTTP {response.status_code}")
    try:
        record: Any = response.json()
        events = record.get("events", [])
        stamp = next(e["eventDate"] for e in events if e.get("eventAction") == "expiration")
        expires = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except (ValueError, AttributeError, KeyError, TypeError, StopIteration):
        raise CouldNotCheck(f"RDAP {url} has no expiration event for {domain}") from None
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)
