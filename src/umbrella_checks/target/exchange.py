"""One request to the target as the client sends it: what identifies it (``Planned``: the same
request gets the same answer, prefetched or not), what came back and when (``Exchange``: wall
time, time to first byte, the connect round trip, its wait for a place), and the two ways a
request in the tier's burst can go unanswered (``NotSent``, ``Overwhelmed``).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from umbrella_checks.config.suite import Errors
from umbrella_checks.secrets import Secret
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.timing import server_time
from umbrella_checks.transport import NoAnswer


@dataclass(frozen=True)
class Planned:
    """A request by what identifies it: the same method, path, credential, headers and body
    get the same answer, whether prefetched or sent when a check asks."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        token: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
    ) -> Planned:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token.reveal()}"
        body: bytes | None = content.encode() if isinstance(content, str) else content
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        return cls(method, path, tuple(sorted(sent.items())), body)

    def __repr__(self) -> str:  # never the Authorization header
        return f"Planned({self.method} {self.path})"


@dataclass
class Exchange:
    response: httpx.Response
    started: float
    finished: float
    marks: dict[str, float]
    # Seconds spent waiting for a place among the requests in flight (the run's own queue),
    # and how many were in flight with it.
    queued: float = 0.0
    company: int = 1
    in_burst: bool = False

    @property
    def rtt(self) -> float | None:
        """TCP connect time, when this exchange opened its connection."""
        start = self.marks.get("connection.connect_tcp.started")
        done = self.marks.get("connection.connect_tcp.complete")
        return done - start if start is not None and done is not None else None

    def _mark(self, event: str, default: float) -> float:
        for protocol in ("http11", "http2"):
            if f"{protocol}.{event}" in self.marks:
                return self.marks[f"{protocol}.{event}"]
        return default

    @property
    def first_byte(self) -> float:
        """Seconds from sending the request's headers to its answer's headers."""
        sent = self._mark("send_request_headers.started", self.started)
        return self._mark("receive_response_headers.complete", self.finished) - sent

    def answer(
        self,
        method: str,
        url: str,
        rtt: float | None,
        errors: Errors,
        enveloped: bool,
        metrics: tuple[str, ...],
    ) -> Answer:
        spent, timed_by = server_time(self.response, self.first_byte, self.rtt or rtt, metrics)
        return Answer(
            method,
            url,
            self.response,
            self.finished - self.started,
            server_time=spent,
            timed_by=timed_by,
            errors=errors,
            enveloped=enveloped,
            queued=self.queued,
            in_burst=self.in_burst,
        )


class NotSent(NoAnswer):
    """A prefetched request the client dropped before sending: the target had stopped
    answering."""

    def __init__(self, message: str) -> None:
        super().__init__(message, timed_out=False)


class Overwhelmed(NoAnswer):
    """A request of the tier's burst that got no answer in time, and how many were in flight
    with it: to be asked again alone before it counts as a hang."""

    def __init__(self, message: str, company: int) -> None:
        super().__init__(message, timed_out=True)
        self.company = company


def is_platform_page(exchange: Exchange) -> bool:
    """A 5xx whose body is no JSON: the platform's error page, not the Worker's answer."""
    if exchange.response.status_code < 500:
        return False
    try:
        exchange.response.json()
    except ValueError:  # UnicodeDecodeError too
        return True
    return False
