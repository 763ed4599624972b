"""What a run keeps while it goes, read by its closing lines: "could not judge" notes grouped
by reason, and a health answer that is or is not the Umbrella API's."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, RunChecks, arrived_while_the_probe_waited, sandbox_requests
from tests.fakes import minting_clerk
from umbrella_checks.sandbox import Sandbox
from umbrella_checks.target.answer import Answer
from umbrella_checks.wiring.probe import not_the_api, platform_page
from umbrella_checks.wiring.runstate import Findings


def _notes(*not_judged: tuple[str, str]) -> list[str]:
    return Findings(not_judged=list(not_judged)).not_judged_notes()


def test_one_check_is_named_with_its_reason() -> None:
    assert _notes(("test_a", "no token")) == ["could not judge test_a: no token"]


@pytest.mark.parametrize(
    ("count", "listed"),
    [
        pytest.param(5, "test_0, test_1, test_2, test_3, test_4", id="five-listed"),
        pytest.param(6, "test_0, test_1, test_2, test_3, test_4 and 1 more", id="six"),
    ],
)
def test_checks_stopped_by_one_reason_are_one_line(count: int, listed: str) -> None:
    notes = _notes(*((f"test_{n}", "target hung") for n in range(count)))
    assert notes == [f"could not judge {count} checks: target hung — {listed}"]


def test_each_reason_has_its_line_in_the_order_met() -> None:
    notes = _notes(("test_a", "no token"), ("test_b", "hung"), ("test_c", "hung"))
    assert notes == [
        "could not judge test_a: no token",
        "could not judge 2 checks: hung — test_b, test_c",
    ]


def _health(status: int, body: bytes) -> Answer:
    return Answer("GET", "http://t/v1/health", httpx.Response(status, content=body), 0.1)


@pytest.mark.parametrize(
    ("status", "body", "stranger"),
    [
        pytest.param(500, b"<html>oops</html>", False, id="500-is-the-api-failing"),
        pytest.param(499, b"<html>hi</html>", True, id="499-html-is-not-the-api"),
        pytest.param(200, b'{"success": true}', False, id="200-json-object"),
    ],
)
def test_a_health_answer_is_the_api_or_a_stranger(status: int, body: bytes, stranger: bool) -> None:
    assert (not_the_api(_health(status, body)) is not None) is stranger


def test_a_platform_page_for_health_is_named_with_what_came_back() -> None:
    # Which answers are the platform's is the answer's rule (tests/target/test_answer_rules.py);
    # the probe names the page once, for the root cause every check and alert then carries.
    named = platform_page(_health(503, b"<html>error 503</html>"))
    assert named == "GET http://t/v1/health answered 503 no content-type <html>error 503</html>"
    assert platform_page(_health(500, b'{"success": false}')) is None


def test_a_second_run_writes_beside_the_first(run_checks: RunChecks, suite_dir: Path) -> None:
    """The reports folder exists from the first run: the second adds its own report."""
    for _ in range(2):
        run = run_checks("checks/test_health.py", "-m", "postdeploy", "-k", "answers_200")
        assert run.passed_names() == ["test_health_answers_200"]
    assert len(list((suite_dir / "reports").glob("postdeploy-2*.html"))) == 2


# ----------------------------------------------------------------------
# What a run shows at its edges: the verdict line of its summary, where a skip points, how many
# bare routes one check met, and from which concurrency the planned requests go out together.
def test_the_summary_says_the_verdict(run_checks: RunChecks) -> None:
    # CI reads the verdict from the step summary; an on-call engineer reading the log finds it
    # on the run's last lines too.
    run = run_checks("checks/test_health.py")
    assert run.failed_names() == []
    judged = len(run.passed_names())
    said = f"umbrella: verdict: healthy — {judged} check(s) judged the service; none failed"
    assert said in run.output


def _first_lines(checks_file: str) -> set[int]:
    """Where pytest locates each check of a file: its first line (a decorator's, if any)."""
    tree = ast.parse((REPO / checks_file).read_text(encoding="utf-8"))
    return {
        min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def _skip_lines(output: str, checks_file: str) -> set[int]:
    found = re.findall(rf"SKIPPED \[\d+\] {re.escape(checks_file)}:(\d+): ", output)
    assert found, output
    return {int(line) for line in found}


def test_a_check_that_cannot_judge_is_reported_at_the_check(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    # Without a token the signed-in checks cannot judge: the skip line points at the check,
    # not at the fixture that found the token missing, so the reader lands where the check is.
    sandbox = sandbox_server()
    run = run_checks(
        "checks/test_smoke.py", "-rs", "--umbrella-environment=development", target=sandbox.url
    )
    skipped = _skip_lines(run.output, "checks/test_smoke.py")
    assert skipped <= _first_lines("checks/test_smoke.py"), sorted(skipped)


def test_a_check_stopped_by_a_root_cause_is_reported_at_the_check(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_smoke.py", "-rs", faults=["routes-lost"])
    skipped = _skip_lines(run.output, "checks/test_smoke.py")
    assert skipped <= _first_lines("checks/test_smoke.py"), sorted(skipped)


BARE_TWICE = """
def test_two_routes(api, user_token):
    api.get("/v1/artists", token=user_token)
    api.get("/v1/gigs", token=user_token)
"""


def test_one_check_meeting_two_bare_routes_names_the_first_and_counts_the_other(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_two_routes.py").write_text(BARE_TWICE, encoding="utf-8")
    run = run_checks("checks/test_two_routes.py", faults=["envelope-missing=*"])
    message = run.message_of("test_two_routes")
    cause = "root cause: GET /v1/artists answers without the envelope: "
    assert re.match(rf"{cause}GET http://127.0.0.1:\d+/v1/artists: ", message), message
    assert message.endswith("; 1 more route(s): GET /v1/gigs"), message


def test_one_bare_route_has_no_count(run_checks: RunChecks, suite_dir: Path) -> None:
    (suite_dir / "checks" / "test_two_routes.py").write_text(BARE_TWICE, encoding="utf-8")
    run = run_checks("checks/test_two_routes.py", faults=["envelope-missing=/v1/gigs"])
    message = run.message_of("test_two_routes")
    cause = "root cause: GET /v1/gigs answers without the envelope: "
    assert re.match(rf"{cause}GET http://127.0.0.1:\d+/v1/gigs: ", message), message
    assert "more" not in message, message


TWO_ACCOUNTS = """
from umbrella_checks.wiring.declared import sends


def _as_user(planner, settings, params):
    planner.add("GET", "/v1/profile", who="user")


def _as_admin(planner, settings, params):
    planner.add("GET", "/v1/profile", who="admin")


@sends(_as_user)
def test_as_user(api):
    pass


@sends(_as_admin)
def test_as_admin(api):
    pass
"""

PER_USER = """
[security.rate_limits.profile]
limit = 1
window = "1m"
per = "user"
routes = ["/v1/profile"]
"""


def test_a_per_user_limit_counts_each_account_apart(run_checks: RunChecks, suite_dir: Path) -> None:
    # One request as the user and one as the admin: one each, within a limit of one per user.
    (suite_dir / "checks" / "test_two_accounts.py").write_text(TWO_ACCOUNTS, encoding="utf-8")
    config = (suite_dir / "umbrella.toml").read_text(encoding="utf-8") + PER_USER
    run = run_checks("checks/test_two_accounts.py", config=config)
    assert run.ret == 0, run.output
    assert run.passed_names() == ["test_as_admin", "test_as_user"]


def test_the_html_report_names_its_tier_and_target(run_checks: RunChecks, suite_dir: Path) -> None:
    run = run_checks("checks/test_health.py")
    (report,) = (suite_dir / "reports").glob("custom-*Z.html")
    target = re.search(r"umbrella: Target: (\S+) ", run.output)
    assert target is not None, run.output
    assert f"umbrella-checks custom — {target.group(1)} — " in report.read_text(encoding="utf-8")


def test_the_html_report_shows_the_figures_checks_recorded(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_figure.py").write_text(
        "def test_figure(figures):\n    figures.record('answers', 3)\n", encoding="utf-8"
    )
    run_checks("checks/test_figure.py")
    (report,) = (suite_dir / "reports").glob("custom-*Z.html")
    assert "<p>answers: 3</p>" in report.read_text(encoding="utf-8")


def test_only_checks_that_cannot_judge_are_listed_as_not_judged(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    # A check the guard refused (destructive, not allowed) or one that does not apply is a
    # decision, not doubt: "could not judge" lists the doubt alone.
    (suite_dir / "checks" / "test_refused.py").write_text(
        "import pytest\n\n@pytest.mark.destructive\ndef test_burns_quota(api):\n    pass\n",
        encoding="utf-8",
    )
    run = run_checks("checks/test_refused.py")
    assert run.skipped_names() == ["test_burns_quota"], run.output
    assert "could not judge" not in run.output


def test_sessions_minted_by_a_run_that_never_started_are_revoked(
    run_checks: RunChecks,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tokens are minted as the run is set up; a run that stops before its session starts (here
    # a conftest's own sessionstart) never reaches session end, and still revokes them.
    (suite_dir / "conftest.py").write_text(
        "import pytest\n\ndef pytest_sessionstart(session):\n"
        "    raise pytest.UsageError('stopped before the session started')\n",
        encoding="utf-8",
    )
    with minting_clerk(monkeypatch) as clerk:
        target = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
        run_checks("checks/test_health.py", "--umbrella-environment=development", target=target.url)
        assert (clerk.created, clerk.revoked) == (1, 1)


def test_the_html_report_shows_a_skip_as_its_reason_and_where(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox], suite_dir: Path
) -> None:
    sandbox = sandbox_server()
    run_checks("checks/test_smoke.py", "--umbrella-environment=development", target=sandbox.url)
    (report,) = (suite_dir / "reports").glob("custom-*Z.html")
    text = report.read_text(encoding="utf-8")
    assert re.search(r"Skipped: UMBRELLA_USER_TOKEN [^\\]*?checks/test_smoke\.py:\d+\)", text)


def test_the_step_summary_points_at_the_report(
    run_checks: RunChecks, suite_dir: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    run_checks("checks/test_health.py", f"--umbrella-summary={summary}")
    text = summary.read_text(encoding="utf-8")
    assert f"Report: `{suite_dir / 'reports' / 'custom-latest.html'}`" in text, text


def _header(output: str) -> dict[str, str]:
    found = re.findall(r"^umbrella: ([^:]+): (.*)$", output, flags=re.MULTILINE)
    return dict(found)


def test_the_header_says_how_the_run_was_set_up(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPECTED_VERSION", "1.2.3")
    result = pytester.runpytest_inprocess(
        "--collect-only", "checks/test_health.py", "--base-url=http://127.0.0.1:9"
    )
    header = _header(result.stdout.str())
    assert header["Config file"] == str(suite_dir / "umbrella.toml")
    assert header["Destructive checks"] == "off"
    assert header["Expected version"] == "1.2.3"
    assert "umbrella: Credential: user: not set" in result.stdout.lines


def test_the_header_without_config_version_or_guard(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "umbrella.toml").unlink()
    (suite_dir / "pytest.ini").write_text(
        (suite_dir / "pytest.ini")
        .read_text(encoding="utf-8")
        .replace("[pytest]\n", "[pytest]\numbrella_checks = true\n", 1),
        encoding="utf-8",
    )
    result = pytester.runpytest_inprocess(
        "--collect-only",
        "checks/test_health.py",
        "--base-url=http://127.0.0.1:9",
        "--umbrella-environment=staging",
        "--umbrella-allow-destructive",
    )
    header = _header(result.stdout.str())
    assert header.get("Config file") == "none (built-in defaults)", result.stdout.str()
    assert header["Destructive checks"] == "allowed"
    assert "Expected version" not in header


def test_a_wrong_severity_marker_is_one_line_at_collection(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_sev.py").write_text(
        "import pytest\n\n@pytest.mark.severity('SEV-9')\ndef test_x():\n    pass\n",
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("checks/test_sev.py", "--umbrella-sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "SEV-9" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


PYTESTS_OWN = """
import pytest


def test_plain_assert():
    assert 1 == 2


def test_plain_skip():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known")
def test_known():
    assert False
"""


def test_pytests_own_outcomes_pass_through(run_checks: RunChecks, suite_dir: Path) -> None:
    # A team's check that asserts, skips or xfails as pytest does is reported as pytest
    # reports it: the typed outcomes only add to that.
    (suite_dir / "checks" / "test_own.py").write_text(PYTESTS_OWN, encoding="utf-8")
    run = run_checks("checks/test_own.py")
    assert run.failed_names() == ["test_plain_assert"], run.output
    assert "assert 1 == 2" in run.message_of("test_plain_assert")
    assert run.message_of("test_plain_skip") == "not today"
    assert "INTERNALERROR" not in run.output
    (report,) = (suite_dir / "reports").glob("custom-*Z.html")
    assert "test_known" in report.read_text(encoding="utf-8")


JUDGED_IN_A_CLASS = """
import pytest

from umbrella_checks.errors import cannot_judge, fail


@pytest.mark.severity("SEV-1")
class TestRoutes:
    def test_gigs(self):
        fail("GET /v1/gigs: expected 200, got 500")

    def test_artists(self):
        cannot_judge("no artists to read")
"""


def test_a_judged_failure_is_a_broken_verdict_named_with_its_class(
    run_checks: RunChecks, suite_dir: Path, tmp_path: Path
) -> None:
    (suite_dir / "checks" / "test_class.py").write_text(JUDGED_IN_A_CLASS, encoding="utf-8")
    summary = tmp_path / "summary.md"
    run = run_checks("checks/test_class.py", f"--umbrella-summary={summary}")
    assert (
        "umbrella: verdict: broken — 1 check(s) judged the service broken in a way the runbook "
        "rolls back on (SEV-1): TestRoutes::test_gigs" in run.output
    )
    assert "umbrella: could not judge TestRoutes::test_artists: no artists to read" in run.output
    target = re.search(r"umbrella: Target: (\S+) ", run.output)
    assert target is not None
    assert target.group(1) in summary.read_text(encoding="utf-8")


def test_the_summary_lists_the_figures_checks_recorded(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_figure.py").write_text(
        "def test_figure(figures):\n    figures.record('answers', 3)\n", encoding="utf-8"
    )
    run = run_checks("checks/test_figure.py")
    assert "umbrella: answers: 3" in run.output


def test_strict_skips_say_what_the_check_could_not_judge(
    run_checks: RunChecks, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    run = run_checks(
        "checks/test_smoke.py::test_protected_route_accepts_the_test_user",
        "--umbrella-strict-skips",
        "--umbrella-environment=development",
        target=sandbox.url,
    )
    message = run.message_of("test_protected_route_accepts_the_test_user")
    assert message.startswith(
        "--umbrella-strict-skips: this check did not judge: UMBRELLA_USER_TOKEN (or "
    ), message


def test_a_check_on_a_files_first_line_is_reported_there(
    run_checks: RunChecks, suite_dir: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    (suite_dir / "checks" / "test_first.py").write_text(
        "def test_first(user_token):\n    pass\n", encoding="utf-8"
    )
    sandbox = sandbox_server()
    run = run_checks(
        "checks/test_first.py", "-rs", "--umbrella-environment=development", target=sandbox.url
    )
    assert _skip_lines(run.output, "checks/test_first.py") == {1}


def test_a_root_cause_skip_on_a_files_first_line_is_reported_there(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    (suite_dir / "checks" / "test_a.py").write_text(
        "def test_a(health):\n    pass\n", encoding="utf-8"
    )
    (suite_dir / "checks" / "test_b.py").write_text(
        "def test_b(health):\n    pass\n", encoding="utf-8"
    )
    run = run_checks("checks/test_a.py", "checks/test_b.py", "-rs", faults=["routes-lost"])
    assert run.failed_names() == ["test_a"], run.output
    assert _skip_lines(run.output, "checks/test_b.py") == {1}


def test_a_run_refused_for_a_documented_limit_sends_nothing(
    run_checks: RunChecks, suite_dir: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    config = (suite_dir / "umbrella.toml").read_text(encoding="utf-8") + (
        '\n[security.rate_limits.public]\nlimit = 1\nwindow = "1m"\nper = "ip"\n'
        'routes = ["/v1/gigs", "/v1/artists"]\n'
    )
    run = run_checks(
        "checks/test_smoke.py",
        "--umbrella-environment=development",
        target=sandbox.url,
        config=config,
    )
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert sandbox_requests(sandbox) == 0


def test_no_target_is_the_error_named_even_with_a_documented_limit(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    # The limit cannot be judged without a target; the missing target is what to fix.
    config = suite_dir / "umbrella.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[security.rate_limits.public]\nlimit = 1\nwindow = "1m"\nper = "ip"\n'
        'routes = ["/v1/gigs", "/v1/artists"]\n',
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("checks/test_smoke.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no target: pass --base-url=" in result.stderr.str()
    assert "rate_limits" not in result.stderr.str()


def test_another_project_collects_and_runs_undisturbed(pytester: pytest.Pytester) -> None:
    # No umbrella.toml: the plugin is installed but stays out of the way.
    pytester.makepyfile(test_other="def test_other():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_under_xdist_a_tier_over_a_documented_limit_is_one_failure(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    # A worker cannot end the run at collection: the first check that would send fails with
    # the limit, every other one that would send cannot judge, and none sends.
    config = (suite_dir / "umbrella.toml").read_text(encoding="utf-8") + (
        '\n[security.rate_limits.public]\nlimit = 1\nwindow = "1m"\nper = "ip"\n'
        'routes = ["/v1/gigs", "/v1/artists"]\n'
    )
    run = run_checks("checks/test_smoke.py", "-n", "2", config=config)
    (failed,) = run.failed_names()
    assert "[security.rate_limits.public] allows 1 requests" in run.message_of(failed)
    assert run.passed_names() == []


def test_a_listing_run_writes_no_step_summary(run_checks: RunChecks, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    run_checks("--collect-only", "checks/test_health.py", f"--umbrella-summary={summary}")
    assert not summary.exists()


def test_under_xdist_the_step_summary_is_written_once(
    run_checks: RunChecks, tmp_path: Path
) -> None:
    # The controller writes it; workers, which see only their share, never do.
    summary = tmp_path / "summary.md"
    run_checks("checks/test_health.py", "-n", "2", f"--umbrella-summary={summary}")
    assert summary.read_text(encoding="utf-8").count("Report: `") == 1


def test_under_xdist_a_partly_answered_run_says_how_many_were_answered(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each check's answered count travels with its teardown report like its sent count: the
    # controller adds up what each check got, not what its worker had got by then.
    sandbox = sandbox_server("slow=/v1/gigs:5000")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    run = run_checks(
        "checks/test_smoke.py",
        "-n",
        "2",
        "--umbrella-environment=development",
        target=sandbox.url,
        config='[http]\nread_timeout = "1s"\n',
    )
    said = re.search(r"umbrella: (\d+) requests sent to the target, (\d+) answered", run.output)
    assert said is not None, run.output
    assert 0 < int(said.group(2)) < int(said.group(1)), said.group(0)


# The slowest last: mutation/run.py --survivors runs this file with -x.
def test_under_xdist_every_request_sent_is_counted(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Workers send the checks' requests; each check's count travels to the controller with its
    # teardown report, and the summary adds them up.
    sandbox = sandbox_server()
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    run = run_checks(
        "checks/test_smoke.py", "-n", "2", "--umbrella-environment=development", target=sandbox.url
    )
    reported = re.search(r"umbrella: (\d+) requests sent to the target", run.output)
    assert reported is not None, run.output
    sent = sandbox_requests(sandbox)
    assert int(reported.group(1)) == sent
    # The controller sends only its start-of-run probe: the checks' requests are the workers'
    # (a second worker may fetch a session fixture's answer again, never the tier twice).
    alone = sandbox_server()
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", alone.accounts["user"].token)
    run_checks("checks/test_smoke.py", "--umbrella-environment=development", target=alone.url)
    once = sandbox_requests(alone)
    assert sent <= once + 3, (sent, once)


@pytest.mark.parametrize(
    ("concurrency", "together"),
    [
        pytest.param(1, False, id="concurrency-1-one-at-a-time"),
        pytest.param(2, True, id="concurrency-2-planned-requests-prefetched"),
    ],
)
def test_planned_requests_go_out_with_the_probe_from_concurrency_2(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    suite_dir: Path,
    concurrency: int,
    together: bool,
) -> None:
    sandbox = sandbox_server("slow=/v1/health:1000")
    monkeypatch.setenv("UMBRELLA_USER_TOKEN", sandbox.accounts["user"].token)
    config = (suite_dir / "umbrella.toml").read_text(
        encoding="utf-8"
    ) + f"\n[env.development.http]\nconcurrency = {concurrency}\n"
    run_checks(
        "checks/test_smoke.py",
        "--umbrella-environment=development",
        target=sandbox.url,
        config=config,
    )
    arrived = arrived_while_the_probe_waited(sandbox)
    assert bool(arrived) is together, arrived
