"""The release gate around Locust: budgets, the verdict table, and the ``perf`` command.

``python -m umbrella_checks perf [--umbrella-sandbox] [locust options]`` runs
``perf/locustfile.py`` headless with the bounds in pyproject.toml's ``[tool.locust]``, names its
reports ``reports/perf-<UTC timestamp>.*`` and exits 1 when a budget is broken, 4 when it could
not run (no target, a refused or unreachable one, bad input) — refused before Locust starts, so
no report of a run that never was is left. Locust has no percentile gate of its own; the
locustfile calls ``judge`` from its ``quitting`` listener.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from umbrella_checks.access import SettingsError, clerk_access, clerk_client
from umbrella_checks.config.suite import Budgets, ConfigError, SuiteConfig
from umbrella_checks.errors import CheckFailed
from umbrella_checks.sandbox.faults import parse_faults
from umbrella_checks.sandbox.process import SandboxNotStarted, SandboxProcess
from umbrella_checks.sandbox.switches import FaultError
from umbrella_checks.services.clerk import ClerkError, TokenStore
from umbrella_checks.settings import script_config
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.client import ApiClient
from umbrella_checks.target.safety import Reported, read_reported, refusal


@dataclass(frozen=True)
class EndpointStats:
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Line:
    stats: EndpointStats
    budget_ms: float | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def error_rate(stats: EndpointStats) -> float:
    return stats.failures / stats.requests if stats.requests else 1.0


# A P95 from fewer samples than this is the slowest request or the one before it: not judged.
MIN_P95_SAMPLES = 20


def judge_line(stats: EndpointStats, budget_ms: float | None, budgets: Budgets) -> Line:
    """An endpoint is ok when its P95 is within budget *and* its own error rate is: an
    endpoint whose requests fail is never ok, however fast its errors come back. With too few
    samples for a P95 the line says so instead of judging it."""
    problems = []
    if budget_ms is not None and stats.requests < MIN_P95_SAMPLES:
        budget_ms = None
    elif budget_ms is not None and stats.p95_ms >= budget_ms:
        problems.append("P95 over budget")
    if error_rate(stats) >= budgets.error_rate:
        problems.append(f"errors {error_rate(stats):.1%}")
    return Line(stats, budget_ms, tuple(problems))


def judge(
    endpoints: list[EndpointStats],
    total: EndpointStats,
    budgets: Budgets,
    fail_unjudged: bool = False,
) -> tuple[bool, str]:
    """The verdict and the table: endpoint, requests, failures, P50, P95, P99, budget, verdict.
    The overall P95 needs enough samples too: without them the gate fails (no evidence, no
    pass); endpoints whose P95 could not be judged are counted, and fail with
    ``fail_unjudged`` ([perf] fail_unjudged)."""
    lines = [judge_line(stats, budgets.for_endpoint(stats.name), budgets) for stats in endpoints]
    unjudged = [
        line
        for line in lines
        if budgets.for_endpoint(line.stats.name) is not None and line.budget_ms is None
    ]
    if total.requests < MIN_P95_SAMPLES:
        overall_problems: tuple[str, ...] = (
            f"P95 cannot be judged on {total.requests} samples (< {MIN_P95_SAMPLES})",
        )
    elif total.p95_ms >= budgets.overall_p95 * 1000:
        overall_problems = ("P95 over budget",)
    else:
        overall_problems = ()
    overall = Line(total, budgets.overall_p95 * 1000, overall_problems)
    lines.append(overall)
    total_rate = error_rate(total)
    errors_ok = total_rate < budgets.error_rate  # no requests at all is a 100% error rate
    header = (
        f"{'endpoint':<22}{'requests':>9}{'failures':>9}{'P50':>8}{'P95':>8}{'P99':>8}"
        f"{'budget':>10}  verdict"
    )
    rows = [header, "-" * len(header)]
    for line in lines:
        s = line.stats
        limit = f"<{line.budget_ms:.0f}ms" if line.budget_ms is not None else "-"
        verdict = "ok" if line.ok else "FAIL: " + ", ".join(line.problems)
        if line.ok and budgets.for_endpoint(s.name) is not None and line.budget_ms is None:
            verdict = f"ok; P95 not judged: {s.requests} samples (< {MIN_P95_SAMPLES})"
        rows.append(
            f"{s.name:<22}{s.requests:>9}{s.failures:>9}{s.p50_ms:>8.0f}{s.p95_ms:>8.0f}"
            f"{s.p99_ms:>8.0f}{limit:>10}  {verdict}"
        )
    rows.append(
        f"{'error rate':<22}{total.requests:>9}{total.failures:>9}{'':>24}"
        f"{'<' + format(budgets.error_rate, '.0%'):>10}  "
        f"{total_rate:.2%} {'ok' if errors_ok else 'FAIL: error rate over budget'}"
    )
    passed = errors_ok and all(line.ok for line in lines) and not (fail_unjudged and unjudged)
    not_judged = (
        f"; {len(unjudged)} endpoint(s) with a budget not judged for too few samples"
        + (" ([perf] fail_unjudged: a failure)" if fail_unjudged else "")
        if unjudged
        else ""
    )
    rows.append(
        f"verdict: {'PASS' if passed else 'FAIL'}{not_judged}  (P95 from Locust, rounded to ~2 "
        "significant figures; an endpoint's own error rate is judged against "
        f"{budgets.error_rate:.0%} too)"
    )
    return passed, "\n".join(rows)


def limit_warnings(users: int, config: SuiteConfig) -> list[str]:
    """Documented rate limits this load would trip: every Locust user shares one IP and one
    test account, so the whole profile counts against each limit."""
    think = (config.perf.think_time_min + config.perf.think_time_max) / 2
    per_second = users / think if think > 0 else float("inf")
    warnings = []
    for name, documented in config.security.rate_limits.items():
        expected = per_second * documented.window
        if expected > documented.limit:
            warnings.append(
                f"perf: warning: about {expected:.0f} requests per {documented.window:g} s from "
                f"one {documented.per} would trip the documented limit {name!r} "
                f"({documented.limit}); expect 429s, or lower the users (-u)"
            )
    return warnings


def reported_environment(host: str, config: SuiteConfig) -> Reported:
    """One GET of the health route, read as the pytest tiers' guard reads it."""
    client = ApiClient.for_target(host, config)
    try:
        return read_reported(client.get(config.health.path), config.health.environment_field)
    except CheckFailed as exc:
        return Reported(None, f"no health answer: {exc.message}")
    finally:
        client.close()


