"""Fresh Clerk session tokens for the test accounts, minted once per run.

Clerk session tokens live 60 s, so a token pasted into a CI secret is dead by the nightly run.
With ``CLERK_SECRET_KEY`` and an account's Clerk user id (``UMBRELLA_USER_ID`` …) the controller
creates one session per account through the Backend API, keeps the current token of each in a
private file every process reads (xdist workers, Locust users), re-mints a token from the same
session when it nears expiry, and revokes the sessions when the run ends.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from umbrella_checks.config import Http
from umbrella_checks.secrets import Secret, scrub
from umbrella_checks.transport import NoAnswer, request_once

CLERK_API = "https://api.clerk.com/v1"
ID_VARS = {"user": "UMBRELLA_USER_ID", "admin": "UMBRELLA_ADMIN_ID", "limit": "UMBRELLA_LIMIT_ID"}
HOW_TO_GET_ONE = (
    "use a long-lived token from a Clerk JWT template, or set CLERK_SECRET_KEY and the "
    "account's Clerk user id (UMBRELLA_USER_ID, UMBRELLA_ADMIN_ID, UMBRELLA_LIMIT_ID) so the "
    "suite mints one per run"
)


class ClerkError(Exception):
    """Clerk would not give a token; one line naming the account and the cause."""


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified: only to warn before the service says 401)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


@dataclass
class Minted:
    account: str
    session_id: str
    jwt: str = field(repr=False)
    expires: float = 0.0


class Clerk:
    """The few Backend API calls the suite needs: sessions, tokens, revocation."""

    def __init__(self, secret: Secret, api_base: str, http: Http, template: str | None) -> None:
        self.secret = secret
        self.api_base = api_base.rstrip("/")
        self.http = http
        self.template = template

    def _post(self, path: str, account: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        where = f"Clerk ({account} account)"
        try:
            response = request_once(
                self.http,
                "POST",
                f"{self.api_base}{path}",
                what=where,
                headers={"Authorization": f"Bearer {self.secret.reveal()}"},
                json=body or {},
            )
        except NoAnswer as exc:
            raise ClerkError(str(exc)) from None
        if response.status_code < 300:
            try:
                data = response.json()
            except ValueError:
                raise ClerkError(f"{where}: answer is not JSON") from None
            if isinstance(data, dict):
                return data
            raise ClerkError(f"{where}: unexpected answer")
        raise ClerkError(scrub(f"{where}: {self._explain(response)}"))

    def _explain(self, response: httpx.Response) -> str:
        status = response.status_code
        try:
            first = (response.json().get("errors") or [{}])[0]
        except (ValueError, AttributeError, IndexError):
            first = {}
        detail = first.get("long_message") or first.get("message") or ""
        code = first.get("code", "")
        if status in (401, 403):
            return f"Clerk refused CLERK_SECRET_KEY (HTTP {status} {code}); check the key"
        if status == 404 or code == "resource_not_found":
            return f"unknown Clerk user or session (HTTP {status}: {detail}); check the id"
        if status == 429:
            wait = response.headers.get("Retry-After", "?")
            return f"rate limited by Clerk (HTTP 429, Retry-After: {wait} s); run again later"
        if status >= 500:
            return f"Clerk failed (HTTP {status}); see status.clerk.com and run again"
        return f"HTTP {status} {code}: {detail}"

    def create_session(self, account: str, user_id: str) -> str:
        data = self._post("/sessions", account, {"user_id": user_id})
        if not isinstance(data.get("id"), str):
            raise ClerkError(f"Clerk ({account} account): the new session has no id")
        return str(data["id"])

    def token(self, account: str, session_id: str) -> Minted:
        path = f"/sessions/{session_id}/tokens" + (f"/{self.template}" if self.template else "")
        jwt = self._post(path, account).get("jwt")
        if not isinstance(jwt, str):
            raise ClerkError(f"Clerk ({account} account): the token answer has no jwt")
        expires = jwt_expiry(jwt) or time.time() + 60
        return Minted(account, session_id, jwt, expires)

    def revoke(self, account: str, session_id: str) -> str | None:
        try:
            self._post(f"/sessions/{session_id}/revoke", account)
        except ClerkError as exc:
            return str(exc)
        return None


class TokenStore:
    """The run's minted tokens in a private file, re-minted by whichever process needs one.

    The controller creates it (``create``) and revokes its sessions (``close``); workers and
    Locust open it by path (``open``). A token with less than ``margin`` seconds left is replaced
    from the same session, so one session per account serves the whole run.
    """

    def __init__(
        self, path: Path, clerk: Clerk, margin: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.clerk = clerk
        self.margin = margin
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, Minted] = {}

    @classmethod
    def create(cls, clerk: Clerk, accounts: dict[str, str], margin: float) -> TokenStore:
        folder = Path(tempfile.mkdtemp(prefix="umbrella-tokens-"))
        os.chmod(folder, 0o700)
        store = cls(folder / "tokens.json", clerk, margin)
        try:
            for account, user_id in accounts.items():
                session = clerk.create_session(account, user_id)
                store._cache[account] = Minted(account, session, "", 0.0)
                store._cache[account] = clerk.token(account, session)
        except ClerkError:
            store.close()
            raise
        store._write()
        return store

    @classmethod
    def open(cls, path: Path, clerk: Clerk, margin: float) -> TokenStore:
        return cls(path, clerk, margin)

    def _read(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for account, item in data.items():
            fresh = Minted(**item)
            if (
                fresh.expires > self._cache.get(account, fresh).expires
                or account not in self._cache
            ):
                self._cache[account] = fresh

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in self._cache.items()}), "utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def accounts(self) -> list[str]:
        with self._lock:
            self._read()
            return sorted(self._cache)

    def current(self, account: str) -> str:
        """A token for ``account`` with at least ``margin`` seconds to live."""
        with self._lock:
            minted = self._cache.get(account)
            if minted is None or minted.expires - self.clock() < self.margin:
                self._read()
                minted = self._cache.get(account)
            if minted is None:
                raise ClerkError(f"no minted token for the {account} account")
            if minted.expires - self.clock() < self.margin:
                minted = self.clerk.token(account, minted.session_id)
                self._cache[account] = minted
                self._write()
            return minted.jwt

    def close(self) -> list[str]:
        """Revoke every session this store created; the problems, one line each."""
        problems = []
        for minted in self._cache.values():
            problem = self.clerk.revoke(minted.account, minted.session_id)
            if problem:
                problems.append(problem)
        self._cache.clear()
        if self.path.parent.name.startswith("umbrella-tokens-"):
            for item in self.path.parent.iterdir():
                item.unlink(missing_ok=True)
            self.path.parent.rmdir()
        return problems
