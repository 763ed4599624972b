"""Runbook › Appendix › Common HTTP Status Codes, as a matrix over every route of the contract.

Each row of ``status_matrix.toml`` is one request and one expected status. On every row: never
a 5xx, error bodies are JSON envelopes with a code, and no stack trace, file path or SQL leaks.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from umbrella_checks.api import ApiClient, Planner, Row, Secret, Settings, matrix_rows, sends

pytestmark = [pytest.mark.postdeploy, pytest.mark.severity("SEV-2")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "row" in metafunc.fixturenames:
        metafunc.parametrize(
            "row",
            [
                pytest.param(
                    row,
                    id=row.id,
                    marks=[
                        pytest.mark.severity(row.sev),
                        *[pytest.mark.destructive] * row.destructive,
                    ],
                )
                for row in matrix_rows(metafunc.config)
            ],
        )


def _unknown_id(row: Row, settings: Settings) -> str | None:
    """A 404 on a route built from an id of [routes]: on a first run, most likely an id this
    environment's data does not have (ids differ per seed) — say which key to set."""
    names = [name for name in re.findall(r"\{(\w+)\}", row.path) if name.endswith("_id")]
    if not names:
        return None
    routes, env = settings.config.routes, settings.environment
    given = ", ".join(f"{{{name}}} = {getattr(routes, name)!r}" for name in names)
    keys = " and ".join(names)
    return (
        f"{given} may not exist in this environment's data: set [env.{env}.routes] {keys} to "
        "an id that does"
    )


def _headers(row: Row) -> dict[str, str] | None:
    return {"Content-Type": "application/json"} if row.body is not None else None


def _json(row: Row, settings: Settings) -> dict[str, Any] | None:
    return settings.config.violet.prompt(row.prompt) if row.prompt else row.json_body


def _the_rows_request(planner: Planner, settings: Settings, params: Mapping[str, Any]) -> None:
    row: Row = params["row"]
    planner.add(
        row.method,
        settings.config.routes.fill(row.path),
        who=row.who,
        headers=_headers(row),
        json=_json(row, settings),
        content=row.body,
    )


@sends(_the_rows_request)
def test_route_answers_its_status(
    row: Row,
    api: ApiClient,
    settings: Settings,
    token_for: Callable[[str], Secret | None],
) -> None:
    """The status a client gets decides what it shows the user; a wrong one is a broken app."""
    answer = api.request(
        row.method,
        settings.config.routes.fill(row.path),
        token=token_for(row.who),
        headers=_headers(row),
        content=row.body,
        json=_json(row, settings),
    )
    if answer.status >= 500:
        answer.route_failed(
            f"{' or '.join(map(str, row.statuses))} (never a 5xx)",
            "the Worker crashed on this route; check Sentry and `wrangler tail`",
        )
    answer.expect_no_internals()
    if answer.status == 404 and 404 not in row.statuses:
        answer.expect_status(*row.statuses, hint=_unknown_id(row, settings))
    answer.expect_status(*row.statuses)
    body = answer.expect_envelope()
    if row.code:
        answer.expect_error_code(row.code)
    elif answer.status >= 400 and body["success"] is not False:
        answer.fail('"success": false on an error status', "success true")
