"""How long the service itself took to answer: its own ``Server-Timing`` (a metric that times
the whole answer), else the time to first byte less one network round trip — never a metric
that times a part. No pytest here.
"""

from __future__ import annotations

import contextlib

import httpx

# How an answer's service time was measured, for the figures and the failure message.
BY_BYTES = "time to first byte less a round trip"


def server_timing(header: str) -> dict[str, float]:
    """``Server-Timing`` as metric name -> seconds (metrics without ``dur`` left out; the first
    of a repeated name counts). Grammar: ``name;dur=12.5;desc="x", other;dur=3``."""
    metrics: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur" and name and name not in metrics:
                # A malformed dur is no figure: the answer is then timed by its bytes.
                with contextlib.suppress(ValueError):
                    metrics[name] = float(value.strip().strip('"')) / 1000
    return metrics


def server_time(
    response: httpx.Response, ttfb: float, rtt: float | None, metrics: tuple[str, ...]
) -> tuple[float, str]:
    """The service's own time for an answer, and how it was measured: the first of
    ``metrics`` its ``Server-Timing`` reports (a metric that times the whole answer), else
    time to first byte less one network round trip. A metric that times a part (``db``) is
    never taken for the whole: a Worker timing only its query would pass any budget."""
    reported = server_timing(response.headers.get("Server-Timing", ""))
    for name in metrics:
        if name in reported:
            return reported[name], f"Server-Timing {name}"
    return max(ttfb - (rtt or 0.0), 0.0), BY_BYTES
