"""What a fault switch is (``Fault``: its effect, the value it takes and how that is read) and
the readers of switch values: a slow route, a share of failures, a status code per route. The
registry of switches itself is ``faults.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Outgoing:
    """An answer the sandbox is about to send, which a fault may reshape in place: its status
    and headers (the body is fixed by then). The request's method and path say which."""

    method: str
    path: str
    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    """One switch: what its value looks like (None: a plain switch) and what it does.

    A fault that changes how answers look (a header, a status) says how in ``reshape`` — the
    server applies it to every answer, so such a fault lives here whole; faults that change
    what the service does (a delay, a crash, a wrong count) are honoured by the server."""

    value: str | None
    effect: str
    # Turns the text after ``=`` into what the server reads (``Faults.values_of``).
    parse: Callable[[str], Any] | None = None
    # (the answer about to go out, the switch's value or None) -> None: reshape it in place.
    reshape: Callable[[Outgoing, Any], None] | None = None

    def usage(self, name: str) -> str:
        return f"{name}={self.value}" if self.value else name


class FaultError(ValueError):
    """An unknown or malformed fault switch, phrased for the user."""


@dataclass(frozen=True)
class Delay:
    route: str
    # (cumulative probability upper bound in 0..1, delay seconds), checked in order.
    steps: tuple[tuple[float, float], ...]


def parse_slow(value: str) -> Delay:
    route, sep, spec = value.rpartition(":")
    if not sep or not route:
        raise FaultError(f"slow={value}: expected slow=ROUTE:MS, e.g. slow=/v1/artists:800")
    explicit: list[tuple[float, float]] = []
    base: float | None = None
    for part in spec.split(","):
        ms, at, pct = part.partition("@")
        try:
            seconds = float(ms) / 1000
            share = float(pct) / 100 if at else None
        except ValueError:
            raise FaultError(f"slow={value}: {part!r} is not MS or MS@PCT") from None
        if share is None:
            base = seconds
        else:
            explicit.append((share, seconds))
    steps: list[tuple[float, float]] = []
    bound = 0.0
    for share, seconds in explicit:
        bound += share
        steps.append((bound, seconds))
    if bound > 1:
        raise FaultError(f"slow={value}: the percentages add up to more than 100")
    rest = base if base is not None else 0.0  # no base: the other answers are not delayed
    steps.append((1.0 + 1e-9, rest))
    return Delay(route, tuple(steps))


def parse_5xx(value: str) -> tuple[str, float]:
    route, sep, pct = value.partition(":")
    if not route:
        raise FaultError("route-5xx needs a route, e.g. route-5xx=/v1/gigs or route-5xx=*:5")
    try:
        share = float(pct) / 100 if sep else 1.0
    except ValueError:
        raise FaultError(f"route-5xx={value}: {pct!r} is not a percentage") from None
    return route, share


def parse_limit(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise FaultError(f"{value!r}: give a whole number of at least 1, e.g. 100")
    return int(value)


def route_value(value: str) -> str:
    return value


def without_max_age(answer: Outgoing, _: object) -> None:
    if answer.method == "OPTIONS":
        answer.headers.pop("Access-Control-Max-Age", None)


def preflight_200(answer: Outgoing, _: object) -> None:
    if answer.method == "OPTIONS" and answer.status == 204:
        answer.status = 200


def credentials_on_preflights(answer: Outgoing, _: object) -> None:
    if answer.method == "OPTIONS":
        answer.headers["Access-Control-Allow-Credentials"] = "true"


def seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise FaultError(f"{value!r} is not a number of seconds, e.g. 120 or -60") from None


def milliseconds(value: str) -> float:
    try:
        seconds = float(value) / 1000
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise FaultError(f"{value!r} is not a number of milliseconds, e.g. 200")
    return seconds


def route_code(value: str) -> tuple[str, str]:
    route, sep, code = value.partition(":")
    if not route or not sep or not code:
        raise FaultError(
            f"error-code={value}: expected ROUTE:CODE, e.g. error-code=/v1/profile:UNAUTHORIZED"
        )
    return route, code


def route_ms(value: str) -> tuple[str, float]:
    route, sep, ms = value.rpartition(":")
    try:
        seconds = float(ms) / 1000
    except ValueError:
        seconds = -1.0
    if not sep or not route or seconds < 0:
        raise FaultError(f"{value}: expected ROUTE:MS, e.g. /v1/health:80")
    return route, seconds
