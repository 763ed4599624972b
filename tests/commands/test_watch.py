"""The watch window after the gate, minutes scaled down: the deploy judged every interval, two
broken intervals in a row roll back, one never does, and an interval that measured nothing
says so. The sandbox changes at a given minute through the watch's own sleep (no real waiting
between intervals)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO, SUITE_PREFIXES, SUITE_VARIABLES
from tests.fakes import FakeGraphQL
from umbrella_checks.access import SettingsError
from umbrella_checks.commands.watch import (
    Analytics,
    Evidence,
    Interval,
    Watch,
    _setup,
    main,
    summary,
    verdict_of,
)
from umbrella_checks.commands.watch import _analytics as watch_analytics
from umbrella_checks.config.suite import Analytics as AnalyticsRules
from umbrella_checks.config.suite import CriticalPath, Http, Routes, SuiteConfig
from umbrella_checks.config.units import Duration
from umbrella_checks.config.wrangler import WranglerApp
from umbrella_checks.operations.baseline import Baseline, BaselineError, Identity
from umbrella_checks.sandbox import Sandbox, parse_faults
from umbrella_checks.secrets import Secret
from umbrella_checks.services.analytics import GraphQL
from umbrella_checks.target.accounts import Accounts
from umbrella_checks.target.safety import normalise_url
from umbrella_checks.transport import RequestCounter


def _accounts(sandbox: Sandbox) -> Accounts:
    return Accounts({"user": Secret("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)})


def _changes(at: dict[int, Callable[[], None]]) -> Callable[[float], None]:
    """A sleep that changes the world before the given intervals (interval n follows the
    (n-1)th sleep), instead of waiting."""
    slept = [1]

    def sleep(_: float) -> None:
        slept[0] += 1
        if slept[0] in at:
            at[slept[0]]()

    return sleep


def _switch(sandbox: Sandbox, *faults: str) -> Callable[[], None]:
    return lambda: sandbox.switch(parse_faults(list(faults)))


def test_a_healthy_deploy_stays_healthy(sandbox_server: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_server()
    watch = Watch(sandbox.url, SuiteConfig(), accounts=_accounts(sandbox), every=0.01)
    timeline = watch.run(5, sleep=_changes({}))
    assert [i.word for i in timeline] == ["healthy"] * 5
    assert verdict_of(timeline)[0] == "healthy"


def test_a_fault_from_minute_3_rolls_back_at_minute_4(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server()
    watch = Watch(sandbox.url, SuiteConfig(), accounts=_accounts(sandbox), every=0.01)
    timeline = watch.run(15, sleep=_changes({3: _switch(sandbox, "health-500")}))
    assert [i.word for i in timeline] == ["healthy", "healthy", "broken", "broken"]
    word, why = verdict_of(timeline)
    assert word == "broken"
    assert "2 broken intervals in a row (minutes 3, 4): roll back" in why
    assert "GET /v1/health answered 500" in timeline[2].reasons


def test_a_single_bad_interval_does_not_roll_back(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server()
    watch = Watch(sandbox.url, SuiteConfig(), accounts=_accounts(sandbox), every=0.01)
    timeline = watch.run(
        6, sleep=_changes({3: _switch(sandbox, "route-5xx=/v1/gigs"), 4: _switch(sandbox)})
    )
    assert [i.word for i in timeline] == ["healthy", "healthy", "broken", *["healthy"] * 3]
    assert verdict_of(timeline)[0] == "degraded"


def test_an_interval_that_reaches_nothing_is_not_evidence() -> None:
    watch = Watch("http://127.0.0.1:9", SuiteConfig(), accounts=Accounts(), every=0.01)
    timeline = watch.run(3, sleep=_changes({}))
    assert [i.word for i in timeline] == ["could-not-measure"] * 3
    assert verdict_of(timeline)[0] == "could-not-run"


@pytest.fixture
def traffic() -> Iterator[FakeGraphQL]:
    with FakeGraphQL().running() as api:
        yield api


def _analytics(api: FakeGraphQL) -> Analytics:
    graphql = GraphQL(
        api.base,
        "acc123",
        Secret("CLOUDFLARE_API_TOKEN", FakeGraphQL.TOKEN),
        SuiteConfig().http,
        RequestCounter(),
    )
    return Analytics(graphql, "umbrella-api-dev")


def _watching_traffic(sandbox: Sandbox, traffic: FakeGraphQL) -> Watch:
    """A watch of the sandbox that also reads the Worker's traffic, a minute per interval."""
    return Watch(
        sandbox.url,
        SuiteConfig(),
        accounts=_accounts(sandbox),
        analytics=_analytics(traffic),
        every=60,
    )


