"""The forged tokens themselves: what each one claims, and how long a real one is waited for."""

from __future__ import annotations

import base64
import json

import pytest

from umbrella_checks.target import forgery

NOW = 1_800_000_000.0


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


@pytest.mark.parametrize(
    ("exp", "expected"),
    [
        pytest.param(None, (0.0, "the token has no exp claim"), id="no-exp"),
        pytest.param(NOW - 30, (0.0, None), id="already-expired"),
        pytest.param(NOW + 10, (11.0, None), id="expires-in-10s"),
        pytest.param(NOW + 89, (90.0, None), id="exactly-the-longest-wait"),
        pytest.param(
            NOW + 90,
            (0.0, "the token expires in 91 s, longer than the 90 s waited"),
            id="one-second-too-long",
        ),
    ],
)
def test_a_real_token_is_waited_for_until_just_past_its_expiry(
    exp: float | None, expected: tuple[float, str | None]
) -> None:
    assert forgery.expiry_wait(exp, NOW) == expected


def test_the_realistic_template_is_a_live_clerk_session() -> None:
    header, claims = forgery.template(None, NOW)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "ins_2forgedumbrellachecks"}
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW - 5, NOW + 60)


def test_a_forged_token_is_fresh_so_only_its_signature_can_fail_it() -> None:
    token = forgery.forge("unsigned", None, NOW)
    claims = _claims(token)
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW - 5, NOW + 300)
    assert claims["sub"] == "user_2forgedumbrellachecks000000"


def test_a_tampered_signature_differs_from_a_valid_one_in_one_byte() -> None:
    real = forgery.forge("tampered-signature", None, NOW)
    head, body, signature = real.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert len(raw) == 256  # an RS256 signature of a 2048-bit key, padding restored
    again = forgery.forge("tampered-signature", real, NOW)  # tampering a token keeps its claims
    assert again.split(".")[:2] == [head, body]
    flipped = base64.urlsafe_b64decode(again.split(".")[2] + "=" * (-len(again.split(".")[2]) % 4))
    changed = [i for i, (a, b) in enumerate(zip(raw, flipped, strict=True)) if a != b]
    assert changed == [len(raw) // 2]
    assert raw[changed[0]] ^ flipped[changed[0]] == 0xFF


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown forgery 'guessed'"):
        forgery.forge("guessed", None, NOW)


def test_a_static_jwt_lends_its_header_and_claims_to_the_forgeries() -> None:
    """A real session token's claims are copied (unverified: it is not ours to verify), so the
    forged token differs from an accepted one only where it must."""
    import jwt

    real = jwt.encode(
        {"sub": "user_real", "iss": "https://clerk.example"},
        "a-secret-key-of-32-bytes-or-more!",
        algorithm="HS256",
        headers={"kid": "ins_real"},
    )
    header, claims = forgery.template(real, NOW)
    assert header["kid"] == "ins_real"
    assert claims == {"sub": "user_real", "iss": "https://clerk.example"}
    assert _claims(forgery.forge("unsigned", real, NOW))["sub"] == "user_real"
