"""Runbook › Daily Operations › Morning Health Check, step 1: Verify Production Health.

Also Monitoring › Application Health and Common Issues › Issue 1 (Health Check Failing): the
first thing CI and the on-call engineer look at after a deploy.
"""

from datetime import datetime

import pytest

from umbrella_checks.client import Answer
from umbrella_checks.settings import Settings

pytestmark = [pytest.mark.postdeploy, pytest.mark.daily]


def test_health_answers_200(health: Answer) -> None:
    """A non-200 health answer is SEV-1: the runbook's rollback trigger."""
    health.expect_status(
        200, hint="the Worker is failing; see Common Issues › Issue 1, consider rollback"
    )


def test_health_says_healthy(health: Answer) -> None:
    """Every dependency (D1, KV, R2) must be up, not just the Worker."""
    health.expect_field(
        "data.status",
        "healthy",
        hint=f"dependencies: {health.body().get('data', {}).get('dependencies')}",
    )


def test_health_reports_the_expected_environment(health: Answer, settings: Settings) -> None:
    """A deploy that went to the wrong worker answers with the wrong environment."""
    health.expect_field(
        "data.environment",
        settings.environment,
        hint=f"the deploy went to the wrong worker, or ENVIRONMENT is wrong in wrangler.toml "
        f"[env.{settings.environment}.vars]",
    )


def test_health_timestamp_is_current(health: Answer, settings: Settings, now: datetime) -> None:
    """A stale timestamp means a cached or frozen answer, not a live Worker."""
    health.expect_fresh("data.timestamp", within=settings.config.health.max_clock_skew, now=now)


def test_health_reports_its_version(health: Answer, settings: Settings) -> None:
    """The version tells which release is live; with --expected-version it must be this deploy's."""
    version = health.field("data.version")
    if not isinstance(version, str) or not version.strip():
        health.fail("a non-empty data.version", repr(version))
    if settings.expected_version and version != settings.expected_version:
        health.fail(
            f"version {settings.expected_version} (--expected-version)",
            version,
            "the deploy did not roll out: check `wrangler deployments list --env "
            f"{settings.environment}`",
        )
