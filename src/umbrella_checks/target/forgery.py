"""Tokens a correct service refuses, each proving one thing about how it verifies them.

- "unsigned" (``alg: none``) and "tampered-signature" are built here: the claims copy a
  realistic Clerk session (or the static test token's), so a service that reads claims without
  verifying the signature accepts them.
- "expired" is a *real* token of the target's own Clerk instance, used after its ``exp``: only
  a service that skips the expiry check accepts it (a forged expired token would be refused for
  its signature, proving nothing new).
- "other-issuer" is a *real*, live token of another Clerk instance: only a service that trusts
  any issuer (keys looked up by the token's ``iss``) accepts it.

Without a real token the last two cannot judge (``real_token``), never pass.
"""

from __future__ import annotations

import base64
import functools
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

# jwt and cryptography are imported where used: collecting the checks (every tier run) must
# not pay for them.

# kind -> what it is, as a failure message names it
KINDS = {
    "unsigned": "an unsigned token (alg: none)",
    "tampered-signature": "a token with a tampered signature",
    "expired": "a real token of the instance, used after it expired",
    "other-issuer": "a real token of another Clerk instance",
}
# The kinds that need a real token, not one built here.
REAL = ("expired", "other-issuer")
# At most this long to wait for a real token to expire (Clerk session tokens live 60 s).
MAX_WAIT = 90.0


def expiry_wait(exp: float | None, now: float) -> tuple[float, str | None]:
    """How long to wait for a token with ``exp`` to have expired, or why it cannot be used."""
    if exp is None:
        return 0.0, "the token has no exp claim"
    wait = exp + 1 - now
    if wait > MAX_WAIT:
        return 0.0, f"the token expires in {wait:.0f} s, longer than the {MAX_WAIT:.0f} s waited"
    return max(wait, 0.0), None


@functools.cache
def _key() -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    # Nobody's key: whatever it signs, no Clerk instance vouches for.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def template(static_token: str | None, now: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims to forge from: the static token's, or a realistic Clerk session's."""
    import jwt

    if static_token:
        try:
            header = jwt.get_unverified_header(static_token)
            claims = jwt.decode(static_token, options={"verify_signature": False})
            return dict(header), dict(claims)
        except jwt.PyJWTError:
            pass  # not a JWT (an opaque test token): forge from the realistic shape
    claims = {
        "azp": "https://umbrella.app",
        "iss": "https://clerk.umbrella.app",
        "sub": "user_2forgedumbrellachecks000000",
        "sid": "sess_2forgedumbrellachecks00000",
        "iat": int(now),
        "nbf": int(now) - 5,
        "exp": int(now) + 60,
    }
    return {"alg": "RS256", "typ": "JWT", "kid": "ins_2forgedumbrellachecks"}, claims


def forge(kind: str, static_token: str | None = None, now: float | None = None) -> str:
    """A token of ``kind`` (one of KINDS) that a correct service must answer with 401."""
    import jwt

    now = time.time() if now is None else now
    header, claims = template(static_token, now)
    fresh = {**claims, "iat": int(now), "nbf": int(now) - 5, "exp": int(now) + 300}
    extra = {k: v for k, v in header.items() if k in ("kid", "typ")}
    if kind == "unsigned":
        return jwt.encode(fresh, "", algorithm="none", headers={"typ": "JWT"})
    if kind == "tampered-signature":
        signed = jwt.encode(fresh, _key(), algorithm="RS256", headers=extra)
        head, body, signature = signed.split(".")
        if static_token and static_token.count(".") == 2:
            head, body, signature = static_token.split(".")  # the real claims, a false signature
        flipped = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        flipped[len(flipped) // 2] ^= 0xFF
        return f"{head}.{body}.{base64.urlsafe_b64encode(bytes(flipped)).rstrip(b'=').decode()}"
    raise ValueError(f"unknown forgery {kind!r}; one of {', '.join(KINDS)}")
