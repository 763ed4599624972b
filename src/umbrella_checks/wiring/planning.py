"""Declared requests: what a check will send, said once, beside the check.

A check (or its module, through ``pytestmark``) carries ``@sends(declare)``
(``wiring/declared.py``); ``declare(planner, settings, params)`` adds the requests the check
will make (``planner.add``), from the settings and the check's parameters. When collection
ends, the plugin reads every selected check's declarations and hands them to the target's
client, which sends them together; each answer is
bound to the check(s) that declared it and is handed to no other (``client.py``).

A declaration marked ``shared`` (one answer several checks read, such as the health answer a
session fixture fetches) is one request owned by all of them. A request nobody declared is sent
when asked — and, since it may have changed the target, it and every destructive check's request
drop what is still prefetched. Destructive checks declare nothing: their order matters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from umbrella_checks.config.suite import DocumentedLimit
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import Settings
from umbrella_checks.target.exchange import Planned


class Unplannable(Exception):
    """The request cannot be known in advance (no credential yet): it is sent when asked."""


# who ("anonymous", "user", "invalid-token"…) -> the credential to send, or Unplannable
TokenSource = Callable[[str], Secret | None]

# (planner, settings, the check's parameters) -> None; adds requests with planner.add
Declare = Callable[["Planner", Settings, Mapping[str, Any]], None]


class Planner:
    """Collects declared requests, each bound to the check(s) that declared it."""

    def __init__(self, token: TokenSource) -> None:
        self._token = token
        self.owner = ""
        self.shared = False
        # request -> owners, once per time it is sent; timed requests apart (see ``requests``)
        self._untimed: list[tuple[Planned, set[str]]] = []
        self._timed: list[tuple[Planned, set[str]]] = []
        self._shared: dict[Planned, set[str]] = {}

    @property
    def untimed(self) -> list[tuple[Planned, set[str]]]:
        """The requests whose answers are judged, not their time."""
        return list(self._untimed)

    @property
    def timed(self) -> list[tuple[Planned, set[str]]]:
        """The requests whose time is judged (latency samples)."""
        return list(self._timed)

    @property
    def requests(self) -> list[tuple[Planned, set[str]]]:
        """Every declared request, the timed ones (latency samples) last: by the time they
        leave, the client's pacing has learned what the target handles at once, so they do not
        queue at the target behind the run's own burst."""
        return [*self._untimed, *self._timed]

    def add(
        self,
        method: str,
        path: str,
        *,
        who: str = "anonymous",
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        times: int = 1,
        timed: bool = False,
    ) -> None:
        """Declare a request the check sends (``times`` times); ``timed`` when its answer's
        time is judged (a latency sample)."""
        try:
            token = self._token(who)
        except Unplannable:
            return
        planned = Planned.of(method, path, token, headers, json, content)
        if self.shared and planned in self._shared:
            self._shared[planned].add(self.owner)
            return
        for _ in range(times):
            owners = {self.owner}
            (self._timed if timed else self._untimed).append((planned, owners))
            if self.shared:
                self._shared[planned] = owners


def over_documented_limits(
    requests: list[tuple[Planned, set[str]]], limits: Mapping[str, DocumentedLimit]
) -> list[str]:
    """The documented rate limits a tier's own planned requests would trip from one runner:
    "per ip" counts every request to the limit's routes, "per user" those with one credential.
    A gate that trips a limit fails on its own 429s — on a service that is fine."""
    problems = []
    for name, documented in limits.items():
        counts: Counter[str] = Counter()
        for planned, _ in requests:
            path = planned.path.split("?", 1)[0]
            if not any(
                path == route or path.startswith(route.rstrip("/") + "/")
                for route in documented.routes
            ):
                continue
            who = dict(planned.headers).get("Authorization", "anonymous")
            counts["this runner" if documented.per == "ip" else who] += 1
        worst = max(counts.values(), default=0)
        if worst > documented.limit:
            problems.append(
                f"[security.rate_limits.{name}] allows {documented.limit} requests per "
                f"{documented.window:g} s per {documented.per} on {', '.join(documented.routes)}; "
                f"the selected checks plan {worst} of them from this runner"
            )
    return problems
