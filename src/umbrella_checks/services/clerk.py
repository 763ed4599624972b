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

from umbrella_checks.config.suite import Http
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
    except ValueError:  # UnicodeDecodeError too
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


@dataclass
class Minted:
    account: str
    session_id: str
    jwt: str = field(repr=False)
    expires: float = 0.0
    # Production instances: the Frontend API's client token for this session (native mode).
    client: str = field(default="", repr=False)


def frontend_api_of(publishable_key: str) -> str | None:
    """The Frontend API a publishable key names: ``pk_live_<base64 of "host$">``."""
    prefix, _, body = publishable_key.partition("_live_")
    if not body:
        prefix, _, body = publishable_key.partition("_test_")
    if prefix != "pk" or not body:
        return None
    try:
        host = base64.b64decode(body + "=" * (-len(body) % 4)).decode().rstrip("$")
    except ValueError:  # UnicodeDecodeError too
        return None
    return f"https://{host}" if host and "/" not in host else None


SESSIONS_ARE_FOR_DEVELOPMENT = (
    "Clerk creates sessions this way on development instances only; for a production instance "
    "give its sk_live_ key and CLERK_PUBLISHABLE_KEY, and the suite signs in with sign-in tokens"
)
NEEDS_FRONTEND_API = (
    "CLERK_SECRET_KEY is a production key (sk_live_), and Clerk's POST /sessions works on "
    "development instances only: set CLERK_PUBLISHABLE_KEY (or CLERK_FRONTEND_API_URL) so the "
    "suite signs the test users in with sign-in tokens"
)


