"""Loading ``umbrella.toml``: the file, its ``[env.<name>]`` overlay, validation against the schema
(``suite.py``), and every mistake phrased as one line naming the key and the fix — an unknown
key with the one it resembles, a bare number with the key's unit, a value below its floor.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.config.suite import (
    PLATFORM_ROUTES,
    PROBE_METHODS,
    ConfigError,
    Routes,
    SuiteConfig,
    maintenance_probe,
)
from umbrella_checks.config.units import BARE, Duration, from_file


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_WHERE = re.compile(r"^(?P<what>.*?)(?: - at `\$\.?(?P<where>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")


def one_line_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's message as (where, what): ("health.max_clock_skeww", "unknown key")."""
    found = _WHERE.match(str(error))
    what, where = (found["what"], found["where"] or "") if found else (str(error), "")
    for pattern, text in ((_UNKNOWN, "unknown key"), (_MISSING, "required")):
        named = pattern.match(what)
        if named:
            where = f"{where}.{named['name']}" if where else named["name"]
            what = text
    return where or "(top level)", what


def _name_the_key(raw: dict[str, Any], where: str) -> str:
    """msgspec says ``budgets.endpoints[...]`` for a bad value in a table of names: find the
    name, by validating the table one entry at a time, so the error can say which."""
    head, _, tail = where.partition("[...]")
    parts = head.split(".")
    table: Any = raw
    for part in parts:
        table = table.get(part) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        return where
    for key, value in table.items():
        trial = _merge(raw, {})
        node = trial
        for part in parts[:-1]:
            node[part] = dict(node[part])
            node = node[part]
        node[parts[-1]] = {key: value}
        try:
            validate(trial)
        except msgspec.ValidationError:
            return f'{head}."{key}"{tail}'
    return where


def _one_line(source: str, error: msgspec.ValidationError, raw: dict[str, Any]) -> str:
    where, what = one_line_error(error)
    if "[...]" in where:
        where = _name_the_key(raw, where)
    if what == "unknown key":
        *section, name = where.split(".")
        close = difflib.get_close_matches(name, _known_keys(section), n=1)
        fix = (
            f"did you mean {'.'.join([*section, close[0]])}?"
            if close
            else "remove it or check its spelling against umbrella.toml's documented keys "
            "(docs/keys.md)"
        )
        return f"{source}: {where}: unknown key; {fix}"
    if what.startswith(BARE):
        number = what.rsplit(": ", 1)[-1]
        units = [_unit_of(where)] if _unit_of(where) else ["ms", "s"]
        example = " or ".join(f'"{number}{unit}"' for unit in units)
        return f"{source}: {where}: {BARE}, e.g. {example}"
    return f"{source}: {where}: {what}; correct the value"


def _field_default(where: str) -> Any:
    """The built-in default at a dotted key (``cron.grace``), or None."""
    node: Any = SuiteConfig()
    for part in where.split("."):
        node = getattr(node, part, None)
    return node


def _unit_of(where: str) -> str | None:
    """The unit a duration key is written in: its default's, as umbrella.toml writes it."""
    default = _field_default(where)
    if not isinstance(default, Duration):
        return None
    if default >= 3600 and default % 3600 == 0:
        return "h"
    if default >= 60 and default % 60 == 0:
        return "m"
    return "ms" if default < 1 else "s"


def _known_keys(section: list[str]) -> list[str]:
    """The keys a section (``["http"]``; ``[]`` for the top level) accepts."""
    node: Any = SuiteConfig
    for part in section:
        fields = {f.name: f.type for f in msgspec.structs.fields(node)} if _is_struct(node) else {}
        node = fields.get(part)
    return [f.name for f in msgspec.structs.fields(node)] if _is_struct(node) else []


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def validate(raw: dict[str, Any]) -> SuiteConfig:
    """The settings a parsed config table describes; ``msgspec.ValidationError`` if wrong."""
    return msgspec.convert(raw, SuiteConfig, dec_hook=from_file)


def fillable(routes: Routes, what: str, path: str) -> str:
    try:
        return routes.fill(path)
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            f"{what}: {path!r} has a placeholder [routes] does not define; use "
            + ", ".join("{" + name + "}" for name in routes.placeholders())
        ) from None