@pytest.mark.parametrize(
    ("errors", "words", "verdict"),
    [
        pytest.param(3_000, ["healthy", "broken", "broken"], "broken", id="30-percent-rolls-back"),
        pytest.param(
            1_500, ["healthy", "degraded", "degraded", "degraded"], "degraded", id="15-percent-sev2"
        ),
    ],
)
def test_the_workers_real_error_rate_is_judged_by_the_runbook(
    sandbox_server: Callable[..., Sandbox],
    traffic: FakeGraphQL,
    errors: int,
    words: list[str],
    verdict: str,
) -> None:
    sandbox = sandbox_server()
    watch = _watching_traffic(sandbox, traffic)

    def more_errors() -> None:
        traffic.current = {**traffic.current, "errors": errors}

    timeline = watch.run(4, sleep=_changes({2: more_errors}))
    assert [i.word for i in timeline] == words
    assert verdict_of(timeline)[0] == verdict
    assert any("Worker error rate" in reason for reason in timeline[1].reasons)


def test_the_command_writes_its_verdict_timeline_and_report(
    sandbox_server: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = sandbox_server()
    verdict, summary, report = tmp_path / "verdict", tmp_path / "summary.md", tmp_path / "w.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "umbrella_checks",
            "watch",
            f"--base-url={sandbox.url}",
            "--minutes=0.01",
            "--every=0.2",
            f"--verdict-file={verdict}",
            f"--summary={summary}",
            f"--report={report}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "ENVIRONMENT": "development"},
    )
    assert done.returncode == 0, done.stderr
    assert verdict.read_text() == "healthy\n"
    assert "| minute | at (UTC) | interval | what |" in summary.read_text()
    assert "Verdict: healthy" in report.read_text()
    assert "watch: minute 3: healthy" in done.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param([], "watch: no target", id="no-target"),
        pytest.param(["--base-url=http://x", "--every=0"], "give 0.1 to 600 seconds", id="every"),
        pytest.param(["--base-url=http://x", "--minutes=-1"], "give more than 0", id="minutes"),
        pytest.param(
            ["--base-url=http://x", "--umbrella-baseline=/nowhere.json"],
            "does not exist",
            id="baseline",
        ),
    ],
)
def test_bad_input_is_one_line_and_could_not_run(
    tmp_path: Path, args: list[str], said: str
) -> None:
    verdict = tmp_path / "verdict"
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "watch", *args, f"--verdict-file={verdict}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 4
    assert said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert verdict.read_text() == "could-not-run\n"


