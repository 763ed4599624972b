"""Cloudflare's GraphQL Analytics answers read one at a time (pytest-httpserver answering in
the API's shape: ``{"data": {"viewer": ...}}``): sums, peaks and groupings as the checks use
them, and a missing number never read as zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes import answering_graphql
from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.secrets import Secret
from umbrella_checks.services.analytics import (
    AuthFailures,
    GraphQL,
    P95Bounds,
    p95_bounds,
    quantile_of,
)
from umbrella_checks.transport import RequestCounter

END = datetime(2026, 11, 29, tzinfo=UTC)
START = END - timedelta(days=1)


def test_r2_storage_is_payload_and_metadata(httpserver: HTTPServer) -> None:
    api = answering_graphql(
        httpserver,
        {
            "viewer": {
                "accounts": [
                    {"r2StorageAdaptiveGroups": [{"max": {"payloadSize": 700, "metadataSize": 30}}]}
                ]
            }
        },
    )
    assert api.r2_bytes("umbrella-media", START, END) == 730


def test_r2_storage_without_metadata_is_the_payload(httpserver: HTTPServer) -> None:
    api = answering_graphql(
        httpserver,
        {"viewer": {"accounts": [{"r2StorageAdaptiveGroups": [{"max": {"payloadSize": 700}}]}]}},
    )
    assert api.r2_bytes("umbrella-media", START, END) == 700


def test_invocations_keep_each_quantiles_worst_group_and_a_null(httpserver: HTTPServer) -> None:
    groups = [
        {
            "sum": {"requests": 10, "errors": 1},
            "quantiles": {"wallTimeP95": 0.5, "wallTimeP99": None},
        },
        {"sum": {"requests": 5, "errors": 0}, "quantiles": {"wallTimeP95": 0.25}},
    ]
    api = answering_graphql(
        httpserver, {"viewer": {"accounts": [{"workersInvocationsAdaptive": groups}]}}
    )
    found = api.invocations("umbrella-api", START, END, ["wallTimeP95", "wallTimeP99"])
    assert (found.requests, found.errors) == (15, 1)
    assert found.quantiles == {"wallTimeP95": 0.5, "wallTimeP99": None}


def _auth(httpserver: HTTPServer, zone: dict[str, Any]) -> AuthFailures:
    api = answering_graphql(httpserver, {"viewer": {"zones": [zone]}})
    return api.auth_failures("zone-1", START, END)


def test_auth_failures_are_summed_by_country_and_path(httpserver: HTTPServer) -> None:
    found = _auth(
        httpserver,
        {
            "total": [{"count": 900}, {"count": 100}],
            "refused": [
                {
                    "count": 30,
                    "dimensions": {"clientCountryName": "NL", "clientRequestPath": "/v1/a"},
                },
                {
                    "count": 20,
                    "dimensions": {"clientCountryName": "NL", "clientRequestPath": "/v1/b"},
                },
                {"count": 5, "dimensions": {}},
            ],
        },
    )
    assert (found.requests, found.refused) == (1000, 55)
    assert found.by_country == {"NL": 50, "unknown": 5}
    assert found.by_path == {"/v1/a": 30, "/v1/b": 20, "unknown": 5}
    assert found.rate == 0.055


def test_no_requests_is_no_failure_rate(httpserver: HTTPServer) -> None:
    found = _auth(httpserver, {"total": [], "refused": []})
    assert found.rate == 0.0


def test_an_answer_without_the_zone_is_could_not_check(httpserver: HTTPServer) -> None:
    api = answering_graphql(httpserver, {"viewer": {"zones": []}})
    with pytest.raises(CouldNotCheck, match="no HTTP analytics for zone zone-1"):
        api.auth_failures("zone-1", START, END)


@pytest.mark.parametrize(
    ("fields", "lower", "upper"),
    [
        pytest.param(
            ["wallTimeP90", "wallTimeP95", "wallTimeP99"],
            ("wallTimeP95", 95.0),
            ("wallTimeP95", 95.0),
            id="the-p95-itself",
        ),
        pytest.param(
            ["wallTimeP90", "wallTimeP99"],
            ("wallTimeP90", 90.0),
            ("wallTimeP99", 99.0),
            id="around",
        ),
        pytest.param(["wallTimeP99"], None, ("wallTimeP99", 99.0), id="only-above"),
    ],
)
def test_the_p95_is_bounded_by_the_nearest_quantiles(
    fields: list[str], lower: tuple[str, float] | None, upper: tuple[str, float] | None
) -> None:
    quantiles: dict[str, float | None] = {
        "wallTimeP90": 90_000.0,
        "wallTimeP95": 95_000.0,
        "wallTimeP99": 99_000.0,
    }
    bounds = p95_bounds(quantiles, fields)
    assert (bounds.lower, bounds.upper) == (lower, upper)


def test_an_unreachable_api_is_could_not_check() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = GraphQL(
        f"http://127.0.0.1:{port}/client/v4",
        "acc",
        Secret("CLOUDFLARE_API_TOKEN", "cf-graphql-token-0123"),
        Http(),
        RequestCounter(),
    )
    with pytest.raises(CouldNotCheck, match="Cloudflare GraphQL API"):
        api.quantile_fields()


# ----------------------------------------------------------------------
# Reading quantile names and bounds at their edges, and answers that lack what a query asked
# for: each a one-line "could not check", never a crash or a zero.
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
