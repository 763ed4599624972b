"""docs/keys.md, from the schema: every key of ``umbrella.toml``, its built-in default and what
it accepts (bounds and floors included). A threshold changed in the code is a changed page,
reviewed as such — never a silent change of what a gate judges. ``python -m umbrella_checks
docs`` writes it. No pytest here."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import msgspec

from umbrella_checks.config.loading import FLOORS
from umbrella_checks.config.suite import SuiteConfig
from umbrella_checks.config.units import Duration, Size

HEADER = """# Every key of umbrella.toml

Each key of `umbrella.toml` (section, key), its built-in default — the runbook's or the
contract's number — and what it accepts. `umbrella.toml` repeats the main ones with comments;
`[env.<name>.<section>]` overrides any of them per environment ([Configure a target](configure.md)).
Durations are written with a unit (`"500ms"`, `"60s"`, `"30m"`, `"1h"`); sizes as `"10GB"`.
Generated from the schema (`config/suite.py`) by `python -m umbrella_checks docs`; a self-test
fails while it is stale. A duration below its floor is refused at start: no healthy service
could meet it.

| key | default | accepts |
|---|---|---|
"""


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _plain(value: Any) -> Any:
    # Durations and sizes inside tables (a budget per endpoint) as the file writes them.
    if isinstance(value, Duration):
        return _duration(value)
    if isinstance(value, Size):
        # Whole gigabytes as the file writes them; anything else in bytes, every digit.
        return f"{value / 1e9:.0f}GB" if value % 1e9 == 0 else f"{value:.0f}"
    raise TypeError(value)


def _value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Duration | Size):
        return json.dumps(_plain(value))
    builtins = msgspec.to_builtins(value, enc_hook=_plain)
    return json.dumps(builtins, separators=(", ", ": "), ensure_ascii=False)


def _kind(kind: Any) -> str:
    """A type as the file writes it: "duration", "list of str", "str, or unset"."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Annotated:
        return _kind(args[0])
    if origin in (typing.Union, types.UnionType):
        named = [_kind(arg) for arg in args if arg is not type(None)]
        return " or ".join(named) + (", or unset" if type(None) in args else "")
    if origin is list:
        return f"list of {_kind(args[0])}"
    if origin is dict:
        return f"table of {_kind(args[1])}"
    if origin is typing.Literal:
        return " or ".join(json.dumps(arg) for arg in args)
    return {Duration: "duration", Size: "size"}.get(kind, getattr(kind, "__name__", str(kind)))


def _accepts(kind: Any) -> str:
    limits: list[str] = []
    if typing.get_origin(kind) is typing.Annotated:
        for meta in typing.get_args(kind)[1:]:
            for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
                if getattr(meta, name, None) is not None:
                    limits.append(f"{sign} {getattr(meta, name):g}")
            if getattr(meta, "pattern", None):
                limits.append("a table or column name")
    return _kind(kind) + (f" ({', '.join(limits)})" if limits else "")


def _floor(key: str) -> str:
    floor = FLOORS.get(key.replace(".<name>", ""))
    return f" ≥ {_duration(floor)}" if floor is not None else ""


def rows(cls: type[msgspec.Struct] = SuiteConfig, prefix: str = "") -> list[str]:
    """The page's table rows for the code as it is."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found = []
    for spec in msgspec.structs.fields(cls):
        kind = hints[spec.name]
        if spec.default is not msgspec.NODEFAULT:
            default: Any = spec.default
        elif spec.default_factory is not msgspec.NODEFAULT:
            default = spec.default_factory()
        else:
            default = msgspec.NODEFAULT
        if isinstance(default, msgspec.Struct) and type(default) is kind:
            found += rows(kind, f"{prefix}{spec.name}.")
            continue
        shown = "required" if default is msgspec.NODEFAULT else f"`{_value(default)}`"
        # A pipe inside a code span still ends a Markdown table cell.
        accepts = _accepts(kind) + _floor(f"{prefix}{spec.name}")
        found.append(f"| `{prefix}{spec.name}` | {shown.replace('|', chr(92) + '|')} | {accepts} |")
        entry = typing.get_args(kind)[1] if typing.get_origin(kind) is dict else None
        if isinstance(entry, type) and issubclass(entry, msgspec.Struct):
            found += rows(entry, f"{prefix}{spec.name}.<name>.")
    return found


def page() -> str:
    return HEADER + "\n".join(rows()) + "\n"
