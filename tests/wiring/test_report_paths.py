"""Where a run's report goes: never over another run's evidence, and a discarded run leaves
nothing behind even when it wrote only part of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from umbrella_checks.wiring.reporting import ReportPaths

STARTED = datetime(2026, 12, 1, 1, 2, 3, 4567, tzinfo=UTC)


def test_a_run_is_named_to_the_millisecond(tmp_path: Path) -> None:
    paths = ReportPaths.plan(tmp_path, "daily", STARTED)
    assert paths.html == tmp_path / "daily-20261201T010203004Z.html"
    assert paths.junit == tmp_path / "daily-20261201T010203004Z.xml"
    assert paths.latest == tmp_path / "daily-latest.html"


def test_runs_in_the_same_millisecond_are_numbered_from_2(tmp_path: Path) -> None:
    (tmp_path / "daily-20261201T010203004Z.html").write_text("first")
    assert ReportPaths.plan(tmp_path, "daily", STARTED).html.name == (
        "daily-20261201T010203004-2Z.html"
    )
    (tmp_path / "daily-20261201T010203004-2Z.html").write_text("second")
    assert ReportPaths.plan(tmp_path, "daily", STARTED).html.name == (
        "daily-20261201T010203004-3Z.html"
    )


def test_discarding_a_run_that_wrote_only_its_html(tmp_path: Path) -> None:
    paths = ReportPaths.plan(tmp_path, "daily", STARTED)
    paths.html.write_text("half a run")
    paths.discard()
    assert list(tmp_path.iterdir()) == []
