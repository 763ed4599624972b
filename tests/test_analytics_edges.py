"""Reading quantile names and bounds at their edges, and answers that lack what a query asked
for: each a one-line "could not check", never a crash or a zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes import answering_graphql
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.services.analytics import P95Bounds, p95_bounds, quantile_of

END = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "quantile"),
    [
        pytest.param("wallTimeP999", 99.9, id="p999-is-99.9"),
        pytest.param("wallTimeP95", 95.0, id="p95"),
        pytest.param("wallTimeP5", 5.0, id="one-digit"),
        pytest.param("cpuTime", None, id="no-quantile"),
    ],
)
def test_a_quantile_is_read_from_its_name(name: str, quantile: float | None) -> None:
    assert quantile_of(name) == quantile


@pytest.mark.parametrize(
    ("bounds", "verdict"),
    [
        pytest.param(P95Bounds(("wallTimeP90", 500.0), None), False, id="lower-at-budget-over"),
        pytest.param(P95Bounds(None, ("wallTimeP99", 500.0)), None, id="upper-at-budget-unproven"),
        pytest.param(P95Bounds(None, ("wallTimeP99", 499.9)), True, id="upper-under-budget"),
    ],
)
def test_a_bound_at_the_budget_proves_no_pass(bounds: P95Bounds, verdict: bool | None) -> None:
    assert bounds.verdict(500.0) is verdict


def test_a_quantile_above_95_bounds_from_above_only() -> None:
    bounds = p95_bounds({"wallTimeP96": 600_000.0}, ["wallTimeP96"])
    assert (bounds.lower, bounds.upper) == (None, ("wallTimeP96", 600.0))


@pytest.mark.parametrize(
    ("bounds", "described"),
    [
        pytest.param(
            P95Bounds(("wallTimeP90", 500.2), None), "wallTimeP90 500.2 ms", id="a-tenth-shown"
        ),
        pytest.param(P95Bounds(("wallTimeP90", 500.0), None), "wallTimeP90 500 ms", id="whole"),
        pytest.param(
            P95Bounds(("wallTimeP90", 412.26), ("wallTimeP99", 512.0)),
            "wallTimeP90 412.3 ms, wallTimeP99 512 ms",
            id="both-bounds",
        ),
        pytest.param(P95Bounds(None, None), "no wall-time quantile", id="none"),
    ],
)
def test_a_bound_over_the_budget_never_reads_as_the_budget(
    bounds: P95Bounds, described: str
) -> None:
    # A P90 of 500.2 ms fails a 500 ms budget: "got 500 ms" would read as a pass.
    assert bounds.describe() == described


@pytest.mark.parametrize(
    "viewer",
    [
        pytest.param({}, id="no-accounts-key"),
        pytest.param({"accounts": []}, id="no-account"),
        pytest.param({"accounts": None}, id="accounts-null"),
    ],
)
def test_an_answer_without_the_account_is_could_not_check(
    httpserver: HTTPServer, viewer: dict[str, Any]
) -> None:
    api = answering_graphql(httpserver, {"viewer": viewer})
    with pytest.raises(CouldNotCheck, match="no analytics for account acc"):
        api.r2_bytes("umbrella-media", END - timedelta(days=1), END)


def test_r2_storage_without_a_payload_is_the_metadata(httpserver: HTTPServer) -> None:
    groups = [{"max": {"payloadSize": None, "metadataSize": 30}}]
    api = answering_graphql(
        httpserver, {"viewer": {"accounts": [{"r2StorageAdaptiveGroups": groups}]}}
    )
    assert api.r2_bytes("umbrella-media", END - timedelta(days=1), END) == 30


def test_counts_the_api_left_out_are_zero_not_one(httpserver: HTTPServer) -> None:
    zone = {"total": [{"count": None}], "refused": [{"dimensions": {}}]}
    api = answering_graphql(httpserver, {"viewer": {"zones": [zone]}})
    found = api.auth_failures("zone-1", END - timedelta(days=7), END)
    assert (found.requests, found.refused, found.rate) == (0, 0, 0.0)
