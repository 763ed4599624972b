"""Secret scrubbing: what an echoing server or a pasted log line can never show."""

from __future__ import annotations

from umbrella_checks.secrets import Secret, scrub


def test_a_secret_prints_as_a_redaction() -> None:
    secret = Secret("UMBRELLA_USER_TOKEN", "sk_test_print_me_not")
    assert "sk_test_print_me_not" not in f"{secret} {secret!r} {[secret]}"
    assert "UMBRELLA_USER_TOKEN=***" in str(secret)


def test_a_secret_inside_another_is_masked_whole() -> None:
    # The longer value goes first: masking the shorter one first would leave "***-admin".
    Secret("UMBRELLA_USER_TOKEN", "tok_scrub_1234")
    Secret("UMBRELLA_ADMIN_TOKEN", "tok_scrub_1234-admin")
    assert scrub("sent tok_scrub_1234-admin and tok_scrub_1234") == "sent *** and ***"


def test_the_shortest_masked_secret_has_four_characters() -> None:
    # Shorter values would mask every matching letter pair in every message.
    Secret("A", "q9z")
    Secret("B", "w7x4")
    assert scrub("q9z w7x4") == "q9z ***"
