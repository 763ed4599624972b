"""The watch window: after the gate, the deploy judged again every minute for the runbook's 15
minutes (Maintenance Windows: "Monitor for 15 minutes post-deployment"; an hour for emergency
fixes), as the shipped workflow runs it.

Each interval asks the cheap read-only questions — health, and each critical path once — and,
where Cloudflare analytics is configured, reads the Worker's real traffic for the interval:
its error rate against the runbook's rollback criteria (> 20%: roll back; > 10%: SEV-2, a
person decides) and its P95 (> 2000 ms: SEV-2). With a baseline, each critical path is also
compared with its samples from before the deploy (a warning, never a rollback).

An interval is ``broken`` (evidence the runbook rolls back on), ``degraded``, ``healthy``, or
``could-not-measure`` (nothing answered, no analytics: no evidence either way). Two consecutive
broken intervals end the watch ``broken`` — Gatus and Argo Rollouts count consecutive failures
the same way — so one bad minute never rolls back on its own; it makes the watch ``degraded``.
A watch that could measure no interval is ``could-not-run``. No pytest here.
"""

from __future__ import annotations

import argparse
import html
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from umbrella_checks.access import SettingsError, cloudflare_access, validate_url
from umbrella_checks.config.suite import ConfigError, SuiteConfig
from umbrella_checks.config.wrangler import WranglerApp, WranglerError
from umbrella_checks.errors import CheckFailed, CouldNotCheck, RootCause, Unreachable
from umbrella_checks.operations.baseline import Baseline, BaselineError
from umbrella_checks.operations.verdict import BROKEN, COULD_NOT_RUN, DEGRADED, HEALTHY
from umbrella_checks.secrets import SecretError, scrub
from umbrella_checks.services.analytics import GraphQL, p95_bounds
from umbrella_checks.settings import script_config
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.client import ApiClient
from umbrella_checks.transport import RequestCounter

UNMEASURED = "could-not-measure"
# The runbook's numbers (Rollback Procedures; Incident Response › SEV-2).
ROLLBACK_ERROR_RATE = 0.20
SEV2_ERROR_RATE = 0.10
SEV2_P95_MS = 2000.0
# Consecutive broken intervals that roll back.
BROKEN_IN_A_ROW = 2


@dataclass(frozen=True)
class Interval:
    number: int
    at: datetime
    word: str  # broken, degraded, healthy or could-not-measure
    reasons: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        said = "; ".join(self.reasons) or "every answer as expected"
        return f"minute {self.number}: {self.word} — {said}"


@dataclass
class Evidence:
    """What one interval found, by weight."""

    broken: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: bool = False

    def word(self) -> str:
        if self.broken:
            return BROKEN
        if self.degraded:
            return DEGRADED
        return HEALTHY if self.measured else UNMEASURED


@dataclass(frozen=True)
class Analytics:
    """The Worker's real traffic, where Cloudflare analytics is configured."""

    graphql: GraphQL
    script: str


