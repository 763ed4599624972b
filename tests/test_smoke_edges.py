"""Post-deploy checks at their edges: a preflight cached exactly as long as required, one
preflight per run for the cache check, and a route answering 500 named as a crash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import RunChecks

CACHED = "test_cors_preflight_is_cached_long_enough"


def test_a_preflight_cached_exactly_the_minimum_passes(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_smoke.py", "-k", CACHED, faults=["preflight-max-age=600"])
    assert run.passed_names() == [CACHED]


def _sent(run_checks: RunChecks, suite_dir: Path, origins: list[str]) -> int:
    config = suite_dir / "umbrella.toml"
    listed = ", ".join(f'"{origin}"' for origin in origins)
    config.write_text(
        config.read_text() + f"\n[env.development.cors]\nallowed_origins = [{listed}]\n"
    )
    run = run_checks("checks/test_smoke.py", "-k", CACHED)
    assert run.passed_names() == [CACHED]
    found = re.search(r"umbrella: (\d+) requests sent to the target", run.output)
    assert found is not None
    return int(found.group(1))


def test_the_cache_check_sends_one_preflight_however_many_origins(
    run_checks: RunChecks, suite_dir: Path
) -> None:
    original = (suite_dir / "umbrella.toml").read_text()
    one = _sent(run_checks, suite_dir, ["https://umbrella.app"])
    (suite_dir / "umbrella.toml").write_text(original)
    two = _sent(run_checks, suite_dir, ["https://umbrella.app", "https://www.umbrella.app"])
    assert two == one


def test_a_route_answering_500_is_named_a_crash(run_checks: RunChecks) -> None:
    run = run_checks("checks/test_status_matrix.py", faults=["database-down"])
    assert any("expected 200 (never a 5xx), got 500" in m for m in run.messages.values())


@pytest.mark.parametrize("variant", ["preflight-200", "credentials-on-every-preflight"])
def test_harmless_cors_variants_pass(run_checks: RunChecks, variant: str) -> None:
    """A preflight answered 200, or credentials allowed on a preflight that grants no origin,
    is how many CORS middlewares answer: nothing to page anyone about."""
    run = run_checks("checks/test_smoke.py", "-k", "cors", faults=[variant])
    assert run.failed_names() == []
    assert len(run.passed_names()) == 3
