"""Which checks run in which tier: the runbook's schedule, as the markers select it.

A check that silently drops out of a tier (a marker lost in a refactor) is a check that no
longer runs after deploys, or no longer runs at night; nothing else would notice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HEALTH = [
    "test_health.py::test_health_answers_200",
    "test_health.py::test_health_reports_its_version",
    "test_health.py::test_health_reports_the_expected_environment",
    "test_health.py::test_health_says_healthy",
    "test_health.py::test_health_timestamp_is_current",
]
MIGRATIONS = [
    "test_database.py::test_database_is_reachable",
    "test_database.py::test_migration_files_are_numbered_in_sequence",
    "test_database.py::test_no_migration_is_pending",
    "test_database.py::test_no_unknown_migration_is_applied",
]
TRAFFIC = [
    "test_traffic.py::test_request_volume_did_not_drop",
    "test_traffic.py::test_worker_error_rate_is_under_budget",
    "test_traffic.py::test_worker_latency_is_under_target",
]
TIERS = {
    "postdeploy": [
        *HEALTH,
        *MIGRATIONS,
        "test_smoke.py::test_cors_does_not_grant_credentials_to_other_origins",
        "test_smoke.py::test_cors_preflight_allows_each_configured_origin",
        "test_smoke.py::test_cors_preflight_is_cached_long_enough",
        "test_smoke.py::test_critical_path_meets_its_latency_budget",
        "test_smoke.py::test_protected_route_accepts_the_test_user",
        "test_smoke.py::test_protected_route_refuses_anonymous",
        "test_smoke.py::test_unknown_route_answers_404_envelope",
        "test_status_matrix.py::test_route_answers_its_status",
    ],
    "daily": [
        *HEALTH,
        *MIGRATIONS,
        *TRAFFIC,
        "test_certificates.py::test_domain_registration_is_not_about_to_expire",
        "test_certificates.py::test_tls_certificate_is_trusted_names_the_host_and_has_weeks_left",
        "test_database.py::test_analytics_cron_last_run_did_not_fail",
        "test_database.py::test_analytics_cron_ran_on_schedule",
        "test_database.py::test_no_cron_run_is_stuck",
        "test_database.py::test_each_cron_run_logs_one_row",
        "test_sentry.py::test_no_new_critical_or_high_sentry_issues",
    ],
    "weekly": [
        *TRAFFIC,
        "test_capacity.py::test_d1_database_is_under_its_size_quota",
        "test_capacity.py::test_r2_bucket_is_under_its_storage_quota",
        "test_rate_limit.py::test_another_account_is_unaffected",
        "test_rate_limit.py::test_every_429_is_a_proper_429",
        "test_rate_limit.py::test_exactly_the_remaining_quota_is_accepted",
        "test_rate_limit.py::test_quota_stays_closed_after_a_minute",
        "test_rate_limit.py::test_the_prompt_past_the_limit_gets_429_envelope",
        "test_rate_limit.py::test_violet_limit_is_the_documented_one",
        "test_rate_limit.py::test_violet_remaining_matches_usage",
        "test_rate_limit.py::test_violet_window_is_daily",
        "test_security.py::test_authentication_failures_did_not_surge",
        "test_security.py::test_documented_rate_limits_are_visible_on_their_routes",
        "test_security.py::test_maintenance_routes_refuse_anonymous_callers",
        "test_security.py::test_signed_in_routes_refuse_a_forged_token",
        "test_trends.py::test_no_figure_degraded_week_over_week",
    ],
}


@pytest.mark.parametrize("tier", list(TIERS))
def test_each_tier_selects_the_runbooks_checks(
    pytester: pytest.Pytester, suite_dir: Path, tier: str
) -> None:
    result = pytester.runpytest_subprocess(
        "--co", "-q", "-m", tier, "--base-url=http://127.0.0.1:9"
    )
    selected = {
        line.split("[", 1)[0].removeprefix("checks/")
        for line in result.stdout.lines
        if line.startswith("checks/")
    }
    assert sorted(selected) == sorted(set(TIERS[tier]))


# The SEV an incident draft and an alert carry when a check fails: a lost marker would page at
# the wrong level (or not page). Every check not named here is SEV-2.
SEVERITY = {
    "SEV-1": {
        "test_database.py::test_database_is_reachable",
        "test_database.py::test_no_migration_is_pending",
        "test_health.py::test_health_answers_200",
        "test_health.py::test_health_reports_the_expected_environment",
        "test_security.py::test_maintenance_routes_refuse_anonymous_callers",
        "test_security.py::test_signed_in_routes_refuse_a_forged_token",
        "test_smoke.py::test_cors_does_not_grant_credentials_to_other_origins",
        "test_smoke.py::test_cors_preflight_allows_each_configured_origin",
        "test_smoke.py::test_protected_route_accepts_the_test_user",
        "test_smoke.py::test_protected_route_refuses_anonymous",
    },
    "SEV-3": {
        "test_capacity.py::test_d1_database_is_under_its_size_quota",
        "test_capacity.py::test_r2_bucket_is_under_its_storage_quota",
        "test_database.py::test_migration_files_are_numbered_in_sequence",
        "test_security.py::test_documented_rate_limits_are_visible_on_their_routes",
        "test_smoke.py::test_cors_preflight_is_cached_long_enough",
        "test_smoke.py::test_unknown_route_answers_404_envelope",
        "test_trends.py::test_no_figure_degraded_week_over_week",
    },
}


def test_each_check_has_the_runbooks_severity(pytester: pytest.Pytester, suite_dir: Path) -> None:
    items, _ = pytester.inline_genitems("--base-url=http://127.0.0.1:9")
    found: dict[str, set[str]] = {}
    for item in items:
        name = item.nodeid.split("[", 1)[0].removeprefix("checks/")
        marker = item.get_closest_marker("severity")
        assert marker is not None, f"{name} has no severity"
        found.setdefault(name, set()).add(marker.args[0])
    # The status matrix takes each row's severity from its status: a route that should refuse
    # (401, 403) is SEV-1, an auth hole; every other row SEV-2.
    assert found.pop("test_status_matrix.py::test_route_answers_its_status") == {"SEV-1", "SEV-2"}
    for item in items:
        if "test_route_answers_its_status[" in item.nodeid:
            refuses = "-> 401" in item.nodeid or "-> 403" in item.nodeid
            marker = item.get_closest_marker("severity")
            assert marker is not None
            assert marker.args[0] == ("SEV-1" if refuses else "SEV-2"), item.nodeid
    expected = {
        name: {next((sev for sev, names in SEVERITY.items() if name in names), "SEV-2")}
        for name in found
    }
    assert found == expected
