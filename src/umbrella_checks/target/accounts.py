"""Who the suite speaks to the target as: each test account's token, from one place.

Every caller asks here — the pytest fixtures, the planner, the Locust gate and the contract
diff: a static token from the environment (``TOKEN_VARS``; checked for expiry), else one minted
through Clerk for this run (``services/clerk.py``), else a ``MissingInput`` naming the
variables to set. No pytest here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from umbrella_checks.errors import MissingInput, fail
from umbrella_checks.secrets import Secret
from umbrella_checks.services.clerk import (
    HOW_TO_GET_ONE,
    ID_VARS,
    ClerkError,
    TokenStore,
    jwt_expiry,
)

# account -> environment variables that may hold its token, first wins.
TOKEN_VARS: dict[str, tuple[str, ...]] = {
    # An account already over today's Violet quota (the sandbox has one); without it, the
    # destructive level uses up the limit account's.
    "exhausted": ("UMBRELLA_EXHAUSTED_TOKEN",),
    "user": ("UMBRELLA_USER_TOKEN", "SMOKE_TEST_TOKEN"),
    "admin": ("UMBRELLA_ADMIN_TOKEN",),
    "limit": ("UMBRELLA_LIMIT_TOKEN",),
    # Real tokens for the forged-token review: one of the target's own Clerk instance kept
    # past its expiry, and a live one from another instance (e.g. development's for production).
    "expired": ("UMBRELLA_EXPIRED_TOKEN",),
    "other-issuer": ("UMBRELLA_OTHER_ISSUER_TOKEN",),
}

# The matrix's "invalid-token" caller: a token no Clerk instance signed.
INVALID_TOKEN = Secret("invalid-token", "invalid.token.for-umbrella-checks")


class NotYet(Exception):
    """The account's token cannot be had without minting (or at all) right now."""


@dataclass
class Accounts:
    """The test accounts' tokens: static ones (by account), and the run's minted ones."""

    static: Mapping[str, Secret | None] = field(default_factory=dict)
    store: TokenStore | None = None
    # Accounts Clerk may mint for (their Clerk user ids are set).
    mintable: frozenset[str] = frozenset()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Accounts:
        """Static tokens only, from ``environ`` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        static: dict[str, Secret | None] = {}
        for account, names in TOKEN_VARS.items():
            found = next((name for name in names if env.get(name, "").strip()), None)
            static[account] = Secret(found, env[found].strip()) if found else None
        return cls(static)

    def token(self, account: str) -> Secret:
        """The account's token: static (failing when it has expired), else minted; else a
        ``MissingInput`` naming the variables."""
        static = self.static.get(account)
        if static is not None:
            expires = jwt_expiry(static.reveal())
            if expires is not None and expires < time.time():
                stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                fail(
                    f"{static.source} expired at {stamp} (Clerk session tokens live 60 s, so a "
                    f"pasted one is dead by the time a scheduled run uses it): {HOW_TO_GET_ONE}"
                )
            return static
        if self.store is not None and account in self.mintable:
            try:
                return Secret(
                    f"minted via Clerk for {ID_VARS[account]}", self.store.current(account)
                )
            except ClerkError as exc:
                fail(str(exc))
        names = TOKEN_VARS[account]
        alias = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
        raise MissingInput(
            f"{names[0]}{alias} is not set: this check needs the {account} test account's "
            f"bearer token in that variable, or CLERK_SECRET_KEY and {ID_VARS[account]} to "
            "mint one"
        )

    def known(self, account: str) -> Secret:
        """The token if it can be had now without failing (for planning); else ``NotYet``."""
        static = self.static.get(account)
        if static is not None:
            return static
        if self.store is not None and account in self.store.accounts():
            try:
                return Secret(
                    f"minted via Clerk for {ID_VARS[account]}", self.store.current(account)
                )
            except ClerkError:
                raise NotYet(account) from None
        raise NotYet(account)

    def optional(self, account: str) -> Secret | None:
        """The token when there is one, else None (commands that skip a step without it)."""
        try:
            return self.known(account)
        except NotYet:
            return None
