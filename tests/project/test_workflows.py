"""The shipped workflows, run step by step against the sandbox: green on a healthy deploy, the
rollback reached on a bad one. Credentials go the way production's do: tokens minted through
(a local) Clerk, Cloudflare analytics and Sentry through local servers in their formats."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.commands.test_perf import FAST
from tests.conftest import REPO
from tests.fakes import FakeClerk, FakeGraphQL, FakeSentry, SlackHook
from tests.workflow_runner import JobRun, Workflow
from umbrella_checks import history
from umbrella_checks.sandbox import Sandbox, parse_faults

WORKFLOWS = REPO / ".github" / "workflows"
USER, ADMIN = "clerk_user_1", "clerk_user_3"  # the sandbox's artist and admin accounts


@pytest.fixture
def clerk() -> Iterator[FakeClerk]:
    with FakeClerk([USER, ADMIN]).running() as server:
        yield server


def _workspace(tmp_path: Path, sandbox: Sandbox) -> Path:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "app").symlink_to(sandbox.app_dir)
    return workspace


def _credentials(clerk: FakeClerk, slack: SlackHook) -> dict[str, str]:
    return {
        "secrets.CLERK_SECRET_KEY": FakeClerk.TOKEN,
        "secrets.UMBRELLA_USER_ID": USER,
        "secrets.UMBRELLA_ADMIN_ID": ADMIN,
        "secrets.SLACK_WEBHOOK_URL": slack.url,
    }


def _postdeploy(
    tmp_path: Path,
    suite_dir: Path,
    sandbox: Sandbox,
    clerk: FakeClerk,
    slack: SlackHook,
    environment: str = "development",
    *,
    inputs: dict[str, str] | None = None,
    artifacts: dict[str, Path] | None = None,
    workflow_file: str = "postdeploy.yml",
) -> tuple[Workflow, Callable[..., JobRun]]:
    workflow = Workflow(WORKFLOWS / workflow_file)
    context = {
        "inputs.url": sandbox.url,
        "inputs.environment": environment,
        "inputs.expected_version": "0.1.0",
        "inputs.d1_checks": "true",
        "inputs.rollback": "true",
        "inputs.baseline": "false",
        "inputs.watch_minutes": "0",
        "inputs.watch_every": "60",
        "github.workspace": str(_workspace(tmp_path, sandbox)),
        **_credentials(clerk, slack),
        **{f"inputs.{key}": value for key, value in (inputs or {}).items()},
    }
    # What a runner has and this machine does not: Clerk's and D1's real hosts.
    extra = {"CLERK_API_URL": clerk.base, "D1_SQLITE_PATH": str(sandbox.d1_sqlite)}
    store = artifacts if artifacts is not None else {}

    def run(
        job: str,
        needs: JobRun | None = None,
        install_fails: bool = False,
        watch: JobRun | None = None,
    ) -> JobRun:
        known = {**context, **(needs.as_needs("gate") if needs else {})}
        known.update(watch.as_needs("watch") if watch else {})
        return workflow.run_job(
            job,
            known,
            {"umbrella-checks": suite_dir, "": tmp_path},
            extra,
            install_fails=install_fails,
            artifacts=store,
        )

    return workflow, run


AFTER_THE_GATE = ("watch", "rollback", "on-call", "ci-owner")


def _next_jobs(
    workflow: Workflow, gate: JobRun, watch: JobRun | None = None, minutes: str = "0"
) -> list[str]:
    """The jobs after the gate (and the watch) that Actions would start, by their ``if:``."""
    context = {"inputs.rollback": "true", "inputs.watch_minutes": minutes, **gate.as_needs("gate")}
    context.update(watch.as_needs("watch") if watch else {})
    jobs = AFTER_THE_GATE[1:] if watch else AFTER_THE_GATE
    return [job for job in jobs if workflow.should_run(job, context)]


def test_the_post_deploy_gate_is_green_on_a_healthy_deploy(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    workflow, run = _postdeploy(tmp_path, suite_dir, sandbox, clerk, slack)
    gate = run("gate")
    assert not gate.failed, gate.output
    assert gate.ran == ["Post-deploy gate"]
    assert gate.outputs == {"verdict": "healthy"}
    assert ": **healthy**" in gate.summary
    assert _next_jobs(workflow, gate) == []  # the rollback and the CI owner's alert stay idle
    assert slack.posts == []
    assert clerk.revoked == clerk.created == 2  # user and admin, minted and revoked


def test_a_bad_deploy_reaches_the_rollback_and_alerts(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server("health-500", clerk_jwks_url=f"{clerk.base}/jwks")
    workflow, run = _postdeploy(tmp_path, suite_dir, sandbox, clerk, slack)
    gate = run("gate")
    assert gate.failed
    assert gate.outputs == {"verdict": "broken"}
    assert "### umbrella-checks postdeploy on http://127.0.0.1:" in gate.summary
    assert ": **broken**" in gate.summary
    assert "| SEV-1 | broken | `test_health_answers_200`" in gate.summary  # on the run page
    assert _next_jobs(workflow, gate) == ["rollback"]
    rollback = run("rollback", needs=gate)
    wrangler = [r for r in rollback.recorded if r.startswith("cloudflare/wrangler-action")]
    assert len(wrangler) == 1
    assert "'command': 'rollback --env development --yes --message" in wrangler[0]
    assert rollback.ran == ["Gate the rolled-back release"]
    assert len(slack.posts) == 2  # the failed gate, then the rolled-back one still failing
    assert "root cause: GET /v1/health answers 500" in slack.posts[0]
    assert len(list((suite_dir / "reports").glob("incident-*.md"))) == 1  # one incident


@pytest.mark.parametrize(
    ("install_fails", "environment", "verdict"),
    [
        pytest.param(True, "development", "", id="pip-install-fails"),
        pytest.param(False, "nowhere", "could-not-run", id="usage-error-exit-4"),
    ],
)
def test_a_gate_that_could_not_run_alerts_the_ci_owner_and_never_rolls_back(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
    install_fails: bool,
    environment: str,
    verdict: str,
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    workflow, run = _postdeploy(tmp_path, suite_dir, sandbox, clerk, slack, environment)
    gate = run("gate", install_fails=install_fails)
    assert gate.failed
    assert gate.outputs == {"verdict": verdict}
    assert _next_jobs(workflow, gate) == ["ci-owner"]
    owner = run("ci-owner", needs=gate)
    assert owner.failed  # red, so the run shows it too
    (post,) = slack.posts
    assert "could not judge" in post
    assert "not rolled back" in post
    assert sandbox.url in post


@pytest.fixture
def analytics(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraphQL]:
    with FakeGraphQL().running() as api:
        yield api


@pytest.fixture
def sentry_api() -> Iterator[FakeSentry]:
    with FakeSentry().running() as api:
        yield api


@pytest.mark.parametrize("tier", ["daily", "weekly"])
def test_the_scheduled_tiers_are_green_on_a_healthy_production(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
    analytics: FakeGraphQL,
    sentry_api: FakeSentry,
    tier: str,
) -> None:
    sandbox = sandbox_server(environment="production", clerk_jwks_url=f"{clerk.base}/jwks")
    context = {
        "vars.UMBRELLA_URL": sandbox.url,
        "github.workspace": str(_workspace(tmp_path, sandbox)),
        "github.run_id": "1",
        "secrets.CLOUDFLARE_API_TOKEN": FakeGraphQL.TOKEN,
        "secrets.CLOUDFLARE_ACCOUNT_ID": "acc123",
        "vars.CLOUDFLARE_ZONE_ID": "zone123",
        "secrets.SENTRY_AUTH_TOKEN": FakeSentry.TOKEN,
        "vars.SENTRY_ORG": FakeSentry.ORG,
        "vars.SENTRY_PROJECT": FakeSentry.PROJECT,
        **_credentials(clerk, slack),
    }
    extra = {
        "CLERK_API_URL": clerk.base,
        "CLOUDFLARE_API_BASE_URL": analytics.base,
        "SENTRY_BASE_URL": sentry_api.root,
        "D1_SQLITE_PATH": str(sandbox.d1_sqlite),
    }
    if tier == "weekly":
        # Real tokens for the forged-token review, and earlier weeks for the trends.
        context["secrets.UMBRELLA_EXPIRED_TOKEN"] = sandbox.issued["expired"]
        context["secrets.UMBRELLA_OTHER_ISSUER_TOKEN"] = sandbox.issued["other-issuer"]
        now = datetime.now(UTC)
        for days in (1, 10, 17):
            history.append(
                suite_dir / "reports" / "history.sqlite",
                now - timedelta(days=days),
                "daily",
                sandbox.url,
                [("D1 users count (ms)", 1.0)],
            )
    done = Workflow(WORKFLOWS / f"{tier}.yml").run_job(tier, context, {"": suite_dir}, extra)
    assert not done.failed, done.output
    assert done.ran == [f"The {tier} tier"]
    assert "actions/cache/save" in " ".join(done.recorded)
    assert slack.posts == []


def test_the_release_gate_workflow_is_green_on_a_healthy_staging(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
) -> None:
    shutil.copytree(REPO / "perf", suite_dir / "perf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", suite_dir / "pyproject.toml")  # [tool.locust]
    (tmp_path / "fast.toml").write_text(FAST, encoding="utf-8")
    sandbox = sandbox_server(environment="staging", clerk_jwks_url=f"{clerk.base}/jwks")
    context = {
        "vars.STAGING_URL": sandbox.url,
        "secrets.STAGING_CLERK_SECRET_KEY": FakeClerk.TOKEN,
        "secrets.STAGING_USER_ID": USER,
    }
    # Locust reads LOCUST_* over [tool.locust]: a short run; budgets roomy for a busy machine.
    extra = {
        "CLERK_API_URL": clerk.base,
        "UMBRELLA_CONFIG": str(tmp_path / "fast.toml"),
        "LOCUST_RUN_TIME": "3s",
        "LOCUST_USERS": "10",
    }
    done = Workflow(WORKFLOWS / "release-perf.yml").run_job("perf", context, {"": suite_dir}, extra)
    assert not done.failed, done.output
    assert done.ran == ["Release gate"]
    assert "verdict: PASS" in done.output
    assert clerk.created == clerk.revoked == 1  # one minted session for every Locust user


def _runtime_dependencies() -> set[str]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


@pytest.mark.parametrize("lock", ["runtime", "perf"])
def test_the_workflows_install_from_a_lock_with_hashes(lock: str) -> None:
    """What PyPI serves the minute a gate runs must not decide a rollback: every dependency
    pinned, every pin hashed, and the workflows install with --require-hashes."""
    text = (REPO / "requirements" / f"{lock}.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M))
    assert _runtime_dependencies() <= {name.lower() for name in pins}
    for name in pins:
        block = text.split(f"\n{name}==", 1)[1].split("\n\n", 1)[0]
        assert "--hash=sha256:" in block.split("\n# via", 1)[0], name
    options = [line for line in text.splitlines() if line.startswith("--")]
    assert options == []  # no machine's own mirror (--index-url, --find-links)
    installs = [
        line
        for path in WORKFLOWS.glob("*.yml")
        for line in path.read_text().splitlines()
        if "pip install" in line
    ]
    assert all("--require-hashes" in line or "--no-deps ." in line for line in installs)
    assert any(f"requirements/{lock}.lock" in line for line in installs)


def _baseline(
    tmp_path: Path,
    suite_dir: Path,
    sandbox: Sandbox,
    clerk: FakeClerk,
    slack: SlackHook,
    artifacts: dict[str, Path],
) -> JobRun:
    """baseline.yml's job, as the caller runs it before its deploy."""
    _, run = _postdeploy(
        tmp_path / "before",
        suite_dir,
        sandbox,
        clerk,
        slack,
        artifacts=artifacts,
        workflow_file="baseline.yml",
    )
    return run("baseline")


