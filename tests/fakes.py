"""Local servers that speak external services' documented wire formats.

Each is a real HTTP server on a free loopback port; tests switch its behaviour to each error
answer the real service gives.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class FakeD1Api:
    """``POST /client/v4/accounts/{account}/d1/database/{id}/query`` over a SQLite file.

    ``mode`` picks an answer: ok, bad-token, unknown-database, sql-error, rate-limited,
    server-error, malformed, hang.
    """

    TOKEN = "cf-test-token-0123456789"
    ACCOUNT = "acc123"

    def __init__(self, sqlite_path: Path, database_id: str) -> None:
        self.sqlite_path = sqlite_path
        self.database_id = database_id
        self.mode = "ok"
        self.statements: list[str] = []
        self.stop = threading.Event()
        fake = self

        class Handler(_Quiet):
            def do_POST(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/client/v4"

    def handle(self, request: _Quiet) -> None:
        body = json.loads(request.read_body() or b"{}")
        self.statements.append(str(body.get("sql")))
        mode = self.mode
        fail = {"success": False, "messages": [], "result": None}
        if mode == "hang":
            self.stop.wait()
            return
        if mode == "bad-token" or request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            request.send_json(
                401, {**fail, "errors": [{"code": 10000, "message": "Authentication error"}]}
            )
            return
        expected = f"/client/v4/accounts/{self.ACCOUNT}/d1/database/{self.database_id}/query"
        if mode == "unknown-database" or request.path != expected:
            request.send_json(
                404, {**fail, "errors": [{"code": 7404, "message": "database not found"}]}
            )
            return
        if mode == "rate-limited":
            request.send_json(
                429,
                {**fail, "errors": [{"code": 971, "message": "throttled"}]},
                {"Retry-After": "30"},
            )
            return
        if mode == "server-error":
            request.send_json(502, b"<html>bad gateway</html>")
            return
        if mode == "malformed":
            request.send_json(200, b"{not json")
            return
        try:
            db = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
            db.row_factory = sqlite3.Row
            started = time.perf_counter()
            rows = [dict(r) for r in db.execute(body["sql"], body.get("params", [])).fetchall()]
            duration = (time.perf_counter() - started) * 1000
            db.close()
        except sqlite3.Error as exc:
            request.send_json(
                400, {**fail, "errors": [{"code": 7500, "message": f"{exc}: SQLITE_ERROR"}]}
            )
            return
        meta = {
            "changed_db": False,
            "changes": 0,
            "duration": duration,
            "rows_read": len(rows),
            "rows_written": 0,
            "size_after": self.sqlite_path.stat().st_size,
            "served_by_region": "WEUR",
        }
        request.send_json(
            200,
            {
                "success": True,
                "errors": [],
                "messages": [],
                "result": [{"success": True, "results": rows, "meta": meta}],
            },
        )

    @contextmanager
    def running(self) -> Iterator[FakeD1Api]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self.server.shutdown()
            self.server.server_close()
