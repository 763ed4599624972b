"""What one run shares between the plugin's hooks and its fixtures: stash keys and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from umbrella_checks.clerk import TokenStore
from umbrella_checks.client import RequestCounter
from umbrella_checks.incident import Failure
from umbrella_checks.matrix import Row
from umbrella_checks.reporting import ReportPaths
from umbrella_checks.settings import Settings

if TYPE_CHECKING:
    from umbrella_checks.sandbox import Sandbox  # noqa: F401 — named in a StashKey below

settings_key = pytest.StashKey[Settings]()
probe_key = pytest.StashKey["Probe"]()
counter_key = pytest.StashKey[RequestCounter]()
sandbox_key = pytest.StashKey["Sandbox"]()
reports_key = pytest.StashKey[ReportPaths]()
started_key = pytest.StashKey[datetime]()
tally_key = pytest.StashKey[dict[str, int]]()
matrix_key = pytest.StashKey[list[Row]]()
figures_key = pytest.StashKey[dict[str, Any]]()
failures_key = pytest.StashKey[list[Failure]]()
notes_key = pytest.StashKey[list[str]]()
store_key = pytest.StashKey[TokenStore]()


@dataclass(frozen=True)
class Probe:
    """What the target said about itself when the run started (one GET of the health route)."""

    status: int | None = None
    version: str | None = None
    environment: str | None = None
    error: str | None = None
    unresponsive: str | None = None


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("reports_dir") or config.rootpath / "reports")


def history_key(settings: Settings) -> str:
    """Trends follow a target across runs; every sandbox run is the same target."""
    return "sandbox" if settings.sandbox else settings.base_url


def matrix_rows(config: pytest.Config) -> list[Row]:
    """The validated status-matrix rows, for the matrix check's parametrization."""
    return config.stash[matrix_key]
