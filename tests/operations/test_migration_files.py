"""The migrations folder read as wrangler reads it: the order files apply in and the naming
rule the database checks report against."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks.operations.migrations import migration_files, naming_problems


def test_files_apply_in_number_order_then_unnumbered_by_name(tmp_path: Path) -> None:
    for name in ("10_ten.sql", "2_two.sql", "notes_b.sql", "alpha.sql", "0001_one.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    (tmp_path / "README.md").write_text("not a migration")
    assert migration_files(tmp_path) == [
        "0001_one.sql",
        "2_two.sql",
        "10_ten.sql",
        "alpha.sql",
        "notes_b.sql",
    ]


@pytest.mark.parametrize(
    ("files", "problems"),
    [
        pytest.param([], [], id="none-nothing-missing"),
        pytest.param(["init.sql"], ["init.sql: not named NNNN_description.sql"], id="misnamed"),
    ],
)
def test_no_numbered_file_means_no_number_is_missing(files: list[str], problems: list[str]) -> None:
    """Gaps and duplicates are test_cron_schedule.py's; here the empty edge."""
    assert naming_problems(files) == problems
