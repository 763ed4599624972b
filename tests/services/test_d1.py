"""The D1 readers on their own: a real SQLite file opened read-only, and the Cloudflare D1 query
API answered over HTTP in its documented envelope (``success``, ``errors``, ``result[].meta``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from umbrella_checks.config.suite import Http
from umbrella_checks.secrets import Secret
from umbrella_checks.services.d1 import D1ApiBackend, D1Error, SqliteBackend, ensure_read_only
from umbrella_checks.transport import RequestCounter

TOKEN = "cf-d1-unit-token-5678"
QUERY = "/client/v4/accounts/acc/d1/database/db-9/query"
# Slow enough to time in milliseconds on any machine, and only reads.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
    "SELECT count(*) AS n FROM c"
)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1", id="select"),
        pytest.param("  select name from users;", id="lowercase-trailing-semicolon"),
        pytest.param("WITH x AS (SELECT 1) SELECT * FROM x", id="with"),
    ],
)
def test_a_single_select_is_allowed(sql: str) -> None:
    ensure_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE users SET name = 'x'", id="update"),
        pytest.param("SELECT 1; SELECT 2", id="two-statements"),
        pytest.param("SELECT * FROM users WHERE 1; DELETE FROM users", id="select-then-delete"),
        pytest.param("WITH x AS (SELECT 1) DELETE FROM users", id="with-delete"),
        pytest.param("EXPLAIN SELECT 1", id="not-a-select"),
    ],
)
def test_anything_else_is_refused(sql: str) -> None:
    with pytest.raises(D1Error, match="not a single SELECT"):
        ensure_read_only(sql)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "d1.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id TEXT, name TEXT)")
        db.execute("INSERT INTO users VALUES ('u1', 'Ada'), ('u2', 'Grace')")
    return path


def test_sqlite_rows_size_and_duration(database: Path) -> None:
    backend = SqliteBackend(database)
    result = backend.query("SELECT id, name FROM users WHERE id = ?", ["u2"])
    assert result.rows == [{"id": "u2", "name": "Grace"}]
    assert result.size_bytes == database.stat().st_size
    timed = backend.query(SLOW)
    assert timed.rows == [{"n": 200000}]
    assert 1 <= timed.duration_ms < 60_000


def test_sqlite_is_opened_read_only(database: Path) -> None:
    """Even a statement that got past the filter could not write: the file is opened ro."""
    backend = SqliteBackend(database)
    backend.query("SELECT 1")
    # The read left no journal or new file behind, and a write through the same URI fails.
    assert sorted(p.name for p in database.parent.iterdir()) == ["d1.sqlite"]
    with pytest.raises(D1Error, match="no such table"):
        backend.query("SELECT * FROM missing_table")


def test_a_missing_sqlite_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(D1Error, match="the file does not exist"):
        SqliteBackend(tmp_path / "absent.sqlite").query("SELECT 1")
    assert not (tmp_path / "absent.sqlite").exists()


def _api(httpserver: HTTPServer) -> D1ApiBackend:
    return D1ApiBackend(
        api_base=httpserver.url_for("/client/v4/"),
        account_id="acc",
        database_id="db-9",
        token=Secret("CLOUDFLARE_API_TOKEN", TOKEN),
        http=Http(),
        counter=RequestCounter(),
    )


def _answer(
    httpserver: HTTPServer, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    if isinstance(body, bytes):
        httpserver.expect_request(QUERY, method="POST").respond_with_data(
            body, status=status, headers=headers
        )
    else:
        httpserver.expect_request(QUERY, method="POST").respond_with_json(
            body, status=status, headers=headers
        )


def _ok(**meta: object) -> dict[str, object]:
    return {
        "success": True,
        "errors": [],
        "result": [{"results": [{"n": 3}], "meta": meta, "success": True}],
    }


def _error(code: int, message: str) -> dict[str, object]:
    return {"success": False, "errors": [{"code": code, "message": message}], "result": None}


def test_the_api_sends_the_query_with_the_token_and_reads_rows(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        QUERY,
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"sql": "SELECT count(*) AS n FROM users WHERE id = ?", "params": ["7"]},
    ).respond_with_json(_ok(duration=0.25, size_after=4096))
    result = _api(httpserver).query("SELECT count(*) AS n FROM users WHERE id = ?", ["7"])
    assert (result.rows, result.duration_ms, result.size_bytes) == ([{"n": 3}], 0.25, 4096)


def test_a_zero_duration_is_a_number(httpserver: HTTPServer) -> None:
    _answer(httpserver, 200, _ok(duration=0))
    assert _api(httpserver).query("SELECT 1").duration_ms == 0.0


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        pytest.param(
            404,
            _error(7404, "database not found"),
            "unknown D1 database db-9 in account acc (HTTP 404, code 7404: database not found)",
            id="unknown-database",
        ),
        pytest.param(
            401,
            _error(10000, "Authentication error"),
            "refused the token in CLOUDFLARE_API_TOKEN (HTTP 401); check it is valid and has "
            "read access (code 10000: Authentication error)",
            id="bad-token",
        ),
        pytest.param(
            403, b"forbidden", "refused the token in CLOUDFLARE_API_TOKEN (HTTP 403)", id="403"
        ),
        pytest.param(
            400,
            _error(7500, "no such table: users: SQLITE_ERROR"),
            "D1 rejected the query (HTTP 400, code 7500: no such table: users",
            id="sql-error",
        ),
        pytest.param(
            200,
            _error(7500, "statement too long"),
            "D1 rejected the query (HTTP 200, code 7500: statement too long)",
            id="200-without-success",
        ),
        pytest.param(
            400,
            {**_error(7500, "too many parameters"), "success": True},
            "D1 rejected the query (HTTP 400, code 7500: too many parameters)",
            id="400-claiming-success",
        ),
        pytest.param(
            400, b"<html>", "the D1 API answered HTTP 400 without JSON", id="400-without-json"
        ),
        pytest.param(200, b"{not json", "answered HTTP 200 without JSON", id="200-without-json"),
        pytest.param(200, ["a", "list"], "answered HTTP 200 without JSON", id="not-an-object"),
        pytest.param(502, b"<html>", "the Cloudflare D1 API failed (HTTP 502)", id="502"),
        pytest.param(
            200, {"success": True, "result": []}, "has no result[0].results", id="no-result"
        ),
        pytest.param(
            200, {"success": True, "result": [{}]}, "has no result[0].results", id="no-results"
        ),
        pytest.param(200, _ok(), "has no meta.duration (got None)", id="no-duration"),
        pytest.param(200, _ok(duration="3"), "has no meta.duration (got '3')", id="text"),
        pytest.param(200, _ok(duration=True), "has no meta.duration (got True)", id="bool"),
        pytest.param(
            200,
            {"success": True, "result": [{"results": [], "meta": "fast"}]},
            "has no meta.duration (got None)",
            id="meta-not-an-object",
        ),
    ],
)
def test_api_answers_that_cannot_be_used_are_one_line(
    httpserver: HTTPServer, status: int, body: Any, fragment: str
) -> None:
    _answer(httpserver, status, body)
    with pytest.raises(D1Error) as raised:
        _api(httpserver).query("SELECT 1")
    message = str(raised.value)
    assert fragment in message
    assert TOKEN not in message
    assert "\n" not in message


def test_a_rate_limit_names_the_wait(httpserver: HTTPServer) -> None:
    _answer(httpserver, 429, _error(971, "throttled"), {"Retry-After": "30"})
    with pytest.raises(D1Error, match=r"rate limiting \(HTTP 429, Retry-After: 30 s\)"):
        _api(httpserver).query("SELECT 1")


def test_a_refused_statement_is_never_sent(httpserver: HTTPServer) -> None:
    with pytest.raises(D1Error, match="not a single SELECT"):
        _api(httpserver).query("DELETE FROM users")
    assert httpserver.log == []