def load_test_refused(
    host: str,
    environment: str,
    config: SuiteConfig,
    reported: Reported,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Why a load test must not start against this host, or None: the pytest tiers' rule for
    destructive checks (safety.py) — the target must positively report non-production. The
    remedy names only what is not already set (``env``: the process environment)."""
    reason = refusal(
        base_url=host,
        environment=environment,
        pattern=config.safety.sensitive_url,
        reported=reported,
    )
    if not reason:
        return None
    given = os.environ if env is None else env
    if not given.get("ENVIRONMENT", "").strip():
        remedy = "set ENVIRONMENT to the one the target reports"
    elif reported.environment is None:
        remedy = "the target must answer its health route with the environment it is"
    elif reported.environment == "production":
        remedy = "point API_URL (or --host) at a staging, preview or development deployment"
    else:
        remedy = f"ENVIRONMENT says {environment}, the target reports {reported.environment}"
    return (
        f"refused to load-test {host}: {reason}. Load tests run only against a target that "
        f"reports staging, preview or development ({remedy})"
    )


COULD_NOT_RUN = 4


def _could_not_run(message: str) -> int:
    """One line, and 4: the gate could not run (bad input, no target, a refused or unreachable
    one) — 1 means it judged the service slow."""
    print(message, file=sys.stderr, flush=True)
    return COULD_NOT_RUN


def _bad_input(message: str) -> NoReturn:
    """``_could_not_run`` where there is no caller to return to (the locustfile's import)."""
    raise SystemExit(_could_not_run(message))


def _start_sandbox(faults: list[str], env: dict[str, str]) -> SandboxProcess:
    """Start the sandbox and point ``env`` (target, environment, user token) at it."""
    # Its own process: Locust's gevent must not share a GIL with the server it measures.
    try:
        sandbox = SandboxProcess.spawn(parse_faults(faults, os.environ).raw, "development")
    except (FaultError, SandboxNotStarted) as exc:
        _bad_input(f"perf: {exc}")
    env["API_URL"] = sandbox.url
    env["ENVIRONMENT"] = str(sandbox.info["environment"])
    env["UMBRELLA_USER_TOKEN"] = str(sandbox.info["tokens"]["user"])
    return sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m umbrella_checks perf",
        description="Release gate: the Locust profile, judged against the P95 budgets.",
    )
    # The same spelling as the pytest tiers' (one spelling everywhere).
    parser.add_argument("--umbrella-sandbox", action="store_true", help="load the bundled sandbox")
    parser.add_argument(
        "--umbrella-sandbox-fault", action="append", default=[], metavar="NAME[=VALUE]"
    )
    parser.add_argument("--reports-dir", default="reports")
    parser.add_argument("--perf-dir", default="perf", help="folder with locustfile.py")
    args, locust_args = parser.parse_known_args(argv)
    for given in locust_args:
        if given.split("=", 1)[0] in ("--sandbox", "--sandbox-fault"):
            return _could_not_run(
                f"perf: unknown option {given}; did you mean --umbrella-{given[2:]}?"
            )
    env = dict(os.environ)
    sandbox = _start_sandbox(args.umbrella_sandbox_fault, env) if args.umbrella_sandbox else None
    try:
        return _gate(args, locust_args, env)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _gate(args: argparse.Namespace, locust_args: list[str], env: dict[str, str]) -> int:
    """The target cleared first (no Locust, no report, when it is not), then the load."""
    host = _host_of(locust_args) or env.get("API_URL", "").strip()
    if not host:
        return _could_not_run(
            "perf: no target: set API_URL, pass --host URL, or --umbrella-sandbox"
        )
    if not (Path(args.perf_dir).parent / "pyproject.toml").is_file():
        return _could_not_run(
            f"perf: no pyproject.toml beside {args.perf_dir}/ (its [tool.locust] bounds the "
            "run): run from the umbrella-checks checkout, or pass --perf-dir"
        )
    config, environment = load_suite_config(env)
    reason = load_test_refused(host, environment, config, reported_environment(host, config), env)
    if reason:
        return _could_not_run(f"perf: {reason}")
    store = None
    if not args.umbrella_sandbox and not static_user_token(env):
        try:
            store = mint_for_locust(env)
        except ClerkError as exc:
            return _could_not_run(f"perf: cannot mint a test token: {exc}")
    command = _locust_command(Path(args.perf_dir), Path(args.reports_dir), host, locust_args, env)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        for problem in store.close() if store else []:
            print(f"perf: {problem}", file=sys.stderr)


def _locust_command(
    perf: Path, reports: Path, host: str, locust_args: list[str], env: dict[str, str]
) -> list[str]:
    """Headless Locust with the profile's config, reports named ``perf-<UTC stamp>.*``."""
    reports.mkdir(parents=True, exist_ok=True)
    base = reports / f"perf-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    env["UMBRELLA_PERF_VERDICT"] = f"{base}-verdict.txt"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(perf / "locustfile.py"),
        # The profile's bounds live where Locust looks for them ([tool.locust]): a plain
        # `locust` in the checkout reads the same ones.
        "--config",
        str(perf.parent / "pyproject.toml"),
        "--html",
        f"{base}.html",
        "--csv",
        str(base),
    ]
    if host and not _host_given(locust_args):
        command += ["--host", host]
    return [*command, *locust_args]


