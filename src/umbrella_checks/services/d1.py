"""Read-only access to D1: a local SQLite file, or the Cloudflare D1 query API.

The API is spoken with httpx rather than the official ``cloudflare`` package: the suite already
uses httpx for every call (one timeout policy, one redaction path), the query endpoint is a
single POST, and the package's v5 rewrite of ``d1.database`` shows its surface still moves.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from umbrella_checks.config.suite import Http
from umbrella_checks.errors import fail
from umbrella_checks.secrets import Secret, scrub
from umbrella_checks.transport import NoAnswer, RequestCounter, could_not_check_reason, request_once

_READ_ONLY = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|ATTACH|DETACH|VACUUM|REINDEX|PRAGMA)\b",
    re.IGNORECASE,
)


class D1Error(Exception):
    """D1 could not be asked; the message says why in one line."""


def ensure_read_only(sql: str) -> None:
    """Only single SELECT statements are ever sent: the suite must not write to D1."""
    body = sql.strip().rstrip(";")
    if not _READ_ONLY.match(body) or ";" in body or _WRITES.search(body):
        raise D1Error(f"refused to send a statement that is not a single SELECT: {sql!r}")


@dataclass
class Result:
    rows: list[dict[str, Any]]
    # How long D1 itself took: meta.duration for the API; for a local file, the time SQLite
    # worked on the query.
    duration_ms: float
    size_bytes: int | None = None


class D1Backend(Protocol):
    description: str

    def query(self, sql: str, params: Sequence[str] = ()) -> Result: ...


class SqliteBackend:
    """A local D1 file (the sandbox's, or the one ``wrangler dev`` keeps), opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"local SQLite file {path}"

    def query(self, sql: str, params: Sequence[str] = ()) -> Result:
        ensure_read_only(sql)
        if not self.path.is_file():
            raise D1Error(
                "cannot open the database: the file does not exist (is the path right, and "
                "has `wrangler dev` or the sandbox created it?)"
            )
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as exc:  # an existing file that cannot be opened
            raise D1Error(f"cannot open the database: {exc}") from None
        try:
            db.row_factory = sqlite3.Row
            # This thread's CPU time, the local counterpart of D1's meta.duration (what the
            # database spent, without the network): a query slowed by its table or a missing
            # index shows; a busy machine that keeps this process off a core for a moment does
            # not (wall time read 259 ms on a tiny table then, against the 100 ms target).
            started = time.thread_time()
            rows = [dict(row) for row in db.execute(sql, tuple(params)).fetchall()]
            duration = (time.thread_time() - started) * 1000
            page = db.execute("PRAGMA page_count").fetchone()[0]
            size = page * db.execute("PRAGMA page_size").fetchone()[0]
        except sqlite3.Error as exc:
            raise D1Error(f"query failed: {exc}") from None
        finally:
            db.close()
        return Result(rows, duration, size)


@dataclass
class D1ApiBackend:
    """``POST /accounts/{account}/d1/database/{id}/query`` with a bearer token."""

    api_base: str
    account_id: str
    database_id: str
    token: Secret
    http: Http
    counter: RequestCounter
    description: str = field(init=False)

    def __post_init__(self) -> None:
        self.description = f"Cloudflare D1 API, database {self.database_id}"

    @property
    def url(self) -> str:
        return (
            f"{self.api_base.rstrip('/')}/accounts/{self.account_id}/d1/database/"
            f"{self.database_id}/query"
        )

    def query(self, sql: str, params: Sequence[str] = ()) -> Result:
        ensure_read_only(sql)
        try:
            response = request_once(
                self.http,
                "POST",
                self.url,
                what=f"the Cloudflare D1 API at {self.api_base}",
                counter=self.counter,
                headers={"Authorization": f"Bearer {self.token.reveal()}"},
                json={"sql": sql, "params": [str(p) for p in params]},
            )
        except NoAnswer as exc:
            raise D1Error(f"could not check: {exc}") from None
        return self._result(response)

    def _result(self, response: httpx.Response) -> Result:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        detail = f"code {first.get('code')}: {first.get('message')}" if first else ""
        if status == 404:
            raise D1Error(
                f"could not check: unknown D1 database {self.database_id} in account "
                f"{self.account_id} (HTTP 404, {detail}); check D1_DATABASE_ID or wrangler.toml"
            )
        if status != 400:  # 400 is D1 rejecting the SQL: reported with its detail below
            reason = could_not_check_reason(response, "the Cloudflare D1 API", self.token.source)
            if reason:
                raise D1Error(f"{reason} ({detail})" if detail else reason)
        if not isinstance(body, dict):
            raise D1Error(f"could not check: the D1 API answered HTTP {status} without JSON")
        if status >= 400 or not body.get("success"):
            raise D1Error(scrub(f"D1 rejected the query (HTTP {status}, {detail})"))
        try:
            first_result = body["result"][0]
            rows = list(first_result["results"])
            meta = first_result.get("meta", {})
        except (KeyError, IndexError, TypeError):
            raise D1Error("could not check: the D1 API answer has no result[0].results") from None
        duration = meta.get("duration") if isinstance(meta, dict) else None
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            # A missing number is never 0 ms: the latency check would pass on nothing.
            raise D1Error(
                f"could not check: the D1 API answer has no meta.duration (got {duration!r})"
            )
        return Result(rows, float(duration), meta.get("size_after"))


def read(backend: D1Backend, sql: str, params: Sequence[str] = ()) -> Result:
    """Run a read query for a check; a D1 problem fails it with one line naming the backend."""
    try:
        return backend.query(sql, params)
    except D1Error as exc:
        fail(f"{backend.description}: {exc}")


def is_missing_table(exc: D1Error) -> bool:
    return "no such table" in str(exc)
