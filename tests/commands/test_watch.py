"""The watch window after the gate, minutes scaled down: the deploy judged every interval, two
broken intervals in a row roll back, one never does, and an interval that measured nothing
says so. The sandbox changes at a given minute through the watch's own sleep (no real waiting
between intervals)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes import FakeGraphQL
from umbrella_checks.commands.watch import Analytics, Watch, verdict_of
from umbrella_checks.config.suite import SuiteConfig
from umbrella_checks.sandbox import Sandbox, parse_faults
from umbrella_checks.secrets import Secret
from umbrella_checks.services.analytics import GraphQL
from umbrella_checks.target.accounts import Accounts
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
    watch = Watch(
        sandbox.url,
        SuiteConfig(),
        accounts=_accounts(sandbox),
        analytics=_analytics(traffic),
        every=60,
    )

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