class Watch:
    def __init__(
        self,
        base_url: str,
        config: SuiteConfig,
        *,
        accounts: Accounts,
        analytics: Analytics | None = None,
        baseline: Baseline | None = None,
        every: float = 60.0,
    ) -> None:
        self.base_url = base_url
        self.config = config
        self.accounts = accounts
        self.analytics = analytics
        self.baseline = baseline
        self.every = every

    def interval(self, number: int, now: datetime) -> Interval:
        evidence = Evidence()
        # A client of its own each interval: a hang in one minute must not answer for the next.
        api = ApiClient.for_target(self.base_url, self.config, RequestCounter())
        try:
            self._health(api, evidence)
            self._critical_paths(api, evidence)
        finally:
            api.close()
        self._traffic(now, evidence)
        reasons = (*evidence.broken, *evidence.degraded, *evidence.notes)
        return Interval(number, now, evidence.word(), tuple(scrub(r) for r in reasons))

    def _health(self, api: ApiClient, evidence: Evidence) -> None:
        path = self.config.health.path
        try:
            answer = api.get(path)
        except Unreachable as exc:
            evidence.notes.append(f"health not measured: {exc.message}")
            return
        except RootCause as exc:  # connected, no answer: production down
            evidence.measured = True
            evidence.broken.append(f"health: {exc.message}")
            return
        evidence.measured = True
        if answer.status != 200:
            evidence.broken.append(f"GET {path} answered {answer.status}")

    def _critical_paths(self, api: ApiClient, evidence: Evidence) -> None:
        routes, budgets = self.config.routes, self.config.budgets
        for name, route in routes.critical.items():
            token = self.accounts.optional("user") if route.signed_in else None
            if route.signed_in and token is None:
                continue  # no credential: not asked (the gate said so already)
            path = routes.fill(route.path)
            try:
                answer = api.get(path, token=token)
            except Unreachable:
                continue
            except CheckFailed as exc:
                evidence.measured = True
                evidence.broken.append(f"{name}: {exc.message}")
                continue
            evidence.measured = True
            if answer.status >= 500:
                evidence.broken.append(f"GET {path} answered {answer.status}")
            elif answer.elapsed > budgets.ceiling:
                evidence.degraded.append(
                    f"GET {path} took {answer.elapsed:.1f} s, over the "
                    f"{budgets.ceiling:g} s ceiling"
                )
            self._against_the_baseline(f"GET {path}", answer.server_time * 1000, evidence)

    def _against_the_baseline(self, route: str, ms: float, evidence: Evidence) -> None:
        if self.baseline is None or not self.baseline.latency.get(route):
            return
        before = self.baseline.latency[route]
        rules = self.config.baseline
        median = statistics.median(before)
        if (
            ms > max(before)
            and ms - median >= rules.min_shift * 1000
            and ms >= rules.min_ratio * median
        ):
            evidence.notes.append(
                f"{route}: {ms:.0f} ms, slower than every sample before the deploy (median "
                f"{median:.0f} ms)"
            )

    def _traffic(self, now: datetime, evidence: Evidence) -> None:
        if self.analytics is None:
            return
        fields = self.config.analytics.latency_fields
        try:
            offered = set(self.analytics.graphql.quantile_fields())
            quantiles = [name for name in fields if name in offered]
            seen = self.analytics.graphql.invocations(
                self.analytics.script, now - timedelta(seconds=self.every), now, quantiles
            )
        except CouldNotCheck as exc:
            evidence.notes.append(f"traffic not measured: {exc.message}")
            return
        if not seen.requests:
            evidence.notes.append("no traffic in the interval: its error rate says nothing")
            return
        evidence.measured = True
        rate = seen.errors / seen.requests
        said = f"Worker error rate {rate:.1%} ({seen.errors} of {seen.requests} requests)"
        if rate > ROLLBACK_ERROR_RATE:
            evidence.broken.append(f"{said}, over the runbook's 20% rollback line")
        elif rate > SEV2_ERROR_RATE:
            evidence.degraded.append(f"{said}, over SEV-2's 10%")
        bounds = p95_bounds(seen.quantiles, quantiles)
        if bounds.verdict(SEV2_P95_MS) is False:
            evidence.degraded.append(f"Worker P95 {bounds.describe()}, over SEV-2's 2000 ms")

    def run(
        self,
        count: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> list[Interval]:
        """Up to ``count`` intervals, ``every`` seconds apart; ends early on the second broken
        interval in a row (there is nothing left to decide)."""
        timeline: list[Interval] = []
        for number in range(1, count + 1):
            if number > 1:
                sleep(self.every)
            timeline.append(self.interval(number, now()))
            if rolls_back(timeline):
                break
        return timeline


def rolls_back(timeline: Sequence[Interval]) -> bool:
    last = timeline[-BROKEN_IN_A_ROW:]
    return len(last) == BROKEN_IN_A_ROW and all(i.word == BROKEN for i in last)


def verdict_of(timeline: Sequence[Interval]) -> tuple[str, str]:
    """The watch's verdict and why."""
    broken = [i for i in timeline if i.word == BROKEN]
    if rolls_back(timeline):
        return BROKEN, (
            f"{BROKEN_IN_A_ROW} broken intervals in a row (minutes "
            f"{', '.join(str(i.number) for i in timeline[-BROKEN_IN_A_ROW:])}): roll back"
        )
    if all(i.word == UNMEASURED for i in timeline):
        return COULD_NOT_RUN, f"no interval of {len(timeline)} could be measured"
    if broken or any(i.word == DEGRADED for i in timeline):
        counted = len(broken) + sum(i.word == DEGRADED for i in timeline)
        return DEGRADED, (
            f"{counted} of {len(timeline)} intervals found a problem, never two broken in a row: "
            "a person decides"
        )
    return HEALTHY, f"{len(timeline)} intervals judged, none found a problem"


def summary(base_url: str, timeline: Sequence[Interval], verdict: tuple[str, str]) -> str:
    """The timeline as Markdown for the job's summary page."""
    word, why = verdict
    lines = [f"### umbrella-checks watch on {base_url}: **{word}**", "", why, ""]
    lines += ["| minute | at (UTC) | interval | what |", "|---|---|---|---|"]
    for interval in timeline:
        said = "; ".join(interval.reasons) or "every answer as expected"
        lines.append(
            f"| {interval.number} | {interval.at:%H:%M:%S} | {interval.word} | "
            f"{said.replace('|', chr(92) + '|')} |"
        )
    return "\n".join([*lines, ""])


def report(base_url: str, timeline: Sequence[Interval], verdict: tuple[str, str]) -> str:
    """The timeline as a self-contained HTML page."""
    word, why = verdict
    rows = "".join(
        f"<tr class='{html.escape(i.word)}'><td>{i.number}</td><td>{i.at:%H:%M:%S}</td>"
        f"<td>{html.escape(i.word)}</td><td>{html.escape('; '.join(i.reasons))}</td></tr>"
        for i in timeline
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>umbrella-checks watch — "
        f"{html.escape(base_url)}</title><style>td,th{{padding:2px 8px;text-align:left}}"
        ".broken{background:#fadbd8}.degraded{background:#fcf3cf}</style></head><body>"
        f"<h1>watch — {html.escape(base_url)}</h1><p><strong>Verdict: {html.escape(word)}"
        f"</strong> — {html.escape(why)}</p><table><tr><th>minute</th><th>at (UTC)</th>"
        f"<th>interval</th><th>what</th></tr>{rows}</table></body></html>\n"
    )


def _analytics(config: SuiteConfig, environment: str) -> Analytics | None:
    access = cloudflare_access(os.environ)
    if access is None:
        return None
    script = config.analytics.script_name
    app_dir = os.environ.get("UMBRELLA_APP_DIR", "").strip()
    if script is None and app_dir:
        try:
            script = WranglerApp.load(Path(app_dir)).worker_name(environment)
        except WranglerError:
            script = None
    if script is None:
        return None
    graphql = GraphQL(
        access.api_base, access.account_id, access.api_token, config.http, RequestCounter()
    )
    return Analytics(graphql, script)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m umbrella_checks watch",
        description="Judge a deploy every minute for the runbook's 15 minutes after the gate.",
    )
    parser.add_argument("--base-url", help="the API (env API_URL)")
    parser.add_argument("--minutes", type=float, default=15.0, help="how long (default 15)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between intervals")
    parser.add_argument("--umbrella-config", help="thresholds file (env UMBRELLA_CONFIG)")
    parser.add_argument(
        "--umbrella-baseline", help="the pre-deploy baseline (env UMBRELLA_BASELINE)"
    )
    parser.add_argument("--verdict-file", help="write the watch's verdict here")
    parser.add_argument(
        "--summary", help="append the timeline as Markdown (CI: $GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument(
        "--report", help="write the timeline as HTML (default reports/watch-<UTC>.html)"
    )
    args = parser.parse_args(argv)
    try:
        watch, count = _setup(args)
    except (SettingsError, ConfigError, BaselineError, SecretError) as exc:
        print(f"watch: {exc}", file=sys.stderr)
        if args.verdict_file:
            Path(args.verdict_file).write_text(f"{COULD_NOT_RUN}\n", encoding="utf-8")
        return 4
    timeline = watch.run(count)
    verdict = verdict_of(timeline)
    if args.verdict_file:  # first: what CI acts on
        Path(args.verdict_file).write_text(f"{verdict[0]}\n", encoding="utf-8")
    for interval in timeline:
        print(f"watch: {interval.line}")
    print(f"watch: verdict: {verdict[0]} — {verdict[1]}")
    if args.summary:
        with Path(args.summary).open("a", encoding="utf-8") as page:
            page.write(summary(watch.base_url, timeline, verdict))
    target = Path(args.report or f"reports/watch-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(report(watch.base_url, timeline, verdict), encoding="utf-8")
    return 0 if verdict[0] == HEALTHY else 1


def _setup(args: argparse.Namespace) -> tuple[Watch, int]:
    url = args.base_url or os.environ.get("API_URL", "").strip()
    if not url:
        raise SettingsError("no target: pass --base-url https://umbrella.app or set API_URL")
    base = validate_url(url, "--base-url" if args.base_url else "API_URL")
    if not 0.1 <= args.every <= 600:
        raise SettingsError(f"--every {args.every:g}: give 0.1 to 600 seconds between intervals")
    if not 0 < args.minutes <= 120:
        raise SettingsError(f"--minutes {args.minutes:g}: give more than 0 and at most 120")
    config, environment = script_config(os.environ, Path.cwd(), args.umbrella_config)
    given = args.umbrella_baseline or os.environ.get("UMBRELLA_BASELINE", "").strip()
    baseline = None
    if given:
        baseline = Baseline.load(Path(given))
        refused = baseline.refusal(
            base, environment, datetime.now(UTC), 2 * config.baseline.max_age
        )
        if refused:
            raise BaselineError(f"--umbrella-baseline={given} refused: {refused}")
    watch = Watch(
        base,
        config,
        accounts=Accounts.from_environment(),
        analytics=_analytics(config, environment),
        baseline=baseline,
        every=args.every,
    )
    return watch, max(round(args.minutes * 60 / args.every), 1)
