"""The gate respects the service's documented rate limits: a tier whose own requests would
trip one from this runner refuses at start, naming the limit and its request count."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest

from tests.conftest import RunChecks
from umbrella_checks.config.suite import DocumentedLimit
from umbrella_checks.config.units import Duration
from umbrella_checks.secrets import Secret
from umbrella_checks.target.exchange import Planned
from umbrella_checks.wiring.planning import Planner, Unplannable, over_documented_limits

PUBLIC = """
[security.rate_limits.public]
limit = {limit}
window = "1m"
per = "ip"
routes = ["/v1/artists", "/v1/gigs", "/v1/health"]
"""


def _with_limit(suite_dir: Path, limit: int) -> None:
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + PUBLIC.format(limit=limit))


def test_a_tier_that_would_trip_a_documented_limit_refuses_at_start(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    _with_limit(suite_dir, 20)
    result = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in result.stderr.lines if line.strip()]
    assert "[security.rate_limits.public] allows 20 requests per 60 s per ip" in line
    planned = re.search(r"the selected checks plan (\d+) of them from this runner", line)
    assert planned is not None
    assert int(planned.group(1)) > 20
    assert "requests sent to the target" not in result.stdout.str()  # no run summary


def test_under_xdist_the_refusal_is_one_failure_and_no_verdict(
    run_checks: RunChecks, suite_dir: Path, tmp_path: Path
) -> None:
    _with_limit(suite_dir, 20)
    verdict = tmp_path / "verdict"
    run = run_checks("-m", "postdeploy", "-n", "2", f"--umbrella-verdict-file={verdict}")
    assert len(run.failed_names()) == 1
    assert re.search(r"the selected checks plan \d+ of them", run.message_of(run.failed_names()[0]))
    assert verdict.read_text() == "could-not-run\n"  # never a rollback


def test_a_tier_exactly_within_the_documented_limits_runs(
    pytester: pytest.Pytester, suite_dir: Path, run_checks: RunChecks
) -> None:
    config = suite_dir / "umbrella.toml"
    original = config.read_text()
    _with_limit(suite_dir, 1)
    refused = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    planned = re.search(r"plan (\d+) of them", refused.stderr.str())
    assert planned is not None
    config.write_text(original)
    _with_limit(suite_dir, int(planned.group(1)))  # exactly the tier's own count: allowed
    run = run_checks("-m", "postdeploy")
    assert run.failed_names() == []
    assert run.passed_names()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(["--umbrella-environment=nowhere"], id="bad-option-at-configure"),
        pytest.param(["-p", "no:umbrella-sandbox-unused", "--no-sandbox"], id="unknown-option"),
        pytest.param(
            ["--umbrella-sandbox", "--umbrella-sandbox-fault=no-such-fault"], id="bad-fault"
        ),
    ],
)
def test_a_usage_error_writes_no_report_and_keeps_the_latest(
    pytester: pytest.Pytester, suite_dir: Path, broken: list[str]
) -> None:
    good = pytester.runpytest_subprocess("-m", "postdeploy", "--umbrella-sandbox")
    assert good.ret == 0
    reports = suite_dir / "reports"
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    assert "postdeploy-latest.html" in before
    result = pytester.runpytest_subprocess("-m", "postdeploy", *broken)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before


def test_no_target_at_collection_writes_no_report(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_subprocess("-m", "postdeploy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (suite_dir / "reports").exists() or not list((suite_dir / "reports").iterdir())


def _limit(limit: int, per: Literal["ip", "user"], *routes: str) -> DocumentedLimit:
    return DocumentedLimit(limit=limit, window=Duration(60.0), per=per, routes=list(routes))


def _requests(*lines: str) -> list[tuple[Planned, set[str]]]:
    """ "GET /path [who]" -> planned requests, a stand-in token per named account."""
    planned = []
    for line in lines:
        method, path, *who = line.split()
        token = Secret(who[0], f"stand-in for {who[0]}") if who else None
        planned.append((Planned.of(method, path, token), {"check"}))
    return planned


def test_per_ip_counts_every_request_to_the_routes_and_paths_below_them() -> None:
    limits = {"public": _limit(3, "ip", "/v1/artists")}
    within = _requests("GET /v1/artists?limit=5", "GET /v1/artists/a1 user", "GET /v1/artistsx")
    assert over_documented_limits(within, limits) == []  # /v1/artistsx is another route
    over = within + _requests("GET /v1/artists/a2", "GET /v1/artists/a3")
    (problem,) = over_documented_limits(over, limits)
    assert problem == (
        "[security.rate_limits.public] allows 3 requests per 60 s per ip on /v1/artists; the "
        "selected checks plan 4 of them from this runner"
    )


def test_per_user_counts_each_account_on_its_own() -> None:
    limits = {"signed-in": _limit(2, "user", "/v1/gigs")}
    two_each = _requests(
        "GET /v1/gigs user", "GET /v1/gigs user", "GET /v1/gigs admin", "GET /v1/gigs admin"
    )
    assert over_documented_limits(two_each, limits) == []
    (problem,) = over_documented_limits(two_each + _requests("GET /v1/gigs admin"), limits)
    assert "plan 3 of them" in problem


def test_a_shared_declaration_is_one_request_for_all_its_owners() -> None:
    planner = Planner(lambda who: None)
    planner.shared = True
    for owner in ("a", "b"):
        planner.owner = owner
        planner.add("GET", "/v1/health")
    assert [(p.path, owners) for p, owners in planner.requests] == [("/v1/health", {"a", "b"})]


def test_times_declares_that_many_requests_and_an_unplannable_one_none() -> None:
    def token(who: str) -> Secret | None:
        if who == "user":
            raise Unplannable(who)
        return None

    planner = Planner(token)
    planner.owner = "check"
    planner.add("GET", "/v1/health", times=3)
    planner.add("GET", "/v1/profile", who="user")
    assert [p.path for p, _ in planner.requests] == ["/v1/health"] * 3
