"""``python -m umbrella_checks contract diff``: where the target's shape differs from what
``umbrella.toml`` records, per route family the tiers judge, with every line to record, in one
pass.

Read-only: GETs and CORS preflights — health, the CORS preflight of each allowed origin, the
routes built from [routes] ids, an unknown route, a signed-in route without a token (401), the
admin route as the user (403) and as the admin, Violet's usage — and, only against a target
that says it is not production, one Violet prompt with an empty prompt, refused before any
work, to see which fields the service asks for. The settings resolve as the tiers' do (the
command line, then the environment, then the file: ``--umbrella-environment``, ``--base-url``,
``--umbrella-config``). Each difference says what would record it — or, when it is something the
runbook needs that the answer lacks (health's environment, say), that the Worker must add it:
never a recording that would hide it. It never writes the config: drift to record and a defect
to fix look the same from outside. Exit 0: no differences; 1: some; 4: bad input, or a target
that did not answer.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.access import SettingsError
from umbrella_checks.config.suite import ConfigError, SuiteConfig
from umbrella_checks.errors import CheckFailed
from umbrella_checks.secrets import Secret
from umbrella_checks.settings import Settings, resolve
from umbrella_checks.target.answer import Answer, envelope_problem
from umbrella_checks.target.client import ApiClient
from umbrella_checks.target.safety import read_reported


@dataclass(frozen=True)
class Difference:
    said: str
    # The line that records it, under [env.<environment>.<section>]; None when there is nothing
    # to record (the Worker must change), or nothing known to write.
    section: str | None = None
    record: str | None = None
    # Not a difference: a route not asked (a token missing, a production target).
    not_asked: bool = False
    # The record names what to write, but not its value (the diff cannot see it): written as a
    # comment in the block to paste.
    unknown_value: bool = False

    @property
    def line(self) -> str:
        if self.record:
            return f"{self.said}; to record: [{self.section}] {self.record}"
        return self.said


Found = dict[str, list[Difference]]


def _keys(value: Any) -> list[str]:
    return sorted(value) if isinstance(value, dict) else []


def _body(answer: Answer, config: SuiteConfig, route: str, found: list[Difference]) -> Any:
    """The JSON body as the checks read it (recorded bare: as if enveloped); a missing or
    unexpected envelope is said."""
    recorded_bare = any(route.startswith(b) for b in config.envelope.bare_routes)
    try:
        raw = answer.parsed()
    except ValueError:
        found.append(Difference(f"answers {answer.status} without JSON"))
        return None
    if envelope_problem(raw) and not recorded_bare:
        found.append(
            Difference(
                f"no envelope (top-level keys: {', '.join(_keys(raw)) or 'none'})",
                "envelope",
                f'bare_routes = ["{route}"]',
            )
        )
        return {"data": raw}
    if recorded_bare and not envelope_problem(raw):
        found.append(Difference(f"has the envelope, but [envelope] bare_routes lists {route}"))
        return raw
    return {"data": raw} if recorded_bare else raw


def _at(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _where(node: Any, matches: Callable[[str, Any], bool], prefix: str = "") -> str | None:
    """The dotted path of the first field whose (name, value) matches."""
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        path = f"{prefix}{key}"
        if matches(key, value):
            return path
        deeper = _where(value, matches, f"{path}.")
        if deeper:
            return deeper
    return None


def _iso(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return isinstance(value, str)


# Each fact the runbook needs health to say: its key, why, and what a field holding it looks like.
HEALTH_FACTS: dict[str, tuple[str, Callable[[str, Any, SuiteConfig], bool]]] = {
    "status_field": ("whether it is healthy", lambda k, v, c: v == c.health.healthy),
    "environment_field": ("which environment answers", lambda k, v, c: v in ENVIRONMENTS),
    "version_field": (
        "which release is live",
        lambda k, v, c: isinstance(v, str) and bool(re.fullmatch(r"v?\d+(\.\d+)+\S*", v)),
    ),
    "timestamp_field": ("that the answer is current", lambda k, v, c: _iso(v)),
    "dependencies_field": (
        "how D1, KV and R2 are",
        lambda k, v, c: isinstance(v, dict) and c.health.healthy in v.values(),
    ),
}


def _against(
    looks_right: Callable[[str, Any, SuiteConfig], bool], config: SuiteConfig
) -> Callable[[str, Any], bool]:
    return lambda key, value: looks_right(key, value, config)


def health(api: ApiClient, config: SuiteConfig) -> list[Difference]:
    found: list[Difference] = []
    body = _body(api.get(config.health.path), config, config.health.path, found)
    if body is None:
        return found
    for key, (needed, looks_right) in HEALTH_FACTS.items():
        path = getattr(config.health, key)
        if not path or _at(body, path) is not None:
            continue
        other = _where(body, _against(looks_right, config))
        if other:
            found.append(
                Difference(f"{path} absent, {other} holds it", "health", f'{key} = "{other}"')
            )
        else:
            found.append(
                Difference(
                    f"{path} absent, and no field of the answer says {needed}: the runbook needs "
                    "health to say it — add it to the Worker's health answer (nothing to record)"
                )
            )
    return found


def cors(api: ApiClient, config: SuiteConfig) -> list[Difference]:
    found = []
    for origin in config.cors.allowed_origins:
        answer = api.request(
            "OPTIONS",
            config.cors.preflight_path,
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        granted = answer.headers.get("Access-Control-Allow-Origin")
        if granted != origin:
            found.append(
                Difference(
                    f"a preflight from {origin} is granted {granted or 'no origin'}: this "
                    "environment does not allow it",
                    "cors",
                    'allowed_origins = ["<each origin this environment allows>"]',
                    unknown_value=True,
                )
            )
    return found


def ids(api: ApiClient, config: SuiteConfig, user: Secret | None) -> list[Difference]:
    """The routes built from [routes] ids: a 404 is an id this environment's data lacks."""
    routes = config.routes
    found = []
    known = _an_id(api, routes.fill("/v1/artists?limit=1"), user)
    for key, path in (("artist_id", routes.artist), ("profile_id", "/v1/profile/{profile_id}")):
        answer = api.get(routes.fill(path))
        if answer.status == 404:
            value = f'"{known}"' if known else "an id this environment has"
            found.append(
                Difference(
                    f"{routes.fill(path)} answers 404: {key} = {getattr(routes, key)!r} is not in "
                    "this environment's data",
                    "routes",
                    f"{key} = {value}",
                )
            )
    return found