@pytest.fixture
def before(tmp_path: Path) -> Path:
    (tmp_path / "before").mkdir()
    return tmp_path / "before"


def test_the_baseline_workflow_takes_a_baseline_and_hands_it_over(
    tmp_path: Path,
    before: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    artifacts: dict[str, Path] = {}
    taken = _baseline(tmp_path, suite_dir, sandbox, clerk, slack, artifacts)
    assert not taken.failed, taken.output
    assert taken.outputs == {"taken": "true"}
    assert list(artifacts) == ["umbrella-baseline"]
    assert slack.posts == []  # a baseline alerts nobody
    _, run = _postdeploy(
        tmp_path, suite_dir, sandbox, clerk, slack, inputs={"baseline": "true"}, artifacts=artifacts
    )
    gate = run("gate")
    assert gate.outputs == {"verdict": "healthy"}, gate.output
    assert "compared with the baseline taken at" in gate.summary


def test_a_failure_already_there_before_the_deploy_is_not_rolled_back(
    tmp_path: Path,
    before: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server("health-unhealthy", clerk_jwks_url=f"{clerk.base}/jwks")
    artifacts: dict[str, Path] = {}
    _baseline(tmp_path, suite_dir, sandbox, clerk, slack, artifacts)
    workflow, run = _postdeploy(
        tmp_path, suite_dir, sandbox, clerk, slack, inputs={"baseline": "true"}, artifacts=artifacts
    )
    gate = run("gate")
    assert gate.outputs == {"verdict": "pre-existing"}
    assert _next_jobs(workflow, gate) == ["on-call"]
    told = run("on-call", needs=gate)
    assert told.failed  # red: a person decides
    assert "not rolled back, a person decides" in slack.posts[-1]


def test_a_failure_the_deploy_brought_is_rolled_back(
    tmp_path: Path,
    before: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    artifacts: dict[str, Path] = {}
    _baseline(tmp_path, suite_dir, sandbox, clerk, slack, artifacts)
    sandbox.switch(parse_faults(["health-unhealthy"]))  # what the deploy brought
    workflow, run = _postdeploy(
        tmp_path, suite_dir, sandbox, clerk, slack, inputs={"baseline": "true"}, artifacts=artifacts
    )
    gate = run("gate")
    assert gate.outputs == {"verdict": "broken"}
    assert "failed (new)" in gate.summary
    assert _next_jobs(workflow, gate) == ["rollback"]


def test_a_missing_baseline_leaves_the_gate_as_it_was(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    _, run = _postdeploy(tmp_path, suite_dir, sandbox, clerk, slack, inputs={"baseline": "true"})
    gate = run("gate")
    assert not gate.failed, gate.output
    assert gate.outputs == {"verdict": "healthy"}
    assert "no baseline: every failure is judged as new" in gate.summary


@pytest.mark.parametrize(
    ("faults", "watched", "after"),
    [
        pytest.param([], "healthy", [], id="healthy-deploy"),
        pytest.param(["health-500"], "broken", ["rollback"], id="broken-after-the-gate"),
    ],
)
def test_the_watch_judges_the_deploy_after_the_gate(
    tmp_path: Path,
    suite_dir: Path,
    sandbox_server: Callable[..., Sandbox],
    clerk: FakeClerk,
    slack: SlackHook,
    faults: list[str],
    watched: str,
    after: list[str],
) -> None:
    sandbox = sandbox_server(clerk_jwks_url=f"{clerk.base}/jwks")
    minutes = {"watch_minutes": "0.02", "watch_every": "0.3"}  # 4 intervals, scaled down
    workflow, run = _postdeploy(tmp_path, suite_dir, sandbox, clerk, slack, inputs=minutes)
    gate = run("gate")
    assert gate.outputs == {"verdict": "healthy"}
    assert _next_jobs(workflow, gate, minutes="0.02") == ["watch"]
    sandbox.switch(parse_faults(faults))  # minutes after the gate
    watch = run("watch", needs=gate)
    assert watch.outputs == {"verdict": watched}, watch.output
    assert "| minute | at (UTC) | interval | what |" in watch.summary
    assert _next_jobs(workflow, gate, watch) == after
