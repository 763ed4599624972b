"""A tier's requests, planned before the first check runs, so they go out together.

A check module may define ``plan(items, planner, settings)``: given its selected checks, it adds
the requests they will send (``planner.add``). The plugin gathers every module's plan when
collection ends and hands it to the target's client, which sends them concurrently; each check
then takes its answers as it asks, in its own phase, judged and counted as if sent right then.
A request nobody planned is simply sent when asked. Destructive checks plan nothing: their
order matters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from umbrella_checks.client import Planned
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import Settings


class Unplannable(Exception):
    """The request cannot be known in advance (no credential yet): it is sent when asked."""


# who ("anonymous", "user", "invalid-token"…) -> the credential to send, or Unplannable
TokenSource = Callable[[str], Secret | None]


class Planner:
    def __init__(self, token: TokenSource) -> None:
        self._token = token
        self.requests: list[Planned] = []

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
    ) -> None:
        try:
            token = self._token(who)
        except Unplannable:
            return
        self.requests += [Planned.of(method, path, token, headers, json, content)] * times


def plan_session(items: list[pytest.Item], settings: Settings, token: TokenSource) -> list[Planned]:
    """Every selected module's planned requests (destructive checks excluded)."""
    planner = Planner(token)
    by_module: dict[Any, list[pytest.Item]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is None or item.get_closest_marker("destructive") is not None:
            continue
        by_module.setdefault(module, []).append(item)
    for module, selected in by_module.items():
        plan = getattr(module, "plan", None)
        if callable(plan):
            plan(selected, planner, settings)
    return planner.requests
