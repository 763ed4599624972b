"""Release gate: the critical read paths under load; P95 < 500 ms per budget, < 1% errors.

Run it with ``tox -e perf``, ``python -m umbrella_checks perf [--umbrella-sandbox]`` or plain
``locust`` in the checkout (``[tool.locust]`` in pyproject.toml names this file, bounds the run
and names its HTML report; the target is ``--host`` or ``API_URL``). The verdict is judged once,
on the master (or the only process), when Locust quits, and written beside the report; a broken
budget exits 1, a run that could not start (no target, a refused or unreachable one) exits 4.
Every way applies the same rule: no load unless the target reports a non-production
environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events
from locust.runners import WorkerRunner

from umbrella_checks.access import clerk_access, clerk_client
from umbrella_checks.commands.perf import (
    TOKEN_FILE_ENV,
    EndpointStats,
    judge,
    limit_warnings,
    load_suite_config,
    load_test_refused,
    reported_environment,
    static_user_token,
)
from umbrella_checks.services.clerk import TokenStore

CONFIG, ENVIRONMENT = load_suite_config(os.environ)
STATIC_TOKEN = static_user_token(os.environ)
# Minted by `python -m umbrella_checks perf` once per load test, re-minted near expiry.
_clerk = clerk_access(os.environ, {"user": None})
STORE = (
    TokenStore.open(
        Path(os.environ[TOKEN_FILE_ENV]),
        clerk_client(_clerk, CONFIG),
        CONFIG.clerk.refresh_margin,
    )
    if _clerk is not None and os.environ.get(TOKEN_FILE_ENV)
    else None
)
TOKEN = STATIC_TOKEN or (STORE and "minted")
ROUTES = CONFIG.routes


def _refuse_production(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master decides; workers only follow it
    host = environment.host or CriticalPaths.host or ""
    if not host:
        print("perf: no target: pass --host URL or set API_URL", file=sys.stderr, flush=True)
        sys.exit(4)
    reported = reported_environment(host, CONFIG)  # one GET of the health route, no load
    reason = load_test_refused(host, ENVIRONMENT, CONFIG, reported)
    if reason:
        print(f"perf: {reason}", file=sys.stderr, flush=True)
        sys.exit(4)  # before any user is spawned: no load is sent (4: could not run)
    for warning in limit_warnings(int(environment.parsed_options.num_users or 1), CONFIG):
        print(warning, flush=True)
    if TOKEN is None:
        print(
            "perf: UMBRELLA_USER_TOKEN is not set: the signed-in tasks (discovery, gigs, "
            "profile) are left out of the mix",
            flush=True,
        )


class CriticalPaths(FastHttpUser):
    """Browsing the marketplace: profiles, discovery, gigs; the signed-in ones with a token."""

    wait_time = between(CONFIG.perf.think_time_min, CONFIG.perf.think_time_max)
    # The target when --host is not given: API_URL, as for the pytest tiers.
    host = os.environ.get("API_URL", "").strip() or None

    def _signed_in(self) -> dict[str, str]:
        token = STATIC_TOKEN or (STORE.current("user") if STORE else "")
        return {"Authorization": f"Bearer {token}"}

    def _get(self, path: str, name: str, signed_in: bool = False) -> None:
        headers = self._signed_in() if signed_in else None
        self.client.get(ROUTES.fill(path), name=name, headers=headers)

    def health(self) -> None:
        self._get(CONFIG.health.path, CONFIG.health.path)

    def artist_profile(self) -> None:
        # One name for every artist page: they share one budget.
        self._get(ROUTES.artist, ROUTES.artist.replace("{artist_id}", ":id"))

    def discovery(self) -> None:
        route = ROUTES.critical["artists"]
        self._get(route.path, route.path.split("?")[0], signed_in=True)

    def gigs(self) -> None:
        route = ROUTES.critical["gigs"]
        self._get(route.path, route.path.split("?")[0], signed_in=True)

    def profile(self) -> None:
        self._get(ROUTES.profile, ROUTES.profile, signed_in=True)

    weights = CONFIG.perf.weights
    tasks = {  # type: ignore[assignment]  # noqa: RUF012 — Locust accepts {task: weight}
        task: weight
        for task, weight in {
            health: weights.health,
            artist_profile: weights.artist_profile,
            discovery: weights.discovery if TOKEN else 0,
            gigs: weights.gigs if TOKEN else 0,
            profile: weights.profile if TOKEN else 0,
        }.items()
        if weight > 0
    }


def _stats(entry: Any, name: str) -> EndpointStats:
    return EndpointStats(
        name,
        entry.num_requests,
        entry.num_failures,
        entry.get_response_time_percentile(0.5),
        entry.get_response_time_percentile(0.95),
        entry.get_response_time_percentile(0.99),
    )


def _verdict(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # judged on the master's aggregated stats
    stats = environment.stats
    endpoints = [
        _stats(entry, entry.name)
        for entry in sorted(stats.entries.values(), key=lambda e: e.name)
        if entry.num_requests
    ]
    passed, table = judge(
        endpoints, _stats(stats.total, "overall"), CONFIG.budgets, CONFIG.perf.fail_unjudged
    )
    print(table, flush=True)
    # The perf command names it after the run; a plain `locust` leaves it beside the report
    # [tool.locust] names (reports/perf-latest.html).
    target = Path(os.environ.get("UMBRELLA_PERF_VERDICT") or "reports/perf-latest-verdict.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(table + "\n", encoding="utf-8")
    environment.process_exit_code = 0 if passed else 1


events.init.add_listener(_refuse_production)
events.quitting.add_listener(_verdict)
