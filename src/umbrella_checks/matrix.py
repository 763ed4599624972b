"""The status-code matrix: rows of (method, path, who) -> expected status, from a TOML file.

The file is data the team edits when routes change; a malformed row is a one-line error naming
the row, found when the run starts rather than halfway through it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from umbrella_checks.config import ConfigError, one_line_error

Who = Literal["anonymous", "user", "admin", "invalid-token", "limit-exhausted"]


class Row(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    path: Annotated[str, Meta(pattern=r"^/")]
    who: Who
    status: Annotated[int, Meta(ge=100, le=599)]
    code: str | None = None
    body: str | None = None
    json_body: dict[str, Any] | None = field(default=None, name="json")
    # A valid Violet prompt with this text, shaped by [violet] prompt_body.
    prompt: str | None = None
    destructive: bool = False
    why: str | None = None

    @property
    def id(self) -> str:
        case = f" ({self.why})" if self.why else ""
        return f"{self.method} {self.path} [{self.who}] -> {self.status}{case}"


def load_rows(path: Path) -> list[Row]:
    """Read and validate every row; raises ConfigError naming the first bad row."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"status matrix {path} does not exist; set [matrix] file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    extra = set(raw) - {"row"}
    if extra:
        raise ConfigError(f"{path}: unknown top-level key {sorted(extra)[0]!r}; rows are [[row]]")
    rows = []
    for number, item in enumerate(raw.get("row", []), start=1):
        label = f"{item.get('method', '?')} {item.get('path', '?')}"
        try:
            rows.append(msgspec.convert(item, Row))
        except msgspec.ValidationError as exc:
            where, what = one_line_error(exc)
            raise ConfigError(f"{path}: row {number} ({label}): {where}: {what}") from None
    ids = [row.id for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: row {duplicates[0]!r} appears twice; remove one")
    return rows
