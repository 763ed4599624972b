"""A pre-deploy baseline, then the gate compared with it, against one real sandbox that changes
between the two runs (a fault switched on after the baseline, as a deploy would). The rows of
docs/verdict.md that need a baseline are here: lost-routes-after-baseline, pre-existing,
slower-inside-budget, foreign-baseline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import CheckRun, RunChecks, sandbox_requests
from umbrella_checks.config.suite import Baseline as Rules
from umbrella_checks.operations.baseline import (
    CLOCK_SLACK,
    Baseline,
    Identity,
    Seen,
    Shift,
    changes,
    pre_existing,
    shifts,
    taken,
)
from umbrella_checks.operations.incident import Failure
from umbrella_checks.sandbox import Sandbox, parse_faults

TOKENS = {"user": "UMBRELLA_USER_TOKEN", "admin": "UMBRELLA_ADMIN_TOKEN"}


@pytest.fixture
def target(
    sandbox_server: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Sandbox]:
    """A sandbox outside the runs (so it outlives one), with the runs' tokens for it."""

    def start(*faults: str) -> Sandbox:
        sandbox = sandbox_server(*faults)
        for account, variable in TOKENS.items():
            monkeypatch.setenv(variable, sandbox.accounts[account].token)
        return sandbox

    return start


def _run(run_checks: RunChecks, sandbox: Sandbox, *args: str) -> CheckRun:
    return run_checks(
        "-m", "postdeploy", "--umbrella-environment=development", *args, target=sandbox.url
    )


def _take(run_checks: RunChecks, sandbox: Sandbox, path: Path) -> CheckRun:
    return _run(run_checks, sandbox, f"--umbrella-baseline-out={path}")


def _gate(
    run_checks: RunChecks, sandbox: Sandbox, baseline: Path, tmp_path: Path
) -> tuple[str, CheckRun]:
    verdict = tmp_path / "verdict"
    run = _run(
        run_checks, sandbox, f"--umbrella-baseline={baseline}", f"--umbrella-verdict-file={verdict}"
    )
    return verdict.read_text(encoding="utf-8").strip(), run