# The command's own edges, without waiting: its input's bounds, the baseline's age, and each
# kind of evidence an interval can meet.


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No suite variable from the host, and no umbrella.toml but the defaults."""
    for name in list(os.environ):
        if name in SUITE_VARIABLES or name.startswith(SUITE_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _args(**given: object) -> argparse.Namespace:
    args = {
        "base_url": "http://127.0.0.1:9",
        "minutes": 15.0,
        "every": 60.0,
        "umbrella_config": None,
        "umbrella_baseline": None,
    }
    return argparse.Namespace(**{**args, **given})


@pytest.mark.parametrize(
    ("given", "intervals"),
    [
        pytest.param({"every": 0.1, "minutes": 0.005}, 3, id="every-0.1s-is-allowed"),
        pytest.param({"every": 600.0, "minutes": 120.0}, 12, id="every-600s-120-min-allowed"),
        pytest.param({"every": 1.0, "minutes": 2.0}, 120, id="two-minutes-by-the-second"),
        pytest.param({"every": 60.0, "minutes": 0.001}, 1, id="at-least-one-interval"),
    ],
)
def test_the_watch_counts_its_intervals_from_minutes_and_every(
    bare_env: pytest.MonkeyPatch, given: dict[str, float], intervals: int
) -> None:
    assert _setup(_args(**given))[1] == intervals


@pytest.mark.parametrize(
    ("given", "said"),
    [
        pytest.param({"every": 0.09}, "--every 0.09: give 0.1 to 600", id="every-under-0.1s"),
        pytest.param({"every": 600.5}, "--every 600.5: give 0.1 to 600", id="every-over-600s"),
        pytest.param({"minutes": 0.0}, "--minutes 0: give more than 0", id="zero-minutes"),
        pytest.param({"minutes": 120.5}, "--minutes 120.5: give more than 0", id="over-2-hours"),
    ],
)
def test_the_watch_refuses_intervals_out_of_bounds(
    bare_env: pytest.MonkeyPatch, given: dict[str, float], said: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(said)):
        _setup(_args(**given))


@pytest.mark.parametrize(
    ("flag", "named"),
    [pytest.param(True, "--base-url", id="flag"), pytest.param(False, "API_URL", id="env")],
)
def test_a_bad_url_is_named_by_where_it_came_from(
    bare_env: pytest.MonkeyPatch, flag: bool, named: str
) -> None:
    if not flag:
        bare_env.setenv("API_URL", "ftp://umbrella.app")
    with pytest.raises(SettingsError, match=named):
        _setup(_args(base_url="ftp://umbrella.app" if flag else None))


@pytest.mark.parametrize(
    ("age", "used"),
    [
        pytest.param(1.5, True, id="older-than-max-age-but-within-twice"),
        pytest.param(2.5, False, id="older-than-twice-max-age"),
    ],
)
def test_the_watch_takes_a_baseline_up_to_twice_max_age_old(
    bare_env: pytest.MonkeyPatch, tmp_path: Path, age: float, used: bool
) -> None:
    """The watch runs for 15 minutes after the gate: its baseline may be older than the gate's
    (max_age) by that much, never more than twice as old."""
    bare_env.setenv("ENVIRONMENT", "development")
    max_age = SuiteConfig().baseline.max_age
    url = "http://127.0.0.1:9"
    identity = Identity(normalise_url(url), True, "development", None, "development")
    path = tmp_path / "baseline.json"
    Baseline(datetime.now(UTC) - timedelta(seconds=age * max_age), identity).write(path)
    if used:
        assert _setup(_args(base_url=url, umbrella_baseline=str(path)))[0].baseline is not None
    else:
        with pytest.raises(BaselineError, match="refused: it was taken at"):
            _setup(_args(base_url=url, umbrella_baseline=str(path)))


def _interval(sandbox: Sandbox, config: SuiteConfig, **kwargs: object) -> Interval:
    watch = Watch(sandbox.url, config, every=0.01, **kwargs)  # type: ignore[arg-type]
    return watch.interval(1, datetime.now(UTC))


ANONYMOUS_AFTER_SIGNED_IN = SuiteConfig(
    routes=Routes(
        critical={
            "profile": CriticalPath(path="/v1/profile", signed_in=True),
            "gigs": CriticalPath(path="/v1/gigs?limit=5"),
        }
    )
)


def test_without_a_token_the_signed_in_routes_are_skipped_and_the_others_still_asked(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server("route-5xx=/v1/gigs")
    seen = _interval(sandbox, ANONYMOUS_AFTER_SIGNED_IN, accounts=Accounts())
    assert seen.word == "broken"
    assert seen.reasons == ("GET /v1/gigs?limit=5 answered 500",)


def test_a_critical_route_that_hangs_is_broken_and_named(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server("slow=/v1/gigs:2000")
    quick = SuiteConfig(
        http=Http(read_timeout=Duration(0.5)), routes=ANONYMOUS_AFTER_SIGNED_IN.routes
    )
    seen = _interval(sandbox, quick, accounts=Accounts())
    assert seen.word == "broken"
    assert [r.split(":")[0] for r in seen.reasons] == ["gigs"]


def test_a_health_route_that_hangs_is_broken(sandbox_server: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_server("hang")
    quick = SuiteConfig(http=Http(read_timeout=Duration(0.3)))
    seen = _interval(sandbox, quick, accounts=Accounts())
    assert seen.word == "broken"
    assert seen.reasons[0].startswith("health: ")


def test_analytics_that_cannot_answer_is_a_note_not_a_verdict(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server()
    closed = GraphQL(
        "http://127.0.0.1:9/client/v4",
        "acc123",
        Secret("CLOUDFLARE_API_TOKEN", "t"),
        SuiteConfig().http,
        RequestCounter(),
    )
    seen = _interval(
        sandbox, SuiteConfig(), accounts=_accounts(sandbox), analytics=Analytics(closed, "api")
    )
    assert seen.word == "healthy"
    assert any(r.startswith("traffic not measured: ") for r in seen.reasons)


@pytest.mark.parametrize(
    ("errors", "word"),
    [
        pytest.param(2_000, "degraded", id="exactly-20-percent-is-not-a-rollback"),
        pytest.param(1_000, "healthy", id="exactly-10-percent-is-not-sev2"),
    ],
)
def test_the_error_rate_lines_are_crossed_only_above_them(
    sandbox_server: Callable[..., Sandbox], traffic: FakeGraphQL, errors: int, word: str
) -> None:
    sandbox = sandbox_server()
    traffic.current = {**traffic.current, "errors": errors}
    seen = _interval(
        sandbox, SuiteConfig(), accounts=_accounts(sandbox), analytics=_analytics(traffic)
    )
    assert seen.word == word


def test_a_worker_p95_at_2000_ms_is_sev2(
    sandbox_server: Callable[..., Sandbox], traffic: FakeGraphQL
) -> None:
    sandbox = sandbox_server()
    quantiles = {**traffic.current["quantiles"], "wallTimeP90": 2_000_500.0}
    traffic.current = {**traffic.current, "quantiles": quantiles}
    seen = _interval(
        sandbox, SuiteConfig(), accounts=_accounts(sandbox), analytics=_analytics(traffic)
    )
    assert seen.word == "degraded"
    assert any("over SEV-2's 2000 ms" in r for r in seen.reasons)


def _against(before: list[float], ms: float) -> list[str]:
    identity = Identity("http://x", True, None, None, "development")
    baseline = Baseline(datetime.now(UTC), identity, latency={"GET /r": before})
    watch = Watch("http://x", SuiteConfig(), accounts=Accounts(), baseline=baseline)
    evidence = Evidence()
    watch._against_the_baseline("GET /r", ms, evidence)
    return evidence.notes


@pytest.mark.parametrize(
    ("before", "ms", "noted"),
    [
        pytest.param([90.0, 100.0, 110.0], 150.0, True, id="exactly-min-ratio"),
        pytest.param([90.0, 100.0, 110.0], 140.0, False, id="under-min-ratio"),
        pytest.param([10.0, 20.0, 30.0], 45.0, True, id="exactly-min-shift"),
        pytest.param([10.0, 20.0, 30.0], 44.0, False, id="under-min-shift"),
        pytest.param([10.0, 20.0, 100.0], 100.0, False, id="not-above-every-sample"),
    ],
)
def test_a_route_is_named_slower_than_its_baseline_only_past_every_rule(
    before: list[float], ms: float, noted: bool
) -> None:
    notes = _against(before, ms)
    assert bool(notes) == noted
    assert all(n.startswith("GET /r: ") for n in notes)


def test_a_route_the_baseline_never_timed_is_not_compared() -> None:
    assert _against([], 10_000.0) == []


def test_the_verdict_counts_broken_and_degraded_intervals() -> None:
    at = datetime.now(UTC)
    timeline = [
        Interval(1, at, "broken", ("x",)),
        Interval(2, at, "degraded", ("y",)),
        Interval(3, at, "healthy"),
    ]
    assert verdict_of(timeline) == (
        "degraded",
        "2 of 3 intervals found a problem, never two broken in a row: a person decides",
    )


def test_an_interval_with_nothing_to_say_says_so_in_every_view() -> None:
    quiet = Interval(1, datetime(2026, 12, 6, 12, 0, tzinfo=UTC), "healthy")
    assert quiet.line == "minute 1: healthy — every answer as expected"
    table = summary("http://x", [quiet, quiet], ("healthy", "fine"))
    assert table.count("| healthy | every answer as expected |") == 2


def test_a_watch_that_is_not_healthy_exits_1(
    sandbox_server: Callable[..., Sandbox], bare_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sandbox = sandbox_server("health-500")
    bare_env.setenv("ENVIRONMENT", "development")
    report = tmp_path / "in" / "a" / "folder" / "watch.html"
    assert main([f"--base-url={sandbox.url}", "--minutes=0.001", f"--report={report}"]) == 1
    assert "Verdict: degraded" in report.read_text(encoding="utf-8")


def test_an_interval_with_only_health_to_ask_is_measured(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    """No token for the signed-in routes: health alone is evidence enough for a word."""
    sandbox = sandbox_server()
    only_signed_in = SuiteConfig(
        routes=Routes(critical={"profile": CriticalPath(path="/v1/profile", signed_in=True)})
    )
    assert _interval(sandbox, only_signed_in, accounts=Accounts()).word == "healthy"


def test_after_a_route_hangs_the_routes_after_it_are_still_named(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server("slow=/v1/gigs:2000")
    routes = Routes(
        critical={
            "gigs": CriticalPath(path="/v1/gigs?limit=5"),
            "artist": CriticalPath(path="/v1/artists/artist_1"),
        }
    )
    quick = SuiteConfig(http=Http(read_timeout=Duration(0.5)), routes=routes)
    seen = _interval(sandbox, quick, accounts=Accounts())
    assert [r.split(":")[0] for r in seen.reasons] == ["gigs", "artist"]


def test_a_route_slower_than_its_baseline_is_noted_in_milliseconds(
    sandbox_server: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_server("slow=/v1/health:300")
    identity = Identity(normalise_url(sandbox.url), True, None, None, "development")
    baseline = Baseline(datetime.now(UTC), identity, latency={"GET /v1/health": [10.0, 11.0, 12.0]})
    seen = _interval(sandbox, SuiteConfig(), accounts=Accounts(), baseline=baseline)
    assert any(r.startswith("GET /v1/health: 3") for r in seen.reasons), seen.reasons


def test_the_traffic_window_is_the_interval_before_now(
    sandbox_server: Callable[..., Sandbox], traffic: FakeGraphQL
) -> None:
    sandbox = sandbox_server()
    watch = _watching_traffic(sandbox, traffic)
    now = datetime.now(UTC)
    watch.interval(1, now)
    assert traffic.windows[-1][1:] == (now - timedelta(seconds=60), now)


def test_by_default_an_interval_is_a_minute() -> None:
    assert Watch("http://x", SuiteConfig(), accounts=Accounts()).every == 60.0


@pytest.fixture
def cloudflare(bare_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    bare_env.setenv("CLOUDFLARE_API_TOKEN", "cf-token")
    bare_env.setenv("CLOUDFLARE_ACCOUNT_ID", "acc123")
    return bare_env


def test_without_cloudflare_access_the_watch_reads_no_traffic(bare_env: pytest.MonkeyPatch) -> None:
    named = SuiteConfig(analytics=AnalyticsRules(script_name="umbrella-api"))
    assert watch_analytics(named, "production") is None


def test_the_workers_name_comes_from_the_config_first(cloudflare: pytest.MonkeyPatch) -> None:
    cloudflare.setenv("UMBRELLA_APP_DIR", "/nowhere")
    named = SuiteConfig(analytics=AnalyticsRules(script_name="umbrella-api"))
    found = watch_analytics(named, "production")
    assert found is not None
    assert found.script == "umbrella-api"


def test_else_from_the_apps_wrangler_toml(
    cloudflare: pytest.MonkeyPatch, sandbox_server: Callable[..., Sandbox]
) -> None:
    app_dir = sandbox_server().app_dir
    cloudflare.setenv("UMBRELLA_APP_DIR", str(app_dir))
    found = watch_analytics(SuiteConfig(), "development")
    assert found is not None
    assert found.script == WranglerApp.load(app_dir).worker_name("development")


@pytest.mark.parametrize(
    "app_dir",
    [pytest.param("", id="no-app-dir"), pytest.param("/nowhere", id="unreadable-wrangler")],
)
def test_a_worker_with_no_name_to_find_is_not_watched_for_traffic(
    cloudflare: pytest.MonkeyPatch, app_dir: str
) -> None:
    cloudflare.setenv("UMBRELLA_APP_DIR", app_dir)
    assert watch_analytics(SuiteConfig(), "production") is None
