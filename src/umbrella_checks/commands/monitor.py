"""Monitor mode: the runbook's alert rule "non-200 for 2+ consecutive checks".

Only no answer or a non-200 counts towards a page; a 200 whose body is not the healthy one is a
warning in the output (the post-deploy and daily tiers judge bodies).

``python -m umbrella_checks monitor --once`` checks health once and keeps its state in
``reports/monitor-state.json`` (for a scheduler every 5 minutes); ``--interval 300`` loops
instead. It alerts Slack (``SLACK_WEBHOOK_URL``) on the second consecutive failure, once, and
once more on recovery. Exit code: 0 when the last check was healthy, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from umbrella_checks.access import SettingsError, validate_url
from umbrella_checks.config.suite import ConfigError, SuiteConfig
from umbrella_checks.errors import CheckFailed
from umbrella_checks.secrets import from_env
from umbrella_checks.services.slack import post
from umbrella_checks.settings import script_config
from umbrella_checks.target.client import ApiClient

THRESHOLD = 2  # consecutive failures before alerting (runbook › Monitoring › Application Health)


@dataclass
class State:
    failures: int = 0
    alerted: bool = False
    last: str = ""
    # The target this state counts for: another target's failures never carry over (and its
    # recovery is never announced for this one).
    target: str = ""

    @classmethod
    def load(cls, path: Path, target: str) -> State:
        try:
            state = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return cls(target=target)  # no or unreadable state: start counting afresh
        return state if state.target == target else cls(target=target)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")


@dataclass(frozen=True)
class Observation:
    # Page-worthy: no answer, or not 200 (the runbook's rule). None when health answered 200.
    problem: str | None
    # A 200 whose body is not the healthy one the contract describes: shown, never paged.
    warning: str | None = None


def observe_health(base: str, config: SuiteConfig) -> Observation:
    """One GET of health, read as the checks read it (the same client, the recorded envelope
    and field path)."""
    api = ApiClient.for_target(base, config)
    try:
        answer = api.get(config.health.path)
    except CheckFailed as exc:
        return Observation(exc.message)
    finally:
        api.close()
    if answer.status != 200:
        return Observation(f"{answer.what}: HTTP {answer.status}")
    rules = config.health
    status = answer.find(rules.status_field)
    if status is None:
        return Observation(None, f"200, but no {rules.status_field} in the body")
    if status != rules.healthy:
        return Observation(None, f"200, but {rules.status_field} is {status!r}")
    return Observation(None)


def step(state: State, problem: str | None) -> str | None:
    """Advance the state by one check; the message to send, if any."""
    if problem is None:
        message = f":white_check_mark: recovered: {state.last}" if state.alerted else None
        state.failures, state.alerted = 0, False
        return message
    state.failures += 1
    state.last = problem
    if state.failures >= THRESHOLD and not state.alerted:
        state.alerted = True
        return f":red_circle: health failing {state.failures} checks in a row: {problem}"
    return None


def run_once(base: str, config: SuiteConfig, state_path: Path) -> bool:
    state = State.load(state_path, base)
    seen = observe_health(base, config)
    problem = seen.problem
    message = step(state, problem)
    state.save(state_path)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    print(
        f"{stamp} {'ok' if problem is None else 'FAIL ' + problem}"
        f"{f' (warning: {seen.warning})' if seen.warning else ''} "
        f"(consecutive failures: {state.failures})",
        flush=True,
    )
    if message:
        webhook = from_env("SLACK_WEBHOOK_URL")
        if webhook is None:
            print(f"alert (SLACK_WEBHOOK_URL not set): {message}", flush=True)
        else:
            print(post(webhook, message, config.http) or "alert sent", flush=True)
    return problem is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m umbrella_checks monitor",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("API_URL"),
        help="the API to watch, e.g. https://umbrella.app (env API_URL)",
    )
    parser.add_argument("--umbrella-config", help="thresholds file (env UMBRELLA_CONFIG)")
    parser.add_argument(
        "--state",
        default="reports/monitor-state.json",
        help="where --once keeps the consecutive-failure count between runs (per target; "
        "default reports/monitor-state.json)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one check, state kept in --state")
    mode.add_argument(
        "--interval",
        type=float,
        default=300.0,
        help="seconds between checks (default: %(default)s)",
    )
    parser.add_argument(
        "--count", type=int, default=0, help="stop after N checks (default: %(default)s, never)"
    )
    args = parser.parse_args(argv)
    try:
        if not args.base_url:
            raise SettingsError("no target: pass --base-url https://umbrella.app or set API_URL")
        base = validate_url(args.base_url, "--base-url")
        config, _ = script_config(os.environ, Path.cwd(), args.umbrella_config)
    except (SettingsError, ConfigError) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 4
    state = Path(args.state)
    if args.once:
        return 0 if run_once(base, config, state) else 1
    done = 0
    while True:
        healthy = run_once(base, config, state)
        done += 1
        if args.count and done >= args.count:
            return 0 if healthy else 1
        time.sleep(args.interval)


if __name__ == "__main__":
    raise SystemExit(main())
