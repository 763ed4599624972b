"""The design's rules that a reviewer would otherwise count by hand: modules stay small enough
to hold one concern, and the self-tests mirror the package (docs/design.md › Layout and
layers; the import layers themselves are lint-imports' in CI)."""

from __future__ import annotations

import configparser
import shlex
import tomllib

from tests.conftest import HARNESS_OPTS, INNER_INI, REPO

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


def test_inner_runs_are_configured_as_the_project_is() -> None:
    """The self-tests' inner runs use the project's pytest options (plus the harness's own two):
    an option added to pyproject.toml and not to the harness would be tested nowhere."""
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    options = shipped["tool"]["pytest"]["ini_options"]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(INNER_INI)
    inner = dict(ini["pytest"])
    harness = shlex.split(HARNESS_OPTS)
    assert shlex.split(inner.pop("addopts")) == [*options.pop("addopts"), *harness]
    assert {key: value.split() for key, value in inner.items()} == {
        key: _words(value) for key, value in options.items()
    }


def _words(value: object) -> list[str]:
    """A TOML value as the ini file spells it, word by word."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
