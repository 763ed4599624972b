"""The one HTTP client factory: every request the suite sends goes through ``new_client``.

The target, Cloudflare (D1 and GraphQL), Sentry, Clerk, Slack, the monitor and the sandbox's key
fetch all get the same timeouts, User-Agent, request counting (an httpx event hook) and the same
translation of "no answer" into one scrubbed line (``NoAnswer``). What a *non-2xx* answer means
differs per service and stays with each caller; ``could_not_check_reason`` is the shared rule
for read-only services that take a bearer token.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any

import certifi

# httpx imports its connection layer (httpcore) on its first client, and every run makes one:
# imported here, with the plugin's hooks, it loads while a --umbrella-sandbox process is still
# starting instead of on the way to the run's first requests.
import httpcore  # noqa: F401
import httpx

from umbrella_checks import __version__
from umbrella_checks.config.suite import Http
from umbrella_checks.secrets import scrub

USER_AGENT = f"umbrella-checks/{__version__} (+runbook post-launch operations)"


class RequestCounter:
    """Counts requests this process sent (``total``) and the answers that came back
    (``answered``: a refused connection or a timeout sends a request no one answered); the
    plugin attributes them to checks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.answered = 0

    def add(self, _request: object = None) -> None:
        with self._lock:
            self.total += 1

    def answer(self, _response: object = None) -> None:
        with self._lock:
            self.answered += 1


class NoAnswer(Exception):
    """The request got no HTTP answer: a timeout, a refused connection, a TLS or DNS error.

    ``timed_out`` only when a connection was open and the answer never came (a read or write
    timeout): the target hangs. A connection that never opened (a connect timeout: SYNs
    dropped, a full accept queue, a firewall), a refusal, DNS, TLS, or waiting for a connection
    of this client's own pool is no evidence about the service: the runner's network, the URL,
    or the run itself."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(scrub(message))
        self.timed_out = timed_out


def timeout_of(http: Http) -> httpx.Timeout:
    return httpx.Timeout(
        connect=http.connect_timeout,
        read=http.read_timeout,
        write=http.read_timeout,
        pool=http.connect_timeout,
    )


def given_trust_store(environ: Mapping[str, str]) -> str | None:
    """The bundle ``SSL_CERT_FILE`` names (a proxy that inspects TLS, a private CA), when it
    names a file. A name that is no file is passed over: verification stays on."""
    given = environ.get("SSL_CERT_FILE", "").strip()
    return given if given and os.path.isfile(given) else None


def trust_store() -> str:
    """The CA bundle every HTTPS client trusts: ``SSL_CERT_FILE``'s, else certifi's, the one
    httpx uses by default."""
    return given_trust_store(os.environ) or certifi.where()


def bundle_problem(path: str) -> str | None:
    """Why ``path`` is no CA bundle the TLS library can load, or None. Settings ask this as
    they resolve, so a wrong ``SSL_CERT_FILE`` or ``[tls] ca_file`` is one line at start, not
    a traceback from the first HTTPS request (a bundle that loads is kept for the clients)."""
    try:
        _tls_context(path)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        return f"not a PEM bundle of CA certificates ({reason})"
    return None


@functools.cache
def _tls_context(cafile: str) -> ssl.SSLContext:
    # Built once per process and bundle (loading one costs tens of milliseconds), shared by
    # every client.
    return ssl.create_default_context(cafile=cafile)


@functools.cache
def _no_tls_context() -> ssl.SSLContext:
    # For a plain-HTTP target: verification stays on and nothing is trusted, so an https://
    # URL reached through this client fails instead of going unverified.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def new_client(
    http: Http,
    *,
    counter: RequestCounter | None = None,
    answers: RequestCounter | None = None,
    headers: Mapping[str, str] | None = None,
    connections: int = 4,
    http2: bool = False,
    tls: bool = True,
    redirects: int = 0,
) -> httpx.Client:
    """An httpx client with the suite's timeouts, User-Agent, retries and request counting
    (``counter``; ``answers`` counts the answers only), pooling at most ``connections``
    connections; with ``http2``, HTTP/2 where
    the server offers it over TLS (many requests on one connection). ``tls=False`` for a
    plain-HTTP service: no CA bundle is loaded, and no https:// URL is trusted. ``redirects``:
    how many redirects to follow (0: none; the target's own redirects are answers to judge)."""
    hooks: dict[str, list[Any]] = {"request": [counter.add]} if counter else {}
    answered = answers or counter
    if answered is not None:
        hooks["response"] = [answered.answer]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    context = _tls_context(trust_store()) if tls else _no_tls_context()
    return httpx.Client(
        timeout=timeout_of(http),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=redirects > 0,
        max_redirects=redirects,
        transport=httpx.HTTPTransport(
            verify=context, http2=http2, retries=http.retries, limits=limits
        ),
        event_hooks=hooks,
    )


def send(
    client: httpx.Client, method: str, url: str, *, what: str, **kwargs: Any
) -> httpx.Response:
    """One request; ``NoAnswer`` (one line, no URL secrets) when nothing came back."""
    try:
        return client.request(method, url, **kwargs)
    except httpx.ConnectTimeout:
        raise NoAnswer(
            f"{what}: could not connect within {client.timeout.connect or 0:g} s (connect "
            "timeout: the connection never opened)",
            timed_out=False,
        ) from None
    except httpx.PoolTimeout:
        raise NoAnswer(
            f"{what}: no connection of this run's own pool came free within "
            f"{client.timeout.pool or 0:g} s (pool timeout)",
            timed_out=False,
        ) from None
    except httpx.TimeoutException as exc:  # read or write: connected, and no answer came
        kind = type(exc).__name__.replace("Timeout", " timeout").lower()
        raise NoAnswer(
            f"{what}: no answer within {client.timeout.read or 0:g} s ({kind})", timed_out=True
        ) from None
    except httpx.HTTPError as exc:
        raise NoAnswer(
            f"{what}: could not connect ({type(exc).__name__}: {exc})", timed_out=False
        ) from None


def could_not_check_reason(response: httpx.Response, what: str, credential: str) -> str | None:
    """Why a read-only service's answer cannot be used (one line), or None for a 2xx."""
    status = response.status_code
    if status in (401, 403):
        return (
            f"could not check: {what} refused the token in {credential} (HTTP {status}); "
            "check it is valid and has read access"
        )
    if status == 429:
        wait = response.headers.get("Retry-After", "unknown")
        return (
            f"could not check: {what} is rate limiting (HTTP 429, Retry-After: {wait} s); "
            "run again later"
        )
    if status >= 500:
        return f"could not check: {what} failed (HTTP {status})"
    if status >= 400:
        return scrub(f"could not check: {what} answered HTTP {status}: {response.text[:200]}")
    return None


def request_once(
    http: Http,
    method: str,
    url: str,
    *,
    what: str,
    counter: RequestCounter | None = None,
    headers: Mapping[str, str] | None = None,
    redirects: int = 0,
    **kwargs: Any,
) -> httpx.Response:
    """One request on a client of its own (for services asked a handful of times a run)."""
    with new_client(http, counter=counter, headers=headers, redirects=redirects) as client:
        return send(client, method, url, what=what, **kwargs)