class ClerkApi:
    """The few Clerk calls the suite needs: a session per test user, its tokens, revocation.

    Development instances (``sk_test_``): Backend API ``POST /sessions``. Production instances
    (``sk_live_``), where that route is refused: a one-time sign-in token from the Backend API,
    redeemed on the instance's Frontend API (``strategy=ticket``, native mode, so the client
    token comes back in the ``Authorization`` header instead of a browser cookie).
    """

    def __init__(
        self,
        secret: Secret,
        api_base: str,
        http: Http,
        template: str | None,
        frontend_api: str | None = None,
    ) -> None:
        self.secret = secret
        self.api_base = api_base.rstrip("/")
        self.http = http
        self.template = template
        self.frontend_api = frontend_api.rstrip("/") if frontend_api else None

    @property
    def production(self) -> bool:
        return self.secret.reveal().startswith("sk_live_")

    def _send(
        self, url: str, account: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        where = f"Clerk ({account} account)"
        try:
            return request_once(self.http, "POST", url, what=where, headers=headers, **kwargs)
        except NoAnswer as exc:
            raise ClerkError(str(exc)) from None

    def _json(self, response: httpx.Response, account: str) -> dict[str, Any]:
        where = f"Clerk ({account} account)"
        if response.status_code >= 300:
            raise ClerkError(scrub(f"{where}: {self._explain(response)}"))
        try:
            data = response.json()
        except ValueError:
            raise ClerkError(f"{where}: answer is not JSON") from None
        if isinstance(data, dict):
            return data
        raise ClerkError(f"{where}: unexpected answer")

    def _post(self, path: str, account: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        bearer = {"Authorization": f"Bearer {self.secret.reveal()}"}
        response = self._send(f"{self.api_base}{path}", account, bearer, json=body or {})
        return self._json(response, account)

    @staticmethod
    def _first_error(response: httpx.Response) -> dict[str, Any]:
        try:
            first = (response.json().get("errors") or [{}])[0]
        except (ValueError, AttributeError, IndexError):
            first = {}
        return first if isinstance(first, dict) else {}

    def _detail(self, response: httpx.Response) -> str:
        first = self._first_error(response)
        detail = first.get("long_message") or first.get("message") or ""
        return f"HTTP {response.status_code} {first.get('code', '')}: {detail}"

    def _explain(self, response: httpx.Response) -> str:
        status = response.status_code
        first = self._first_error(response)
        detail = first.get("long_message") or first.get("message") or ""
        code = first.get("code", "")
        if code == "native_api_disabled":
            # Production minting redeems a sign-in ticket on the Frontend API in native mode
            # (_is_native=1), which Clerk serves only with the instance's Native API on.
            return (
                "Clerk refused native-mode sign-in (native_api_disabled): turn the Native API on "
                "in the Clerk Dashboard › Native applications for this instance, or give static "
                "tokens (UMBRELLA_USER_TOKEN …) instead of minting"
            )
        if status in (401, 403):
            return f"Clerk refused CLERK_SECRET_KEY (HTTP {status} {code}); check the key"
        if status == 404 or code == "resource_not_found":
            return f"unknown Clerk user or session (HTTP {status}: {detail}); check the id"
        if status == 429:
            wait = response.headers.get("Retry-After", "?")
            return f"rate limited by Clerk (HTTP 429, Retry-After: {wait} s); run again later"
        if status >= 500:
            return f"Clerk failed (HTTP {status}); see status.clerk.com and run again"
        return self._detail(response)

    def create_session(self, account: str, user_id: str) -> Minted:
        """A session for the test user, with its first token."""
        if self.production:
            return self.token(account, self._sign_in_with_ticket(account, user_id))
        bearer = {"Authorization": f"Bearer {self.secret.reveal()}"}
        response = self._send(
            f"{self.api_base}/sessions", account, bearer, json={"user_id": user_id}
        )
        if response.status_code in (400, 403, 405, 422):
            raise ClerkError(
                scrub(
                    f"Clerk ({account} account): POST /sessions refused "
                    f"({self._detail(response)}); {SESSIONS_ARE_FOR_DEVELOPMENT}"
                )
            )
        data = self._json(response, account)
        if not isinstance(data.get("id"), str):
            raise ClerkError(f"Clerk ({account} account): the new session has no id")
        return self.token(account, Minted(account, str(data["id"]), ""))

    def _sign_in_with_ticket(self, account: str, user_id: str) -> Minted:
        if not self.frontend_api:
            raise ClerkError(NEEDS_FRONTEND_API)
        ticket = self._post(
            "/sign_in_tokens", account, {"user_id": user_id, "expires_in_seconds": 300}
        )
        if not isinstance(ticket.get("token"), str):
            raise ClerkError(f"Clerk ({account} account): the sign-in token answer has no token")
        Secret("Clerk sign-in ticket", ticket["token"])  # scrubbed from any message from now on
        response = self._send(
            f"{self.frontend_api}/v1/client/sign_ins",
            account,
            {},
            params={"_is_native": "1"},
            data={"strategy": "ticket", "ticket": ticket["token"]},
        )
        signed_in = self._json(response, account).get("response") or {}
        client = response.headers.get("Authorization", "")
        session = signed_in.get("created_session_id") if isinstance(signed_in, dict) else None
        if not (isinstance(session, str) and client):
            status = signed_in.get("status") if isinstance(signed_in, dict) else None
            raise ClerkError(
                f"Clerk ({account} account): the sign-in did not complete (status {status!r}); "
                "check the test user has no second factor"
            )
        Secret("Clerk client token", client)
        return Minted(account, session, "", 0.0, client)

    def token(self, account: str, minted: Minted) -> Minted:
        """A fresh token for the minted session."""
        suffix = f"/tokens/{self.template}" if self.template else "/tokens"
        if minted.client and self.frontend_api:
            url = f"{self.frontend_api}/v1/client/sessions/{minted.session_id}{suffix}"
            response = self._send(
                url, account, {"Authorization": minted.client}, params={"_is_native": "1"}
            )
            jwt = self._json(response, account).get("jwt")
            client = response.headers.get("Authorization") or minted.client  # it may rotate
        else:
            jwt = self._post(f"/sessions/{minted.session_id}{suffix}", account).get("jwt")
            client = ""
        if not isinstance(jwt, str):
            raise ClerkError(f"Clerk ({account} account): the token answer has no jwt")
        expires = jwt_expiry(jwt) or time.time() + 60
        return Minted(account, minted.session_id, jwt, expires, client)

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
        self, path: Path, clerk: ClerkApi, margin: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.clerk = clerk
        self.margin = margin
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, Minted] = {}

    @classmethod
    def create(cls, clerk: ClerkApi, accounts: dict[str, str], margin: float) -> TokenStore:
        folder = Path(tempfile.mkdtemp(prefix="umbrella-tokens-"))
        os.chmod(folder, 0o700)
        store = cls(folder / "tokens.json", clerk, margin)
        try:
            for account, user_id in accounts.items():
                store._cache[account] = clerk.create_session(account, user_id)
        except ClerkError:
            store.close()
            raise
        store._write()
        return store

    @classmethod
    def open(cls, path: Path, clerk: ClerkApi, margin: float) -> TokenStore:
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
                minted = self.clerk.token(account, minted)
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