def _host_given(locust_args: list[str]) -> bool:
    """``--host URL``, ``--host=URL``, ``-H URL`` or ``-HURL``, as Locust itself reads them."""
    return any(arg == "--host" or arg.startswith(("--host=", "-H")) for arg in locust_args)


def _host_of(locust_args: list[str]) -> str:
    """The host Locust will be given on its command line, "" when none."""
    for index, arg in enumerate(locust_args):
        if arg in ("--host", "-H"):
            return locust_args[index + 1] if index + 1 < len(locust_args) else ""
        if arg.startswith("--host="):
            return arg.removeprefix("--host=")
        if arg.startswith("-H"):
            return arg.removeprefix("-H")
    return ""


TOKEN_FILE_ENV = "UMBRELLA_TOKEN_FILE"


def mint_for_locust(env: dict[str, str]) -> TokenStore | None:
    """Mint the user account's token once for the whole load test (all Locust processes)."""
    config, _ = load_suite_config(env)
    access = clerk_access(env, {"user": None})
    if access is None or "user" not in access.mint:
        return None
    store = TokenStore.create(
        clerk_client(access, config), {"user": access.mint["user"]}, config.clerk.refresh_margin
    )
    env[TOKEN_FILE_ENV] = str(store.path)
    return store


def load_suite_config(env: Mapping[str, str]) -> tuple[SuiteConfig, str]:
    """The same umbrella.toml the pytest tiers read, and the expected environment."""
    try:
        return script_config(env, Path.cwd())
    except (ConfigError, SettingsError) as exc:
        _bad_input(f"perf: {exc}")


def static_user_token(env: Mapping[str, str]) -> str | None:
    token = Accounts.from_environment(env).optional("user")
    return token.reveal() if token is not None else None


if __name__ == "__main__":
    raise SystemExit(main())
