"""Where a tier run's reports go: ``reports/<tier>-<UTC timestamp>.html`` plus JUnit XML.

Written by the controller only (xdist workers never touch ``reports/``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

TIERS = ("postdeploy", "daily", "weekly")


def tier_of(markexpr: str) -> str:
    """The tier a ``-m`` expression names, or ``custom``."""
    expr = markexpr.strip()
    return expr if expr in TIERS else "custom"


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    junit: Path
    latest: Path

    @classmethod
    def plan(cls, reports_dir: Path, tier: str, started: datetime) -> ReportPaths:
        # To the millisecond, and never an existing run's name: two runs in one second (a
        # retry, xdist) must not overwrite each other's evidence.
        stamp = started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z"
        taken = 1
        while (reports_dir / f"{tier}-{stamp}.html").exists():
            taken += 1
            stamp = stamp.removesuffix("Z").split("-")[0] + f"-{taken}Z"
        return cls(
            html=reports_dir / f"{tier}-{stamp}.html",
            junit=reports_dir / f"{tier}-{stamp}.xml",
            latest=reports_dir / f"{tier}-latest.html",
        )

    def publish_latest(self) -> None:
        if self.html.exists():
            shutil.copyfile(self.html, self.latest)

    def discard(self) -> None:
        """Remove this run's own files (never ``latest``): a run that ended in a usage error
        judged nothing, and an empty report would pass for evidence."""
        for path in (self.html, self.junit):
            path.unlink(missing_ok=True)


def rotate(reports_dir: Path, tier: str, keep: int) -> list[Path]:
    """Keep the newest ``keep`` runs of a tier (their .html and .xml); the removed files."""
    stamps = sorted(
        {p.stem.removeprefix(f"{tier}-") for p in reports_dir.glob(f"{tier}-*Z.*")},
        reverse=True,
    )
    removed = []
    for stamp in stamps[keep:]:
        for old in reports_dir.glob(f"{tier}-{stamp}.*"):
            old.unlink()
            removed.append(old)
    return removed
