"""The trend store: every tier run appends its figures to ``reports/history.sqlite``.

The weekly tier compares this week's figures with the weeks before and draws each one.
"""

from __future__ import annotations

import html
import sqlite3
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


class HistoryUnreadable(Exception):
    """The history file is not a history the suite can read; it has been set aside."""


def set_aside(path: Path, now: datetime) -> Path:
    """Move an unreadable history out of the way (kept, for whoever wants to look), so the
    next run starts a fresh one instead of failing on it every time."""
    aside = path.with_name(f"{path.name}.unreadable-{now:%Y%m%dT%H%M%SZ}")
    path.replace(aside)
    return aside


def append(
    path: Path, run_at: datetime, tier: str, target: str, figures: Iterable[tuple[str, float]]
) -> str | None:
    """Add a run's figures; a note when an unreadable history had to be set aside first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [(run_at.isoformat(), tier, target, name, float(value)) for name, value in figures]
    note = None
    try:
        _insert(path, rows)
    except sqlite3.DatabaseError as exc:
        aside = set_aside(path, run_at)
        note = f"{path.name} was unreadable ({exc}): set aside as {aside.name}; trends start afresh"
        _insert(path, rows)
    return note


def _insert(path: Path, rows: list[tuple[str, str, str, str, float]]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
        db.executemany("INSERT INTO figures VALUES (?, ?, ?, ?, ?)", rows)


def series(path: Path, target: str, since: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """Each figure's points, per tier: ``median GET /v1/health (ms) [postdeploy]`` — a tier
    measures under its own conditions, so tiers are never mixed in one series. An unreadable
    file is set aside (``HistoryUnreadable`` says where)."""
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT tier, metric, run_at, value FROM figures WHERE target = ? AND run_at >= ? "
                "ORDER BY run_at",
                (target, since.isoformat()),
            ).fetchall()
    except sqlite3.DatabaseError as exc:
        aside = set_aside(path, datetime.now(UTC))
        raise HistoryUnreadable(
            f"{path.name} was unreadable ({exc}): set aside as {aside.name}; trends start afresh"
        ) from None
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


# Ink for a figure's chart: neutral, and red only where a figure was judged worse.
INK, BAD = "#2c3e50", "#c0392b"


def sparkline(
    points: list[tuple[datetime, float]], *, bad: bool = False, width: int = 240, height: int = 48
) -> str:
    """A small inline SVG chart, self-contained (the HTML report needs no assets): time on the
    x axis (a gap in the runs is a gap in the chart), every run a visible dot — one point is
    still drawn — a line between them, the first and last dates under it, and red ink only
    when the figure was judged worse."""
    times = [t for t, _ in points]
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    start, end = min(times), max(times)
    seconds = (end - start).total_seconds()
    plot = height - 14  # room for the dates under the chart
    pad = 4.0

    def x(moment: datetime) -> float:
        if not seconds:
            return width / 2
        return pad + (moment - start).total_seconds() / seconds * (width - 2 * pad)

    def y(value: float) -> float:
        return plot - pad - (value - low) / span * (plot - 2 * pad)

    ink = BAD if bad else INK
    coords = [(x(t), y(v)) for t, v in points]
    line = (
        f'<polyline fill="none" stroke="{ink}" stroke-width="1.5" points="'
        + " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        + '"/>'
        if len(coords) > 1
        else ""
    )
    dots = "".join(
        f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{ink}"/>'
        for cx, cy in coords
    )
    first, last = f"{start:%m-%d}", f"{end:%m-%d}"
    dates = (
        f'<text x="{pad}" y="{height - 2}" font-size="9" fill="#666">{first}</text>'
        f'<text x="{width - pad}" y="{height - 2}" font-size="9" fill="#666" '
        f'text-anchor="end">{last}</text>'
    )
    title = html.escape(
        f"{len(points)} run(s), {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
        f"{low:g} … {high:g}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img"><title>{title}</title>{line}{dots}{dates}</svg>'
    )


def label(series_key: str) -> tuple[str, str]:
    """``median GET /v1/health (ms) [postdeploy]`` -> (figure, tier)."""
    figure, _, tier = series_key.rpartition(" [")
    return (figure, tier.rstrip("]")) if figure else (series_key, "")
