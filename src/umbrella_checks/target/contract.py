"""``python -m umbrella_checks contract diff``: where the target's shape differs from what
``umbrella.toml`` records, per route, at a glance.

Read-only: a handful of GETs (health, Violet usage with the user's token when one is set, an
unknown route, a signed-in route without a token). It prints each difference — a missing
envelope, fields absent or extra, header names, error-code spelling — with the line that would
record it, and never writes the config itself: whether a difference is drift to record or a
defect to fix is the user's call. Exit 0: no differences; 1: some; 4: bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from umbrella_checks.config.settings import TOKEN_VARS, SettingsError, script_config, validate_url
from umbrella_checks.config.suite import ConfigError, SuiteConfig
from umbrella_checks.errors import CheckFailed
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.answer import Answer, envelope_problem
from umbrella_checks.target.client import ApiClient


def _keys(value: Any) -> list[str]:
    return sorted(value) if isinstance(value, dict) else []


def _enveloped(answer: Answer, config: SuiteConfig, route: str) -> list[str]:
    """The envelope difference, if any; a bare answer is then read as if recorded bare, so
    the field paths are compared as they would be once the route is recorded."""
    recorded_bare = any(route.startswith(b) for b in config.envelope.bare_routes)
    try:
        raw = answer.parsed()
    except ValueError:
        return [f"answers {answer.status} without JSON"]
    answer.enveloped = not envelope_problem(raw)
    if envelope_problem(raw) and not recorded_bare:
        return [
            f"no envelope (top-level keys: {', '.join(_keys(raw)) or 'none'}); to record: "
            f'[envelope] bare_routes = ["{route}"]'
        ]
    if recorded_bare and not envelope_problem(raw):
        return [f"has the envelope, but [envelope] bare_routes lists {route}"]
    return []


def _fields(answer: Answer, wanted: dict[str, str]) -> list[str]:
    """Configured field paths the answer lacks, naming what the part holding them has."""
    found = []
    for key, path in wanted.items():
        if path and answer.find(path) is None:
            parent = answer.find(path.rsplit(".", 1)[0]) if "." in path else answer.body()
            found.append(
                f"{path} absent (its object has: {', '.join(_keys(parent)) or 'nothing'}); to "
                f"record: the right path in {key}"
            )
    return found


def health(api: ApiClient, config: SuiteConfig) -> list[str]:
    rules = config.health
    answer = api.get(rules.path)
    wanted = {
        "[health] status_field": rules.status_field,
        "[health] environment_field": rules.environment_field,
        "[health] version_field": rules.version_field,
        "[health] timestamp_field": rules.timestamp_field,
        "[health] dependencies_field": rules.dependencies_field,
    }
    return _enveloped(answer, config, rules.path) + _fields(answer, wanted)


def usage(api: ApiClient, config: SuiteConfig) -> list[str]:
    token = Accounts.from_environment().optional("user")
    violet = config.violet
    if token is None:
        return [f"not asked: set {TOKEN_VARS['user'][0]} to compare the usage route"]
    answer = api.get(violet.usage_path, token=token)
    names = violet.headers
    carried = [n for n in (names.limit, names.remaining, names.reset) if n in answer.headers]
    found = _enveloped(answer, config, violet.usage_path)
    if violet.headers_on_usage and len(carried) < 3:
        others = [h for h in answer.headers if h.lower().startswith(("x-ratelimit", "ratelimit"))]
        found.append(
            f"rate-limit headers {names.limit}, {names.remaining}, {names.reset} absent "
            f"(rate-limit headers it has: {', '.join(others) or 'none'}); to record: "
            "[violet] headers_on_usage = false, or [violet.headers] names"
        )
    wanted = {
        "[violet] used_field": violet.used_field,
        "[violet] remaining_field": violet.remaining_field,
    }
    if not violet.headers_on_usage:
        wanted |= {
            "[violet] limit_field": violet.limit_field,
            "[violet] reset_field": violet.reset_field,
        }
    return found + _fields(answer, wanted)


def error_code(api: ApiClient, config: SuiteConfig, path: str, name: str) -> list[str]:
    answer = api.get(path)
    found = _enveloped(answer, config, path)
    actual = answer.find("error.code")
    expected = config.errors.codes.get(name, name)
    if actual is None:
        return [*found, f"{answer.status} without error.code"]
    if actual == expected:
        return found
    if str(actual).casefold() == expected.casefold() and not config.errors.strict_case:
        return found  # compared without case: nothing to record
    return [
        *found,
        f'error code "{actual}" where the contract says "{expected}"; to record: [errors] '
        f'codes = {{ {name} = "{actual}" }}',
    ]


def diff(base_url: str, config: SuiteConfig) -> dict[str, list[str]]:
    api = ApiClient.for_target(base_url, config)
    try:
        return {
            f"GET {config.health.path}": health(api, config),
            f"GET {config.violet.usage_path}": usage(api, config),
            f"GET {config.routes.unknown}": error_code(
                api, config, config.routes.unknown, "not_found"
            ),
            f"GET {config.routes.profile} (no token)": error_code(
                api, config, config.routes.profile, "authentication_failed"
            ),
        }
    finally:
        api.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m umbrella_checks contract",
        description="Where the target's shape differs from what umbrella.toml records.",
    )
    parser.add_argument("command", choices=["diff"])
    parser.add_argument("--base-url", help="the API to compare (env API_URL)")
    parser.add_argument("--umbrella-config", help="thresholds file (env UMBRELLA_CONFIG)")
    args = parser.parse_args(argv)
    try:
        url = args.base_url or os.environ.get("API_URL", "").strip()
        if not url:
            raise SettingsError("no target: pass --base-url https://umbrella.app or set API_URL")
        base = validate_url(url, "--base-url" if args.base_url else "API_URL")
        config, environment = script_config(os.environ, Path.cwd(), args.umbrella_config)
    except (SettingsError, ConfigError) as exc:
        print(f"contract: {exc}", file=sys.stderr)
        return 4
    try:
        found = diff(base, config)
    except CheckFailed as exc:
        print(f"contract: {exc.message}", file=sys.stderr)
        return 1
    print(f"{base} ({environment}) against the recorded contract:")
    for route, differences in found.items():
        print(f"  {route}: {'same' if not differences else ''}")
        for difference in differences:
            print(f"    - {difference}")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
