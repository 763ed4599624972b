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

from umbrella_checks.config.loading import fillable, one_line_error
from umbrella_checks.config.suite import ConfigError, Routes

Who = Literal["anonymous", "user", "admin", "invalid-token", "limit-exhausted"]
Status = Annotated[int, Meta(ge=100, le=599)]


class Row(
    msgspec.Struct,
    forbid_unknown_fields=True,
    frozen=True,
    kw_only=True,
):
    method: Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
    path: Annotated[str, Meta(pattern=r"^/")]
    who: Who
    # One status, or a list when several are right ("400 or 401").
    status: Status | Annotated[list[Status], Meta(min_length=1)]
    code: str | None = None
    body: str | None = None
    json_body: dict[str, Any] | None = field(default=None, name="json")
    # A valid Violet prompt with this text, shaped by [violet] prompt_body.
    prompt: str | None = None
    destructive: bool = False
    why: str | None = None
    # The SEV level when this row fails; by default a row that expects a refusal (401/403)
    # guards access, and access left open is SEV-1; any other row is SEV-2.
    severity: Literal["SEV-1", "SEV-2", "SEV-3"] | None = None

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(self.status) if isinstance(self.status, list) else (self.status,)

    @property
    def sev(self) -> str:
        if self.severity:
            return self.severity
        return "SEV-1" if all(code in (401, 403) for code in self.statuses) else "SEV-2"

    @property
    def id(self) -> str:
        case = f" ({self.why})" if self.why else ""
        shown = "/".join(str(code) for code in self.statuses)
        return f"{self.method} {self.path} [{self.who}] -> {shown}{case}"


# Methods that read: a row sending any other may change state whatever status it expects (the
# refusal it tests is exactly what may be broken).
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _check(row: Row, where: str, routes: Routes | None) -> None:
    """What a row must be beyond its schema: placeholders [routes] fills, and a row that could
    change state saying it is destructive."""
    label = f"{where} ({row.method} {row.path})"
    if routes is not None:
        fillable(routes, label, row.path)
    unsafe = unsafe_without_mark(row)
    if unsafe:
        raise ConfigError(
            f"{label} {unsafe}: mark it destructive = true (it then runs only with "
            "--umbrella-allow-destructive, never against production)"
        )


def _with_recorded(
    rows: list[Row], recorded: list[dict[str, Any]], routes: Routes | None
) -> list[Row]:
    """The file's rows, with umbrella.toml's single rows replacing or joining them."""
    found = list(rows)
    for number, item in enumerate(recorded, start=1):
        label = f"{item.get('method', '?')} {item.get('path', '?')}"
        try:
            row = msgspec.convert(item, Row)
        except msgspec.ValidationError as exc:
            where, what = one_line_error(exc)
            raise ConfigError(
                f"umbrella.toml: matrix.row {number} ({label}): {where}: {what}"
            ) from None
        _check(row, f"umbrella.toml: matrix.row {number}", routes)
        same = [i for i, old in enumerate(found) if _key(old) == _key(row)]
        if same:
            found[same[0]] = row
        else:
            found.append(row)
    return found


def _key(row: Row) -> tuple[str, str, str, str | None]:
    return (row.method, row.path, row.who, row.why)


def unsafe_without_mark(row: Row) -> str | None:
    """Why a row not marked destructive could change state or use quota, or None."""
    if row.destructive:
        return None
    if row.prompt:
        return "sends a Violet prompt, which uses quota when the service takes it"
    if row.method not in SAFE_METHODS:
        return f"sends a {row.method}, which can change state if the refusal it expects is broken"
    return None


def load_rows(
    path: Path, routes: Routes | None = None, recorded: list[dict[str, Any]] | None = None
) -> list[Row]:
    """Read and validate every row; raises ConfigError naming the first bad row. With
    ``routes``, every row's {placeholders} must be ones [routes] fills. ``recorded``: single
    rows from umbrella.toml ([[matrix.row]]), each replacing the file's row with the same
    method, path, caller and why, or added after them."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"status matrix {path} does not exist; fix [matrix] file (relative to the folder "
            "pytest runs from)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"status matrix {path} cannot be read ({exc}); check it") from None
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
    for number, row in enumerate(rows, start=1):
        _check(row, f"{path}: row {number}", routes)
    rows = _with_recorded(rows, recorded or [], routes)
    if not rows:
        raise ConfigError(f"{path}: no [[row]]: the status matrix would judge nothing")
    ids = [row.id for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: row {duplicates[0]!r} appears twice; remove one")
    return rows
