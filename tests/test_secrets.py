"""Secrets are scrubbed from any text, whole, however short a real credential can be."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from umbrella_checks.secrets import Secret, SecretError, from_env, scrub


def test_a_four_character_secret_is_scrubbed() -> None:
    # The shortest value registered: a 4-digit PIN-like token still never reaches a report.
    Secret("UMBRELLA_PIN", "q7z9").reveal()
    assert scrub("sent q7z9 to the API") == "sent *** to the API"


def test_a_three_character_value_is_left_alone() -> None:
    # Shorter values would blank every "abc" in every message: they are not credentials.
    Secret("UMBRELLA_SHORT", "xqv")
    assert scrub("xqv stays") == "xqv stays"


def test_a_secret_containing_another_is_scrubbed_whole() -> None:
    # The longest first: scrubbing the shorter one first would leave the longer one's tail.
    Secret("UMBRELLA_SHORTER", "k3y-prefix")
    Secret("UMBRELLA_LONGER", "k3y-prefix-and-tail")
    assert scrub("Bearer k3y-prefix-and-tail") == "Bearer ***"


@pytest.mark.parametrize(
    ("shown", "form", "scrubbed"),
    [
        pytest.param(lambda v: repr(v), "repr", "'***'", id="repr"),
        pytest.param(lambda v: json.dumps(v), "json", '"***"', id="json"),
        pytest.param(lambda v: quote(v, safe=""), "url-encoded", "***", id="url-encoded"),
        pytest.param(lambda v: quote_plus(v), "form-encoded", "***", id="form-encoded"),
    ],
)
def test_a_secret_is_scrubbed_in_every_form_text_gives_it(
    shown: Callable[[str], str], form: str, scrubbed: str
) -> None:
    # Exactly the escaped form, its quotes left: not a character of the value more or less.
    value = 'tok en/with"odd\\chars+='
    Secret("UMBRELLA_ODD", value)
    assert scrub(f"sent {shown(value)} as {form}") == f"sent {scrubbed} as {form}"


def test_a_secret_with_a_control_character_is_refused_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", "first-half\nsecond-half")
    with pytest.raises(SecretError) as raised:
        from_env("UMBRELLA_USER_TOKEN")
    assert str(raised.value).startswith("UMBRELLA_USER_TOKEN holds a control character")
    assert "half" not in str(raised.value)
