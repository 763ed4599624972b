"""The design's rules that a reviewer would otherwise count by hand: modules stay small enough
to hold one concern, and the self-tests mirror the package (docs/design.md › Layout and
layers; the import layers themselves are lint-imports' in CI)."""

from __future__ import annotations

from tests.conftest import REPO

SRC = REPO / "src" / "umbrella_checks"
LONGEST = 450


def test_no_module_is_over_450_lines() -> None:
    """A module past 450 lines has grown a second concern: split it where that one lives."""
    long = {
        str(path.relative_to(REPO)): count
        for path in [*SRC.rglob("*.py"), *(REPO / "checks").glob("*.py")]
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert long == {}


def test_the_self_tests_mirror_the_package() -> None:
    """Each package of src/umbrella_checks has a folder of self-tests of the same name."""
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    folders = {p.parent.name for p in (REPO / "tests").glob("*/__init__.py")}
    assert packages - folders == set()
