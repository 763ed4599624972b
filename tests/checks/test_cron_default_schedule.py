"""Without an app checkout the cron checks judge ``[cron] default_schedule``: an empty or broken
one is a finding naming the setting, never a schedule of nothing that passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunChecks
from umbrella_checks.sandbox import Sandbox

ON_SCHEDULE = "test_analytics_cron_ran_on_schedule"


@pytest.mark.parametrize(
    "schedule", [pytest.param("[]", id="empty"), pytest.param('["every night"]', id="not-cron")]
)
def test_a_default_schedule_that_names_no_time_fails_naming_it(
    run_checks: RunChecks,
    sandbox_server: Callable[..., Sandbox],
    suite_dir: Path,
    schedule: str,
) -> None:
    sandbox = sandbox_server()
    config = (
        suite_dir / "umbrella.toml"
    ).read_text() + f"\n[env.development.cron]\ndefault_schedule = {schedule}\n"
    run = run_checks(
        "checks/test_database.py",
        "-k",
        "on_schedule",
        "--umbrella-environment=development",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        target=sandbox.url,
        config=config,
    )
    assert run.failed_names() == [ON_SCHEDULE]
    assert "[cron] default_schedule: expected cron expressions, got" in run.message_of(ON_SCHEDULE)
