"""The one module a check imports from: ``from umbrella_checks.api import sends, fail, …``.

What a check author may use is what this module exports (``__all__``); everything else in the
package may move without breaking ``checks/`` (a self-test keeps ``checks/`` importing only
from here — Locust's and Schemathesis's habit). Grouped by what a check does:

- **declare what it sends**: ``sends``, ``Planner`` (``@sends(declare)``; docs/design.md);
- **judge and say why not**: ``fail``, ``judged``, ``cannot_judge``, ``not_applicable``,
  ``missing_input``, ``CouldNotCheck``; an ``Answer``'s own ``expect_*`` and ``fail``;
- **say what a pass saw**: ``saw(what, value, held_to)`` for a judgement the check makes
  itself (``expect_*``, ``judged`` and the latency judge record their own);
- **what fixtures hand it** (for annotations): ``Settings``, ``Answer``, ``ApiClient``,
  ``Secret``, ``Figures``, ``ReportNotes``, ``D1Backend``, ``GraphQL``, ``WranglerApp``,
  ``SentryAccess``, ``Row``, ``RequestCounter``;
- **helpers for checks that need more than a fixture**: ``settings_of``, ``matrix_rows``,
  ``credential``, ``require_destructive``, ``HEALTH_FAILING``;
- **the runbook's domain**: latency (``Latency``, ``Limits``, ``judge_latency``), Violet
  (``Usage``, ``Exhaustion``, ``exhaust``), D1 (``read``, ``D1Error``, ``is_missing_table``),
  analytics (``Invocations``, ``p95_bounds``), time (``TargetClock``, ``utc_text``,
  ``next_utc_midnight``, ``window_seen``), and the modules ``forgery``, ``tls``, ``sentry``,
  ``history``, ``cron``, ``migrations``.
"""

from __future__ import annotations

import pytest

from umbrella_checks import history
from umbrella_checks.access import SentryAccess
from umbrella_checks.config.matrix import Row
from umbrella_checks.config.suite import maintenance_probe
from umbrella_checks.config.wrangler import WranglerApp, WranglerError
from umbrella_checks.errors import (
    CouldNotCheck,
    cannot_judge,
    fail,
    judged,
    missing_input,
    not_applicable,
)
from umbrella_checks.evidence import saw
from umbrella_checks.moments import next_utc_midnight, utc_text, window_seen
from umbrella_checks.operations import cron, migrations
from umbrella_checks.secrets import Secret
from umbrella_checks.services import sentry, tls
from umbrella_checks.services.analytics import GraphQL, Invocations, p95_bounds
from umbrella_checks.services.clerk import jwt_expiry
from umbrella_checks.services.d1 import D1Backend, D1Error, is_missing_table, read
from umbrella_checks.settings import Settings
from umbrella_checks.target import forgery
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.client import ApiClient
from umbrella_checks.target.clock import TargetClock
from umbrella_checks.target.latency import Latency, Limits
from umbrella_checks.target.latency import judge as judge_latency
from umbrella_checks.target.violet import Exhaustion, Usage, exhaust
from umbrella_checks.transport import RequestCounter
from umbrella_checks.wiring.declared import sends
from umbrella_checks.wiring.fixtures.credentials import credential
from umbrella_checks.wiring.fixtures.evidence import Figures, ReportNotes
from umbrella_checks.wiring.fixtures.target import HEALTH_FAILING, matrix_rows, require_destructive
from umbrella_checks.wiring.planning import Planner
from umbrella_checks.wiring.runstate import run_of

__all__ = [
    "HEALTH_FAILING",
    "Answer",
    "ApiClient",
    "CouldNotCheck",
    "D1Backend",
    "D1Error",
    "Exhaustion",
    "Figures",
    "GraphQL",
    "Invocations",
    "Latency",
    "Limits",
    "Planner",
    "ReportNotes",
    "RequestCounter",
    "Row",
    "Secret",
    "SentryAccess",
    "Settings",
    "TargetClock",
    "Usage",
    "WranglerApp",
    "WranglerError",
    "cannot_judge",
    "credential",
    "cron",
    "exhaust",
    "fail",
    "forgery",
    "history",
    "is_missing_table",
    "judge_latency",
    "judged",
    "jwt_expiry",
    "maintenance_probe",
    "matrix_rows",
    "migrations",
    "missing_input",
    "next_utc_midnight",
    "not_applicable",
    "p95_bounds",
    "read",
    "require_destructive",
    "saw",
    "sends",
    "sentry",
    "settings_of",
    "tls",
    "utc_text",
    "window_seen",
]


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings where no fixture reaches (``pytest_generate_tests``)."""
    return run_of(config).settings
