"""How a failed run's failures become incident lines: grouping, listing, severity, width.

Pure functions over typed failures: the incident draft, the Slack alert and the run's closing
line all read these, so each rule is pinned here once."""

from __future__ import annotations

import pytest

from umbrella_checks.operations.incident import Failure, Group, grouped, severity


def _on(route: str | None, expected: str | None = "no stack trace in the body") -> Failure:
    return Failure(f"checks/t.py::test_{route}", "failed", route=route, expected=expected)


@pytest.mark.parametrize(
    ("routes", "listed", "more"),
    [
        pytest.param(5, 5, "", id="five-routes-all-listed"),
        pytest.param(6, 5, " and 1 more", id="six-routes-five-listed-and-1-more"),
    ],
)
def test_a_group_lists_five_routes_and_counts_the_rest(routes: int, listed: int, more: str) -> None:
    members = tuple(_on(f"/v1/r{n}") for n in range(routes))
    line = Group(
        members, "no stack trace in the body", tuple(m.route or "" for m in members)
    ).line()
    assert line.startswith(f"one problem on {routes} routes, {routes} checks: expected no stack")
    assert line.count("/v1/r") == listed
    assert line.endswith(f"/v1/r4{more}")


def test_a_long_message_is_cut_to_300_characters_at_a_word() -> None:
    line = Group((Failure("checks/t.py::test_x", "ab " * 200),)).line()
    name, message = line.split(" — ", 1)
    assert name == "test_x"
    assert len(message) <= 300
    assert message.endswith("ab …")


def test_a_failure_with_no_route_never_joins_a_route_group() -> None:
    first, second, routeless = _on("/v1/a"), _on("/v1/b"), _on(None)
    groups = grouped([first, second, routeless])
    assert [g.failures for g in groups] == [(first, second), (routeless,)]
    assert groups[0].routes == ("/v1/a", "/v1/b")


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        pytest.param([], "SEV-3", id="none-is-sev-3"),
        pytest.param(["SEV-9"], "SEV-3", id="unknown-is-sev-3"),
        pytest.param(["SEV-3", "SEV-1", "SEV-2"], "SEV-1", id="most-severe-wins"),
    ],
)
def test_the_incident_takes_the_most_severe_declared_level(
    levels: list[str], expected: str
) -> None:
    failures = [Failure(f"t.py::test_{n}", "x", severity=level) for n, level in enumerate(levels)]
    assert severity(failures) == expected
