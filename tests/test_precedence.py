"""Precedence, for every option and every pair of its sources: command line > environment
variable > config file > default (README › Configuration). One test per pair."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from umbrella_checks.settings import resolve

# option -> its sources, highest first: (kind, name, value). Paths exist (made in tmp_path).
SOURCES: dict[str, list[tuple[str, str, str]]] = {
    "base_url": [
        ("cli", "base_url", "http://127.0.0.1:1"),
        ("env", "API_URL", "http://127.0.0.1:2"),
        ("env", "PYTEST_BASE_URL", "http://127.0.0.1:3"),
        ("file", "target.base_url", "http://127.0.0.1:4"),
        ("ini", "base_url_ini", "http://127.0.0.1:5"),
    ],
    "environment": [
        ("cli", "environment", "staging"),
        ("env", "ENVIRONMENT", "preview"),
        ("file", "target.environment", "development"),
        ("default", "", "production"),
    ],
    "expected_version": [
        ("cli", "expected_version", "1.0.1"),
        ("env", "EXPECTED_VERSION", "1.0.2"),
        ("default", "", ""),
    ],
    "app_dir": [
        ("cli", "app_dir", "cli-app"),
        ("env", "UMBRELLA_APP_DIR", "env-app"),
        ("default", "", ""),
    ],
    "d1_sqlite": [
        ("cli", "d1_sqlite", "cli.sqlite"),
        ("env", "D1_SQLITE_PATH", "env.sqlite"),
        ("default", "", ""),
    ],
    "config_path": [
        ("cli", "umbrella_config", "cli.toml"),
        ("env", "UMBRELLA_CONFIG", "env.toml"),
        ("default", "", "umbrella.toml"),
    ],
}

PATHS = {"app_dir", "d1_sqlite", "config_path"}


def _pairs() -> list[Any]:
    cases = []
    for option, sources in SOURCES.items():
        for high, low in itertools.combinations(sources, 2):
            ident = f"{option}-{high[1] or 'default'}-over-{low[1] or 'default'}"
            cases.append(pytest.param(option, high, low, id=ident))
    return cases


@pytest.mark.parametrize(("option", "high", "low"), _pairs())
def test_the_higher_source_wins(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    high: tuple[str, str, str],
    low: tuple[str, str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("app", "cli-app", "env-app"):
        (tmp_path / name).mkdir()
    options: dict[str, Any] = {"base_url": None, "base_url_ini": None}
    environ: dict[str, str] = {}
    file_lines: dict[str, list[str]] = {}
    for kind, name, value in (low, high):
        if kind in ("cli", "ini"):
            path_like = option in PATHS
            options[name] = str(tmp_path / value) if path_like else value
        elif kind == "env":
            environ[name] = str(tmp_path / value) if option in PATHS else value
        elif kind == "file":
            section, key = name.split(".")
            file_lines.setdefault(section, []).append(f'{key} = "{value}"')
    config = "".join(
        f"[{section}]\n" + "\n".join(lines) + "\n" for section, lines in file_lines.items()
    )
    for name in ("umbrella.toml", "cli.toml", "env.toml"):
        (tmp_path / name).write_text(config, encoding="utf-8")
    if option != "base_url":
        options["base_url"] = "http://127.0.0.1:9"

    settings = resolve(lambda name: options.get(name), environ, tmp_path)

    expected = str(tmp_path / high[2]) if option in PATHS and high[2] else high[2]
    got = str(getattr(settings, option) or "")
    assert got == expected, f"{high[1] or 'default'} must beat {low[1] or 'default'}"


def test_an_explicit_base_url_equal_to_pytest_base_url_is_the_command_lines(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-base-url defaults --base-url to PYTEST_BASE_URL: given explicitly with the same
    value it is still the command line's, and API_URL does not win over it."""
    monkeypatch.setenv("PYTEST_BASE_URL", "http://127.0.0.1:8")
    monkeypatch.setenv("API_URL", "http://127.0.0.1:7")
    text = pytester.runpytest_subprocess("--co", "--base-url=http://127.0.0.1:8").stdout.str()
    assert "Target: http://127.0.0.1:8 (from --base-url)" in text
    text = pytester.runpytest_subprocess("--co").stdout.str()
    assert "Target: http://127.0.0.1:7 (from API_URL)" in text
