"""Small rules of the suite's configuration, pinned one by one: a budget's milliseconds, the
placeholders a route may use, and the endpoints the suite measures."""

from __future__ import annotations

from umbrella_checks.config.suite import Budgets, Routes


def test_an_endpoint_budget_is_given_in_milliseconds() -> None:
    assert Budgets().for_endpoint("/v1/gigs") == 400
    assert Budgets().for_endpoint("/v1/artists/artist_1") == 300


def test_the_placeholders_are_the_routes_values_not_the_critical_paths() -> None:
    placeholders = Routes().placeholders()
    assert "artist_id" in placeholders
    assert "list_limit" in placeholders
    assert "critical" not in placeholders


def test_measured_endpoints_are_paths_without_their_query() -> None:
    assert Routes().measured_endpoints("/v1/health") == [
        "/v1/artists",
        "/v1/artists/artist_1",
        "/v1/auth/session",
        "/v1/gigs",
        "/v1/health",
        "/v1/profile",
    ]
