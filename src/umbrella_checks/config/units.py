"""Durations and sizes as ``umbrella.toml`` writes them: "500ms", "30m", "10GB". A bare number is
refused for a duration (``50`` in a table of millisecond budgets would silently mean 50
seconds); the loader names the unit the key is written in.
"""

from __future__ import annotations

import re
from typing import Any

BARE = "a bare number is ambiguous; write the unit"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Turn "500ms", "60s", "30m", "1h" into seconds. A bare number is refused: ``50`` in a
    table of millisecond budgets would silently mean 50 seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '500ms' or '60s'")
    if isinstance(value, int | float):
        # _one_line adds the unit this key is written in (its default's), where it knows it.
        raise ValueError(f"{BARE}: {value:g}")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"expected a duration such as '500ms' or '60s', got {value!r}")


class Duration(float):
    """Seconds, written in the file with a unit: "500ms", "60s", "30m", "1h"."""


class Size(float):
    """Bytes, written in the file as "10GB", "500MB" or a bare number."""


def from_file(kind: type, value: Any) -> Any:
    # msgspec hands over the values of the types it does not know itself.
    if kind is Duration:
        return Duration(parse_duration(value))
    if kind is Size:
        return Size(parse_size(value))
    raise NotImplementedError(kind)


def parse_size(value: object) -> float:
    """Turn "10GB", "500MB" or a number of bytes into bytes."""
    units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)\s*$", value.upper())
        if match:
            return float(match.group(1)) * units[match.group(2)]
    raise ValueError(f"expected a size such as '10GB' or '500MB', got {value!r}")