def test_a_baseline_keeps_identity_outcomes_and_latency_samples(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = target()
    path = tmp_path / "baseline.json"
    run = _take(run_checks, sandbox, path)
    assert run.failed_names() == []
    kept = json.loads(path.read_text(encoding="utf-8"))
    assert kept["identity"] == {
        "url": sandbox.url,
        "umbrella": True,
        "environment": "development",
        "version": "0.1.0",
        "expected_environment": "development",
    }
    assert kept["checks"]["test_health_answers_200"]["outcome"] == "passed"
    # [baseline] samples per critical route: enough for the rank test.
    assert {route: len(ms) for route, ms in kept["latency"].items()} == {
        "GET /v1/health": 10,
        "GET /v1/artists?limit=5": 10,
        "GET /v1/gigs?limit=5": 10,
        "GET /v1/auth/session": 10,
        "GET /v1/profile": 10,
    }
    assert f"baseline written to {path}" in run.output


def test_lost_routes_after_baseline(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Shown to be the Umbrella API before, not now: the deploy lost the routes."""
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    sandbox.switch(parse_faults(["routes-lost"]))
    word, run = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "broken"
    (failed,) = run.failed_names()
    assert "showed this URL answering as the Umbrella API: the deploy lost its routes" in (
        run.message_of(failed)
    )


def test_lost_routes_without_a_baseline_are_doubt(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = target("routes-lost")
    verdict = tmp_path / "verdict"
    _run(run_checks, sandbox, f"--umbrella-verdict-file={verdict}")
    assert verdict.read_text() == "could-not-run\n"


def test_pre_existing(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """A dependency down before the deploy and after: a rollback would not fix it."""
    sandbox = target("health-unhealthy")
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    word, run = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "pre-existing"
    assert run.ret == 1
    assert "test_health_answers_200" in run.failed_names()


def test_a_new_failure_is_broken(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    sandbox.switch(parse_faults(["health-unhealthy"]))
    word, run = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "broken"
    assert "| `test_health_answers_200` | passed | failed (new)" not in run.output  # summary only


def test_a_failure_for_another_reason_is_new(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = target("cors-no-credentials")
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    sandbox.switch(parse_faults(["cors-missing"]))  # the same check fails, for another reason
    word, _ = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "broken"


def test_slower_inside_budget(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """A route 150 ms slower, inside its 400 ms budget: named, and still healthy."""
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    sandbox.switch(parse_faults(["slow=/v1/gigs:150"]))
    word, run = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "healthy"
    (warning,) = [line for line in run.output.splitlines() if line.startswith("umbrella: warning")]
    assert warning.startswith("umbrella: warning (SEV-3): GET /v1/gigs?limit=5: median 0 ms → 15")
    assert "slower than before the deploy" in warning
    assert "; 1 warning(s): GET /v1/gigs?limit=5: median" in run.output


def test_the_same_healthy_target_twice_is_not_slower(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    word, run = _gate(run_checks, sandbox, baseline, tmp_path)
    assert word == "healthy"
    assert "slower than before" not in run.output
    assert "compared with the baseline taken at" in run.output


@pytest.mark.parametrize(
    ("change", "said"),
    [
        pytest.param("url", "it was taken of http://127.0.0.1:", id="another-url"),
        pytest.param("environment", "taken expecting environment staging", id="another-env"),
        pytest.param("age", "more than [baseline] max_age (60 min)", id="too-old"),
        pytest.param("future", "ahead of this machine's clock", id="from-the-future"),
        pytest.param("corrupt", "cannot be read", id="not-json"),
        pytest.param("format", "is not one this suite wrote", id="another-format"),
        pytest.param(
            "missing", "does not exist; take one with --umbrella-baseline-out", id="missing"
        ),
    ],
)
def test_foreign_baseline(
    run_checks: RunChecks,
    target: Callable[..., Sandbox],
    tmp_path: Path,
    change: str,
    said: str,
) -> None:
    """Refused at start: one line, exit 4, nothing sent."""
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    kept = json.loads(baseline.read_text(encoding="utf-8"))
    gate = sandbox
    if change == "url":
        gate = target()
    elif change == "environment":
        kept["identity"]["expected_environment"] = "staging"
    elif change in ("age", "future"):
        hours = -2 if change == "age" else 2
        kept["taken_at"] = (datetime.now(UTC) + timedelta(hours=hours)).isoformat()
    elif change == "format":
        kept["format"] = 99
    baseline.write_text("{not json" if change == "corrupt" else json.dumps(kept), encoding="utf-8")
    if change == "missing":
        baseline.unlink()
    before = sandbox_requests(gate)
    word, run = _gate(run_checks, gate, baseline, tmp_path)
    assert word == "could-not-run"
    assert run.ret == 4
    assert said in run.stderr
    assert "Traceback" not in run.stderr
    assert sandbox_requests(gate) == before


def test_without_a_baseline_the_gate_says_so_once(
    run_checks: RunChecks, target: Callable[..., Sandbox]
) -> None:
    run = _run(run_checks, target())
    assert run.output.count("umbrella: no baseline: every failure is judged as new") == 1


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("-m", "daily"), id="another-tier"),
        pytest.param(("-m", "postdeploy", "--umbrella-allow-destructive"), id="destructive"),
    ],
)
def test_a_baseline_is_taken_by_a_read_only_post_deploy_run(
    run_checks: RunChecks, target: Callable[..., Sandbox], tmp_path: Path, args: tuple[str, ...]
) -> None:
    sandbox = target()
    run = run_checks(
        *args,
        "--umbrella-environment=development",
        f"--umbrella-baseline-out={tmp_path / 'b.json'}",
        target=sandbox.url,
    )
    assert run.ret == 4
    assert "--umbrella-baseline-out is taken by a read-only post-deploy run" in run.stderr


def test_the_reports_show_before_and_after(
    run_checks: RunChecks,
    target: Callable[..., Sandbox],
    tmp_path: Path,
    suite_dir: Path,
) -> None:
    sandbox = target()
    baseline = tmp_path / "baseline.json"
    _take(run_checks, sandbox, baseline)
    sandbox.switch(parse_faults(["health-unhealthy"]))
    summary = tmp_path / "summary.md"
    _run(
        run_checks,
        sandbox,
        f"--umbrella-baseline={baseline}",
        f"--umbrella-summary={summary}",
        "--umbrella-alert",
    )
    page = summary.read_text(encoding="utf-8")
    assert "#### Since the baseline" in page
    assert "| `test_health_answers_200` | passed | failed (new): root cause: GET /v1/health" in page
    (draft,) = (suite_dir / "reports").glob("incident-*.md")
    assert "- test_health_answers_200: before the deploy passed; after failed (new)" in (
        draft.read_text(encoding="utf-8")
    )
    html = (suite_dir / "reports" / "postdeploy-latest.html").read_text(encoding="utf-8")
    assert "Since the baseline" in html


# The comparison's own rules, without a run: each edge a deploy's baseline can sit on.

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IDENTITY = Identity(
    url="https://staging.umbrella.app",
    umbrella=True,
    environment="staging",
    version="1.2.3",
    expected_environment="staging",
)


def _taken(*, at: datetime = NOW, version: str | None = "1.2.3", **kwargs: object) -> Baseline:
    identity = Identity(**{**asdict(IDENTITY), "version": version})
    return Baseline(taken_at=at, identity=identity, **kwargs)  # type: ignore[arg-type]


def _refusal(baseline: Baseline, now: datetime) -> str | None:
    return baseline.refusal("https://staging.umbrella.app", "staging", now, 3600.0)


def test_a_baseline_exactly_max_age_old_is_still_used() -> None:
    assert _refusal(_taken(), NOW + timedelta(seconds=3600)) is None
    assert "more than [baseline] max_age" in str(_refusal(_taken(), NOW + timedelta(seconds=3601)))


def test_a_baseline_stamped_up_to_five_minutes_ahead_is_still_used() -> None:
    assert timedelta(minutes=5) == CLOCK_SLACK
    assert _refusal(_taken(at=NOW + CLOCK_SLACK), NOW) is None
    ahead = _refusal(_taken(at=NOW + CLOCK_SLACK + timedelta(seconds=1)), NOW)
    assert "ahead of this machine's clock" in str(ahead)


@pytest.mark.parametrize(
    ("version", "described"),
    [
        pytest.param("1.2.3", "the baseline taken at 2026-12-06 12:00:00Z, version 1.2.3", id="v"),
        pytest.param(None, "the baseline taken at 2026-12-06 12:00:00Z", id="no-version"),
    ],
)
def test_a_baseline_describes_itself_with_its_version(version: str | None, described: str) -> None:
    assert _taken(version=version).described == described


def test_only_a_judged_failure_with_a_reason_can_be_pre_existing() -> None:
    before = _taken(checks={"test_x": Seen("failed", "failed", "sig", "500")})
    same = Failure(nodeid="checks/t.py::test_x", message="500", signature="sig")
    assert pre_existing(same, before)
    assert not pre_existing(replace(same, kind="could-not-check"), before)
    assert not pre_existing(replace(same, signature=None), before)


def test_the_changes_name_what_the_deploy_fixed_and_what_it_slowed() -> None:
    before = _taken(
        checks={
            "test_x": Seen("failed", "failed", "sig", "it answered 500"),
            "test_y": Seen("passed"),
        }
    )
    rows = changes(
        [],
        {"test_x": Seen("passed"), "test_y": Seen("passed")},
        before,
        [Shift("GET /v1/gigs", [10.0, 12.0], [40.0, 44.0], 0.001)],
    )
    assert rows == [
        ("test_x", "failed: it answered 500", "passed (fixed by the deploy)"),
        ("GET /v1/gigs", "median 11 ms", "median 42 ms (slower, p = 0.001)"),
    ]


def test_latency_is_kept_to_the_microsecond_and_written_where_asked(tmp_path: Path) -> None:
    kept = taken(
        taken_at=NOW,
        identity=IDENTITY,
        outcomes=[],
        causes=[],
        latency={"GET /v1/health": [12.345678]},
    )
    assert kept.latency == {"GET /v1/health": [12.346]}
    path = tmp_path / "not" / "yet" / "baseline.json"
    kept.write(path)
    assert Baseline.load(path) == kept


def test_the_file_format_is_version_1() -> None:
    """A format bump must be deliberate: files written by the version before are refused."""
    assert json.loads(_taken().to_json())["format"] == 1


def _shifts(old: list[float], new: list[float], alpha: float | None = None) -> list[str]:
    rules = Rules() if alpha is None else Rules(alpha=alpha)
    return [s.route for s in shifts({"GET /r": old}, {"GET /r": new}, rules)]


def _around(median: float) -> list[float]:
    return [median - 2, median - 1, median, median + 1, median + 2]


@pytest.mark.parametrize(
    ("old", "new", "alpha", "found"),
    [
        pytest.param([10.0, 11.0], [100.0, 101.0], 0.4, True, id="two-samples-each"),
        pytest.param([10.0], [100.0, 101.0], 0.4, False, id="one-sample-before"),
        pytest.param([10.0, 11.0], [100.0], 0.4, False, id="one-sample-after"),
        pytest.param([10.0, 11.0], [100.0, 101.0], 1 / 6, False, id="p-exactly-alpha"),
        pytest.param(_around(50), _around(75), None, True, id="grew-exactly-min-shift"),
        pytest.param(_around(10), _around(30), None, False, id="grew-under-min-shift"),
        pytest.param(_around(100), _around(150), None, True, id="exactly-min-ratio"),
        pytest.param(_around(100), _around(140), None, False, id="under-min-ratio"),
    ],
)
def test_a_route_is_slower_only_past_every_rule(
    old: list[float], new: list[float], alpha: float | None, found: bool
) -> None:
    assert _shifts(old, new, alpha) == (["GET /r"] if found else [])


def test_a_route_with_too_few_samples_does_not_end_the_comparison() -> None:
    before = {"GET /a": [10.0], "GET /b": _around(10)}
    after = {"GET /a": [90.0], "GET /b": _around(100)}
    assert [s.route for s in shifts(before, after, Rules())] == ["GET /b"]