def _an_id(api: ApiClient, path: str, user: Secret | None) -> str | None:
    """An id this environment's data has: the first of a signed-in list."""
    if user is None:
        return None
    items = api.get(path, token=user).find("data")
    if isinstance(items, list) and items and isinstance(items[0], dict) and "id" in items[0]:
        return str(items[0]["id"])
    return None


def error_code(
    api: ApiClient, config: SuiteConfig, path: str, name: str, token: Secret | None = None
) -> list[Difference]:
    answer = api.get(path, token=token)
    found: list[Difference] = []
    body = _body(answer, config, path, found)
    actual = _at(body, "error.code") if body is not None else None
    expected = config.errors.codes.get(name, name)
    if body is not None and actual is None:
        return [*found, Difference(f"{answer.status} without error.code")]
    if actual is None or actual == expected:
        return found
    if str(actual).casefold() == expected.casefold() and not config.errors.strict_case:
        return found  # compared without case: nothing to record
    return [
        *found,
        Difference(
            f'error code "{actual}" where the contract says "{expected}"',
            "errors",
            f'codes = {{ {name} = "{actual}" }}',
        ),
    ]


def admin(api: ApiClient, config: SuiteConfig, token: Secret | None) -> list[Difference]:
    if token is None:
        return [
            Difference(
                "not asked: set UMBRELLA_ADMIN_TOKEN to compare the admin route", not_asked=True
            )
        ]
    answer = api.get(config.routes.admin, token=token)
    if answer.status == 200:
        return []
    return [
        Difference(
            f"the admin account's token is answered {answer.status}: the admin test account is "
            "not an admin here (nothing to record: give the account the admin role)"
        )
    ]


def usage(api: ApiClient, config: SuiteConfig, user: Secret | None) -> list[Difference]:
    violet = config.violet
    if user is None:
        return [
            Difference(
                "not asked: set UMBRELLA_USER_TOKEN to compare the usage route", not_asked=True
            )
        ]
    answer = api.get(violet.usage_path, token=user)
    found: list[Difference] = []
    body = _body(answer, config, violet.usage_path, found)
    names = violet.headers
    carried = [n for n in (names.limit, names.remaining, names.reset) if n in answer.headers]
    without_headers = violet.headers_on_usage and len(carried) < 3
    if without_headers:
        others = [h for h in answer.headers if h.lower().startswith(("x-ratelimit", "ratelimit"))]
        found.append(
            Difference(
                f"rate-limit headers {names.limit}, {names.remaining}, {names.reset} absent "
                f"(rate-limit headers it has: {', '.join(others) or 'none'})",
                "violet",
                "headers_on_usage = false",
            )
        )
    fields = ["used_field", "remaining_field"]
    if without_headers or not violet.headers_on_usage:  # all in one pass: the body says all
        fields += ["limit_field", "reset_field"]
    for key in fields:
        path = getattr(violet, key)
        if body is not None and _at(body, path) is None:
            parent_path = path.rsplit(".", 1)[0] if "." in path else ""
            parent = _at(body, parent_path) if parent_path else body
            named = _named_like(key, _keys(parent))
            said = f"{path} absent (its object has: {', '.join(_keys(parent)) or 'nothing'})"
            if named:
                found.append(Difference(said, "violet", f'{key} = "{parent_path}.{named}"'))
            else:
                found.append(
                    Difference(said, "violet", f'{key} = "<its path>"', unknown_value=True)
                )
    return found


# What the usage answer's fields are called elsewhere (a field's name that says the same).
USAGE_NAMES = {
    "used_field": ("used", "count", "consumed", "spent"),
    "remaining_field": ("remaining", "left", "available"),
    "limit_field": ("limit", "quota", "allowance", "max"),
    "reset_field": ("reset",),
}


