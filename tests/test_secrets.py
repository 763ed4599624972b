"""Secrets are scrubbed from any text, whole, however short a real credential can be."""

from __future__ import annotations

from umbrella_checks.secrets import Secret, scrub


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