# The least a duration may be: below it no healthy service can meet the value, and a run would
# report a broken service where the config is wrong (docs/keys.md lists them).
FLOORS: dict[str, float] = {
    "http.connect_timeout": 0.1,  # a TLS handshake across an ocean takes longer
    "http.read_timeout": 0.5,  # a Worker answering from D1 in half a second is healthy
    "budgets.ceiling": 0.1,
    "budgets.overall_p95": 0.001,  # a budget of nothing judges nothing
    "budgets.endpoints": 0.001,
    "database.query_target": 0.001,
    "health.max_clock_skew": 1.0,  # Date has whole seconds
    "violet.reset_slack": 1.0,
    "cron.running_timeout": 60.0,
    "baseline.max_age": 60.0,
}


def _below_floor(config: SuiteConfig) -> tuple[str, float, float] | None:
    """The first duration below its floor: (key, value, floor)."""
    for key, floor in FLOORS.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        values = value.items() if isinstance(value, dict) else [(None, value)]
        for entry, seconds in values:
            if seconds < floor:
                where = f'{key}."{entry}"' if entry is not None else key
                return where, float(seconds), floor
    return None


def _seconds(value: float) -> str:
    return f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"


def check_consistency(config: SuiteConfig, source: str) -> SuiteConfig:
    """What the schema cannot say: keys that refer to each other, and values no healthy
    service can meet. Every mistake here would otherwise weaken a gate silently (a budget
    nobody applies), fail a healthy service (a 1 ms timeout) or crash mid-run."""
    low = _below_floor(config)
    if low is not None:
        where, value, floor = low
        raise ConfigError(
            f"{source}: {where}: {_seconds(value)} is below the least it may be "
            f"({_seconds(floor)}): no healthy service could meet it, and the run would call the "
            "service broken; raise it"
        )
    try:
        re.compile(config.safety.sensitive_url)
    except re.error as exc:
        raise ConfigError(
            f"{source}: safety.sensitive_url: not a regular expression ({exc}); fix the pattern"
        ) from None
    routes = config.routes
    if not routes.critical:
        raise ConfigError(
            f"{source}: routes.critical is empty: the latency gate would judge nothing; list at "
            "least one route"
        )
    fillable(routes, f"{source}: routes.artist", routes.artist)
    for name, route in routes.critical.items():
        fillable(routes, f"{source}: routes.critical.{name}.path", route.path)
    measured = routes.measured_endpoints(config.health.path)
    for key in config.budgets.endpoints:
        if not any(end == key or end.startswith(key.rstrip("/") + "/") for end in measured):
            close = difflib.get_close_matches(key, measured, n=1, cutoff=0.0)
            raise ConfigError(
                f"{source}: budgets.endpoints.{key!r} matches no route the suite measures, so "
                f"its budget would never apply; did you mean {close[0]!r}? (measured: "
                f"{', '.join(measured)})"
            )
    for entry in config.security.maintenance_routes:
        _, path = maintenance_probe(entry)
        if not path.startswith("/") or " " in path:
            raise ConfigError(
                f"{source}: security.maintenance_routes: {entry!r} is not a path or 'METHOD "
                f'/path\' ({", ".join(PROBE_METHODS)}); write e.g. "POST /v1/jobs/run"'
            )
        if path.startswith(PLATFORM_ROUTES):
            raise ConfigError(
                f"{source}: security.maintenance_routes: {entry!r} is the platform's own route, "
                "not the Worker's (on `wrangler dev`, /__scheduled runs the cron for anyone): "
                "remove it"
            )
    if "{domain}" not in config.tls.rdap_url:
        raise ConfigError(f"{source}: tls.rdap_url must contain {{domain}}")
    return config


def load_config(path: Path | None, environment: str) -> SuiteConfig:
    """Read and validate the config file, then apply its ``[env.<environment>]`` overrides.

    Every environment's overrides are validated, not just the selected one, so a typo in the
    staging section is found by the production run too.
    """
    if path is None:
        return SuiteConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc}); check it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    overrides = raw.pop("env", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: env must be a table of [env.<name>] sections")
    try:
        check_consistency(validate(raw), str(path))
    except msgspec.ValidationError as exc:
        raise ConfigError(_one_line(str(path), exc, raw)) from None
    for name, overlay in overrides.items():
        if name not in ENVIRONMENTS:
            raise ConfigError(
                f"{path}: env.{name}: unknown environment; use one of {', '.join(ENVIRONMENTS)}"
            )
        if not isinstance(overlay, dict):
            raise ConfigError(f"{path}: env.{name} must be a table")
        try:
            check_consistency(validate(_merge(raw, overlay)), f"{path} [env.{name}]")
        except msgspec.ValidationError as exc:
            raise ConfigError(
                _one_line(f"{path} [env.{name}]", exc, _merge(raw, overlay))
            ) from None
    return validate(_merge(raw, overrides.get(environment, {})))
