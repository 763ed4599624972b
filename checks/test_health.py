"""Runbook › Daily Operations › Morning Health Check, step 1: Verify Production Health.

Also Monitoring › Application Health and Common Issues › Issue 1 (Health Check Failing): the
first thing CI and the on-call engineer look at after a deploy.
"""

from collections.abc import Mapping
from typing import Any

import pytest

from umbrella_checks.api import HEALTH_FAILING, Answer, Planner, Settings, saw, sends


def _the_health_answer(planner: Planner, settings: Settings, _: Mapping[str, Any]) -> None:
    planner.add("GET", settings.config.health.path)


pytestmark = [
    pytest.mark.postdeploy,
    pytest.mark.daily,
    pytest.mark.severity("SEV-2"),
    # One health answer, fetched once (the ``health`` fixture) and read by every check here.
    sends(_the_health_answer, shared=True),
]


def _required(fact: str, key: str) -> str:
    # What the runbook needs is never offered as something to record away: the remedy is the
    # Worker's answer, or the path where production keeps the fact.
    return (
        f"the runbook's Morning Health Check needs health to say {fact}: add it to the "
        f"Worker's health answer, or if it is there under another path, set [health] {key}"
    )


@pytest.mark.severity("SEV-1")
def test_health_answers_200(health: Answer) -> None:
    """A non-200 health answer is SEV-1: the runbook's rollback trigger."""
    health.expect_status(200, hint=HEALTH_FAILING, root=True)


def test_health_says_healthy(health_facts: Answer, settings: Settings) -> None:
    """Every dependency (D1, KV, R2) must be up, not just the Worker: a degraded one inside a
    200 "healthy" answer is the next outage announcing itself."""
    rules = settings.config.health
    dependencies = health_facts.field(rules.dependencies_field) if rules.dependencies_field else {}
    health_facts.expect_field(
        rules.status_field,
        rules.healthy,
        hint=f"dependencies: {dependencies}",
        required=_required("whether it is healthy", "status_field"),
    )
    if not isinstance(dependencies, dict):
        health_facts.fail(f"{rules.dependencies_field} as an object", repr(dependencies))
    unwell = {name: state for name, state in dependencies.items() if state != rules.healthy}
    if unwell:
        listed = ", ".join(f"{name} {state!r}" for name, state in sorted(unwell.items()))
        health_facts.fail(
            f"every dependency in {rules.dependencies_field} {rules.healthy!r}",
            listed,
            "the Worker answers, but a binding is failing: check the D1/KV/R2 dashboards "
            "(Common Issues › Issue 1)",
        )


@pytest.mark.severity("SEV-1")
def test_health_reports_the_expected_environment(health_facts: Answer, settings: Settings) -> None:
    """A deploy that went to the wrong worker answers with the wrong environment."""
    health_facts.expect_field(
        settings.config.health.environment_field,
        settings.environment,
        required=_required("which environment answers", "environment_field"),
        hint=f"the deploy went to the wrong worker, or ENVIRONMENT is wrong in wrangler.toml "
        f"[env.{settings.environment}.vars]",
    )


def test_health_timestamp_is_current(health_facts: Answer, settings: Settings) -> None:
    """A stale timestamp means a cached or frozen answer, not a live Worker. Judged against the
    time the answer was sent (its ``Date``: it may have been fetched with the tier's first
    requests) and against this runner's clock when it arrived (a cache keeps the Date too); an
    answer that says it came from a cache is no evidence of the deploy."""
    rules = settings.config.health
    health_facts.expect_fresh(rules.timestamp_field, within=rules.max_clock_skew)


def test_health_reports_its_version(health_facts: Answer, settings: Settings) -> None:
    """The version tells which release is live; with --umbrella-expected-version it must be
    this deploy's."""
    field = settings.config.health.version_field
    version = health_facts.field(
        field, required=_required("which release is live", "version_field")
    )
    if not isinstance(version, str) or not version.strip():
        health_facts.fail(f"a non-empty {field}", repr(version))
    if settings.expected_version and version != settings.expected_version:
        health_facts.fail(
            f"version {settings.expected_version} (--umbrella-expected-version)",
            version,
            "the deploy did not roll out: check `wrangler deployments list --env "
            f"{settings.environment}`",
        )
    wanted = settings.expected_version or "a non-empty version"
    saw(field, version, f"expected {wanted}")
