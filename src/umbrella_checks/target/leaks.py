"""What an answer's body must never give away: the database's own words, a stack trace, a file
path. An error handler that leaks them helps attackers (the schema, where to inject), not
users. No pytest here.
"""

from __future__ import annotations

# What an error body must never carry, by what it gives away. The database's own words (D1's
# and SQLite's error names, SQL) are a leak of their own: the schema, and where to inject.
_DATABASE_WORDS = (
    "D1_ERROR",
    "SQLITE_",
    "sqlite3.",
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    "no such table",
    "no such column",
)
_STACK_MARKERS = {
    "Traceback (most recent call last)": "a Python traceback",
    'File "/': "a file path",
    "    at ": "a stack frame (at …)",
    ".js:": "a source position (.js:)",
    ".ts:": "a source position (.ts:)",
}


def leak_in(text: str) -> str | None:
    """What ``text`` gives away that it must not, in words; None when nothing."""
    for word in _DATABASE_WORDS:
        if word in text:
            return f"the database's own words ({word.strip()!r}: the schema, and where to inject)"
    for marker, what in _STACK_MARKERS.items():
        if marker in text:
            return what
    return None