def _named_like(key: str, names: list[str]) -> str | None:
    """The one field whose name says what ``key`` records, if exactly one does."""
    matching = [name for name in names if any(word in name.lower() for word in USAGE_NAMES[key])]
    return matching[0] if len(matching) == 1 else None


def prompt(
    api: ApiClient, config: SuiteConfig, user: Secret | None, reported: str | None
) -> list[Difference]:
    """One prompt with an empty text — refused before any work — to see what fields the service
    asks for; only against a target that says it is not production."""
    violet = config.violet
    if user is None:
        return [
            Difference(
                "not asked: set UMBRELLA_USER_TOKEN to compare the prompt body", not_asked=True
            )
        ]
    if reported in (None, "production"):
        return [
            Difference(
                "not asked: a POST is sent only to a target that says it is not production",
                not_asked=True,
            )
        ]
    body = violet.prompt("")
    answer = api.request("POST", violet.prompt_path, token=user, json=body)
    field = answer.find("error.field")
    if answer.status == 400 and isinstance(field, str) and field not in body:
        known = ", ".join(f'{key} = "{value}"' for key, value in violet.prompt_body.items())
        return [
            Difference(
                f"a prompt needs {field!r} too ({answer.find('error.message')})",
                "violet",
                f'prompt_body = {{ {known}, {field} = "<its value>" }}',
            )
        ]
    if answer.status < 400:
        return [
            Difference(f"an empty prompt was accepted ({answer.status}): validation is missing")
        ]
    return []


def diff(settings: Settings) -> Found:
    """Every route family, what differs (nothing: the same)."""
    config = settings.config
    user, admin_token = settings.tokens.get("user"), settings.tokens.get("admin")
    api = ApiClient.for_target(settings.base_url, config)
    try:
        found: Found = {f"GET {config.health.path}": health(api, config)}
        reported = read_reported(api.get(config.health.path), config.health.environment_field)
        found[f"OPTIONS {config.cors.preflight_path} (allowed origins)"] = cors(api, config)
        found["GET routes built from [routes] ids"] = ids(api, config, user)
        found[f"GET {config.routes.unknown}"] = error_code(
            api, config, config.routes.unknown, "not_found"
        )
        found[f"GET {config.routes.profile} (no token)"] = error_code(
            api, config, config.routes.profile, "authentication_failed"
        )
        if user is not None:
            found[f"GET {config.routes.admin} (the user)"] = error_code(
                api, config, config.routes.admin, "authorization_failed", user
            )
        found[f"GET {config.routes.admin} (the admin)"] = admin(api, config, admin_token)
        found[f"GET {config.violet.usage_path}"] = usage(api, config, user)
        found[f"POST {config.violet.prompt_path} (an empty prompt)"] = prompt(
            api, config, user, reported.environment
        )
        return found
    finally:
        api.close()


def _recording(found: Found, environment: str) -> list[str]:
    """The TOML to paste, grouped by section, for this environment (a value the diff cannot see
    as a comment: fill it in)."""
    by_section: dict[str, list[str]] = {}
    for differences in found.values():
        for difference in differences:
            if difference.section and difference.record:
                line = f"# {difference.record}" if difference.unknown_value else difference.record
                by_section.setdefault(difference.section, []).append(line)
    lines = []
    for section, records in by_section.items():
        lines += [f"[env.{environment}.{section}]", *dict.fromkeys(records), ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m umbrella_checks contract",
        description="Where the target's shape differs from what umbrella.toml records.",
    )
    parser.add_argument("command", choices=["diff"])
    parser.add_argument("--base-url", help="the API to compare (env API_URL)")
    parser.add_argument("--umbrella-config", help="thresholds file (env UMBRELLA_CONFIG)")
    parser.add_argument(
        "--umbrella-environment",
        help=f"expected environment: {', '.join(ENVIRONMENTS)} (env ENVIRONMENT)",
    )
    args = parser.parse_args(argv)
    given = {
        "base_url": args.base_url,
        "umbrella_config": args.umbrella_config,
        "environment": args.umbrella_environment,
    }
    try:
        settings = resolve(given.get, os.environ, Path.cwd())
    except (SettingsError, ConfigError) as exc:
        print(f"contract: {exc}", file=sys.stderr)
        return 4
    try:
        found = diff(settings)
    except CheckFailed as exc:  # no connection, no answer: nothing was compared
        print(f"contract: {exc.message}", file=sys.stderr)
        return 4
    print(f"{settings.base_url} ({settings.environment}) against the recorded contract:")
    for route, differences in found.items():
        print(f"  {route}: {'same' if not differences else ''}".rstrip())
        for difference in differences:
            print(f"    - {difference.line}")
    recording = _recording(found, settings.environment)
    if recording:
        print(
            "\nTo record the differences that are deliberate, in umbrella.toml (a commented line "
            "needs its value):\n"
        )
        print("\n".join(f"  {line}" if line else "" for line in recording))
    differs = any(not d.not_asked for differences in found.values() for d in differences)
    return 1 if differs else 0


if __name__ == "__main__":
    raise SystemExit(main())
