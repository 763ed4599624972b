"""Runbook › Weekly Review › Capacity Planning: D1 database size and R2 storage against quota
(alert at 80%)."""

from datetime import datetime, timedelta

import pytest

from umbrella_checks.api import (
    D1Backend,
    Figures,
    GraphQL,
    Settings,
    WranglerApp,
    cannot_judge,
    fail,
    not_applicable,
    read,
    saw,
)

pytestmark = [pytest.mark.weekly, pytest.mark.severity("SEV-3")]


def _judge(what: str, used: float, quota: float, alert_at: float, fix: str) -> None:
    if used >= quota * alert_at:
        fail(
            f"{what}: expected under {alert_at:.0%} of the {quota / 1e9:g} GB quota, got "
            f"{used / 1e9:.2f} GB ({used / quota:.0%}); {fix}"
        )
    saw(
        what,
        f"{used / 1e9:.2f} GB ({used / quota:.0%} of {quota / 1e9:g} GB)",
        f"expected under {alert_at:.0%}",
    )


def test_d1_database_is_under_its_size_quota(
    d1: D1Backend, settings: Settings, figures: Figures
) -> None:
    """A full D1 refuses every write: sign-ups, gigs and Violet's usage stop. Alert at
    [capacity] alert_at of the quota, while there is time to act."""
    size = read(d1, "SELECT 1 AS ok").size_bytes
    if size is None:
        cannot_judge(f"{d1.description} does not report the database size")
    figures.record("D1 size (bytes)", size)
    capacity = settings.config.capacity
    _judge(
        f"{d1.description}",
        size,
        capacity.d1_quota,
        capacity.alert_at,
        "archive old rows or raise the plan before writes start failing",
    )


def test_r2_bucket_is_under_its_storage_quota(
    graphql: GraphQL, wrangler_app: WranglerApp, settings: Settings, figures: Figures
) -> None:
    """A full R2 bucket refuses uploads: artists cannot add media. Alert at [capacity] alert_at
    of the quota."""
    names = wrangler_app.r2_buckets(settings.environment)
    if not names:
        not_applicable(f"{wrangler_app.path} declares no [[r2_buckets]] for this environment")
    end = datetime.now().astimezone().replace(microsecond=0)
    capacity = settings.config.capacity
    for name in names:
        used = graphql.r2_bytes(name, end - timedelta(days=1), end)
        if used is None:
            fail(f"could not check: no R2 storage analytics for bucket {name} in the last day")
        figures.record(f"R2 {name} (bytes)", used)
        _judge(
            f"R2 bucket {name}",
            used,
            capacity.r2_quota,
            capacity.alert_at,
            "clean up old uploads or raise the quota",
        )
