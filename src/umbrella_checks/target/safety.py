"""Never harm production: the guard in front of everything that writes, burns quota or loads.

pytest-selenium's rule, failing closed: such work runs only when *all* of these hold —

1. it was asked for (``--umbrella-allow-destructive``; the Locust gate is asked for by running it);
2. the expected environment is not production;
3. the target's URL (scheme and host lower-cased, default port dropped) does not match
   ``[safety] sensitive_url``;
4. the target itself positively reports a non-production environment, read from its health
   answer the way the health checks read it (status 200, the configured field, a known name).

Anything else — no answer, a 5xx, an unreadable or unrecorded shape, an unknown name — is doubt,
and doubt refuses, with the reason.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.errors import CheckFailed
from umbrella_checks.evidence import unrecorded

if TYPE_CHECKING:
    from umbrella_checks.target.answer import Answer

HOW_TO_OPT_IN = (
    "run destructive checks against staging: pytest -m destructive --umbrella-allow-destructive "
    "--umbrella-environment=staging --base-url=https://<staging host> (on the bundled sandbox: "
    "pytest -m destructive --umbrella-sandbox --umbrella-allow-destructive)"
)

# What a target must answer for destructive checks to run against it (and what the run must be
# told), said when the guard refused every selected check.
LET_THROUGH = (
    "the target's health route must answer 200 naming its environment — staging, preview or "
    "development — at [health] environment_field, the run must expect that environment "
    "(--umbrella-environment), and the URL must not match [safety] sensitive_url"
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """``HTTPS://Umbrella.App.:443/`` → ``https://umbrella.app``: the form the sensitive-URL
    pattern is matched against — the host the HTTP client really connects to, so case, a
    trailing dot, a default port, full-width dots or another Unicode spelling (IDNA/UTS-46, as
    httpx applies it) and short IPv4 forms (``127.1``) cannot slip past."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        host = httpx.URL(url.strip()).host
    except (httpx.InvalidURL, ValueError):
        host = parts.hostname or ""
    host = _ipv4(host.lower().rstrip("."))
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def _ipv4(host: str) -> str:
    """A host the socket layer reads as IPv4 (``127.1``, ``0x7f.1``, ``2130706433``), in its
    dotted form; any other host as it is."""
    if not host or not all(part and part[0].isdigit() for part in host.split(".")):
        return host
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return host


def sensitive_reason(base_url: str, environment: str, pattern: str) -> str | None:
    """Why this target must be treated as production from what the run was told, or None."""
    if environment == "production":
        return "the expected environment is production"
    normal = normalise_url(base_url)
    if re.search(pattern, normal):
        return f"{normal} matches the sensitive-URL pattern {pattern!r} ([safety] sensitive_url)"
    return None


@dataclass(frozen=True)
class Reported:
    """What the target said about its own environment: a known name, or why it is unknown."""

    environment: str | None
    unknown: str | None = None

    @classmethod
    def of(cls, value: object, where: str) -> Reported:
        """A value read from the health answer's environment field."""
        if isinstance(value, str) and value in ENVIRONMENTS:
            return cls(value)
        return cls(
            None,
            f"{where} reports environment {value!r}, not one of {', '.join(ENVIRONMENTS)}",
        )


def read_reported(health: Answer, field_path: str) -> Reported:
    """The environment a health answer reports, read as the health checks read it: status 200
    and the configured field (``[health] environment_field``), holding a known name."""
    if not field_path:
        return Reported(None, "[health] environment_field is empty: the target does not say")
    try:
        with unrecorded():
            health.expect_status(200)
            return Reported.of(health.field(field_path), health.what)
    except CheckFailed as exc:
        return Reported(None, exc.message)


def refusal(*, base_url: str, environment: str, pattern: str, reported: Reported) -> str | None:
    """Why work that changes state, uses quota or loads must not run here, or None."""
    reason = sensitive_reason(base_url, environment, pattern)
    if reason is None and reported.environment is None:
        reason = (
            f"the target at {base_url} did not say which environment it is "
            f"({reported.unknown or 'no health answer'}): unknown is treated as production"
        )
    elif reason is None and reported.environment == "production":
        reason = f"the target at {base_url} reports environment production"
    return reason


def destructive_refusal(
    *,
    allowed: bool,
    base_url: str,
    environment: str,
    pattern: str,
    reported: Reported,
) -> str | None:
    """The reason a destructive check is refused, or None when it may run."""
    if not allowed:
        return f"destructive checks are off; {HOW_TO_OPT_IN}"
    reason = refusal(base_url=base_url, environment=environment, pattern=pattern, reported=reported)
    return f"refused: {reason}; {HOW_TO_OPT_IN}" if reason else None
