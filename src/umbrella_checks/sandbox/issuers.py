"""The sandbox's identity providers: its own Clerk-like instance, and another one.

They give the forged-token review real tokens to judge with (``UMBRELLA_EXPIRED_TOKEN``: one of
the sandbox's own instance, past its expiry; ``UMBRELLA_OTHER_ISSUER_TOKEN``: a live one from
another instance), so "expired" and "other issuer" test expiry and issuer checking, not just the
signature. HS256 from the standard library: no crypto import at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadToken(Exception):
    """Not a token of this issuer, or not valid (the message says which)."""


@dataclass(frozen=True)
class Issuer:
    name: str
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def kid(self) -> str:
        return f"ins_{self.name}"

    @property
    def iss(self) -> str:
        return f"https://clerk.{self.name}.sandbox.invalid"

    def sign(self, sub: str, exp: float) -> str:
        now = int(time.time())
        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        claims = {"sub": sub, "iss": self.iss, "iat": now, "nbf": now - 5, "exp": int(exp)}
        head = _b64(json.dumps(header).encode())
        body = _b64(json.dumps(claims).encode())
        mac = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"

    def claims(self, token: str, *, check_expiry: bool = True) -> dict[str, Any]:
        """The verified claims; BadToken when the signature, expiry or issuer is wrong."""
        try:
            head, body, mac = token.split(".")
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(body))
        except ValueError:
            raise BadToken("malformed token") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise BadToken("malformed token")
        expected = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(_unb64(mac), expected):
            raise BadToken("invalid signature")
        if claims.get("iss") != self.iss:
            raise BadToken("wrong issuer")
        if check_expiry and float(claims.get("exp", 0)) < time.time():
            raise BadToken("token expired")
        return claims


def kid_of(token: str) -> str | None:
    try:
        header = json.loads(_unb64(token.split(".")[0]))
    except (ValueError, IndexError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
