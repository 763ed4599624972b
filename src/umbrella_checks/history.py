"""The trend store: every tier run appends its figures to ``reports/history.sqlite``.

The weekly tier compares this week's figures with the weeks before and draws each one.
"""

from __future__ import annotations

import html
import math
import re
import sqlite3
import statistics
from collections.abc import Callable, Iterable
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
    return append_runs(path, [(run_at, tier, target, figures)])


def append_runs(
    path: Path, runs: Iterable[tuple[datetime, str, str, Iterable[tuple[str, float]]]]
) -> str | None:
    """Add several runs' figures in one transaction (one write to disk, not one per run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = list(runs)
    rows = [
        (run_at.isoformat(), tier, target, name, float(value))
        for run_at, tier, target, figures in runs
        for name, value in figures
    ]
    note = None
    try:
        _insert(path, rows)
    except sqlite3.DatabaseError as exc:
        # The set-aside file is named after the newest run being added (the run that found it).
        aside = set_aside(path, max(run[0] for run in runs))
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
INK, BAD, MUTED = "#2c3e50", "#c0392b", "#666"
# The chart's box: the y axis's labels on the left, the times under the plot.
WIDTH, HEIGHT = 340, 120
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 8, 18
# Values printed under a chart: the latest runs', newest last.
LISTED = 6


def nice_ceiling(value: float) -> float:
    """The axis's top: the first of 1, 2, 2.5, 5 × 10^k at or above ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return float(next(step * scale for step in (1, 2, 2.5, 5, 10) if step * scale >= value))


def time_label(start: datetime, end: datetime) -> Callable[[datetime], str]:
    """Labels that tell runs apart: milliseconds within a minute, seconds within an hour,
    minutes within a day, else the date and the minute."""
    span = (end - start).total_seconds()
    if span < 60:
        return lambda t: f"{t:%H:%M:%S}.{t.microsecond // 1000:03d}"
    fmt = "%H:%M:%S" if span < 3600 else "%H:%M" if span < 86400 else "%m-%d %H:%M"
    return lambda t: t.strftime(fmt)


def chart(points: list[tuple[datetime, float]], *, bad: bool = False, unit: str = "") -> str:
    """A self-contained SVG chart (the HTML report needs no assets): time on the x axis (a gap
    in the runs is a gap in the chart) labelled with the first and last run's time, a y axis
    from zero (from the lowest value, marked, when one is negative) labelled at its ends and
    middle, every run a dot with its time and value in its tooltip, the latest value printed
    beside its dot, and red ink only when the figure was judged worse."""
    times = [t for t, _ in points]
    values = [v for _, v in points]
    low = min(0.0, min(values))
    high = nice_ceiling(max(values)) if max(values) > 0 else 1.0
    start, end = min(times), max(times)
    seconds = (end - start).total_seconds()
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    suffix = f" {unit}" if unit else ""

    def x(moment: datetime) -> float:
        if not seconds:
            return (LEFT + right) / 2
        return LEFT + (moment - start).total_seconds() / seconds * (right - LEFT)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - TOP)

    ink = BAD if bad else INK
    coords = [(x(t), y(v)) for t, v in points]
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{MUTED}"/>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{MUTED}"/>',
    ]
    for tick in (low, (low + high) / 2, high):
        mark = " (lowest)" if tick < 0 and tick == low else ""
        parts.append(
            f'<text class="y-label" x="{LEFT - 4}" y="{y(tick) + 3:.1f}" font-size="9" '
            f'fill="{MUTED}" text-anchor="end">{tick:g}{html.escape(suffix)}{mark}</text>'
        )
    if len(coords) > 1:
        parts.append(
            f'<polyline fill="none" stroke="{ink}" stroke-width="1.5" points="'
            + " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            + '"/>'
        )
    stamp = time_label(start, end)
    for (moment, value), (cx, cy) in zip(points, coords, strict=True):
        tip = html.escape(f"{moment:%Y-%m-%d %H:%M:%S} UTC: {value:g}{suffix}")
        parts.append(
            f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{ink}">'
            f"<title>{tip}</title></circle>"
        )
    latest_x, latest_y = coords[-1]
    parts.append(
        f'<text class="latest" x="{min(latest_x, right - 2):.1f}" y="{max(latest_y - 5, 9):.1f}" '
        f'font-size="9" fill="{ink}" text-anchor="end">{values[-1]:g}{html.escape(suffix)}</text>'
    )
    parts.append(
        f'<text class="x-label" x="{LEFT}" y="{HEIGHT - 4}" font-size="9" fill="{MUTED}">'
        f"{stamp(start)}</text>"
    )
    if seconds:
        parts.append(
            f'<text class="x-label" x="{right}" y="{HEIGHT - 4}" font-size="9" fill="{MUTED}" '
            f'text-anchor="end">{stamp(end)} UTC</text>'
        )
    title = html.escape(
        f"{len(points)} run(s), {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
        f"{min(values):g} … {max(values):g}{suffix}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img"><title>{title}</title>{"".join(parts)}</svg>'
    )


def listed_values(points: list[tuple[datetime, float]], unit: str = "") -> str:
    """The latest runs' values in words, for under a chart: ``12-06 09:41 210 ms · …``."""
    stamp = time_label(min(t for t, _ in points), max(t for t, _ in points))
    shown = points[-LISTED:]
    more = f"{len(points) - len(shown)} earlier · " if len(points) > len(shown) else ""
    suffix = f" {unit}" if unit else ""
    return more + " · ".join(f"{stamp(t)}: {v:g}{suffix}" for t, v in shown)


def unit_of(metric: str) -> str:
    """``median GET /v1/health (ms) [postdeploy]`` -> ``ms``; ``users`` -> ``""``."""
    figure, _ = label(metric)
    found = re.search(r"\(([^()]+)\)\s*$", figure)
    return found.group(1) if found else ""


def label(series_key: str) -> tuple[str, str]:
    """``median GET /v1/health (ms) [postdeploy]`` -> (figure, tier)."""
    figure, _, tier = series_key.rpartition(" [")
    return (figure, tier.rstrip("]")) if figure else (series_key, "")
