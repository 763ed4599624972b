"""The ``sends`` marker and reading it: what each selected check declared it will send.

The planner and what it plans are domain code (``wiring/planning.py``); this is where pytest's
markers and items meet them.
"""

from __future__ import annotations

import pytest

from umbrella_checks.settings import Settings
from umbrella_checks.wiring.planning import Declare, Planner, TokenSource

MARKER = "sends"


def sends(declare: Declare, *, shared: bool = False) -> pytest.MarkDecorator:
    """Declare the requests a check (or, in ``pytestmark``, each check of a module) sends."""
    mark: pytest.MarkDecorator = getattr(pytest.mark, MARKER)(declare, shared=shared)
    return mark


def declared(items: list[pytest.Item], settings: Settings, token: TokenSource) -> Planner:
    """Every selected check's declared requests (destructive checks excluded)."""
    planner = Planner(token)
    for item in items:
        if item.get_closest_marker("destructive") is not None:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        for marker in item.iter_markers(MARKER):
            planner.owner = item.nodeid
            planner.shared = bool(marker.kwargs.get("shared", False))
            declare: Declare = marker.args[0]
            declare(planner, settings, params)
    return planner
