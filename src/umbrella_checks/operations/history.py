"""The trend store: every tier run appends its figures to ``reports/history.sqlite``.

The weekly tier compares this week's figures with the weeks before and draws each one.
"""

from __future__ import annotations

import html
import sqlite3
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS figures (
    run_at TEXT NOT NULL,
    tier TEXT NOT NULL,
    target TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL
)
"""

# Figures where a rise is a degradation; the rest (users, sizes) are growth, shown not judged.
DEGRADING = ("(ms)", "error rate")


def append(
    path: Path, run_at: datetime, tier: str, target: str, figures: Iterable[tuple[str, float]]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
        db.executemany(
            "INSERT INTO figures VALUES (?, ?, ?, ?, ?)",
            [(run_at.isoformat(), tier, target, name, float(value)) for name, value in figures],
        )


def series(path: Path, target: str, since: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """Each figure's points, per tier: ``median GET /v1/health (ms) [postdeploy]`` — a tier
    measures under its own conditions, so tiers are never mixed in one series."""
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT tier, metric, run_at, value FROM figures WHERE target = ? AND run_at >= ? "
            "ORDER BY run_at",
            (target, since.isoformat()),
        ).fetchall()
    out: dict[str, list[tuple[datetime, float]]] = {}
    for tier, metric, run_at, value in rows:
        point = (datetime.fromisoformat(run_at), float(value))
        out.setdefault(f"{metric} [{tier}]", []).append(point)
    return out


@dataclass(frozen=True)
class Trend:
    metric: str
    this_week: float
    before: float | None

    @property
    def ratio(self) -> float | None:
        return self.this_week / self.before if self.before else None

    @property
    def judged(self) -> bool:
        return any(marker in self.metric for marker in DEGRADING)


def trends(data: dict[str, list[tuple[datetime, float]]], now: datetime) -> list[Trend]:
    """Median of the last 7 days against the median of everything before it."""
    cut = now - timedelta(days=7)
    found = []
    for metric, points in sorted(data.items()):
        recent = [v for t, v in points if t >= cut]
        older = [v for t, v in points if t < cut]
        if recent:
            found.append(
                Trend(
                    metric, statistics.median(recent), statistics.median(older) if older else None
                )
            )
    return found


def sparkline(points: list[tuple[datetime, float]], width: int = 240, height: int = 40) -> str:
    """A small inline SVG chart: self-contained, so the HTML report needs no assets."""
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 4 - (v - low) / span * (height - 8):.1f}"
        for i, v in enumerate(values)
    )
    title = html.escape(f"{low:g} … {high:g}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img"><title>{title}</title><polyline fill="none" stroke="#c0392b" '
        f'stroke-width="2" points="{coords}"/></svg>'
    )
