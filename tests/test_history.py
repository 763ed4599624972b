"""The weekly figures' store and charts on their own: a week is seven days to the second, a
chart's geometry is the one its readers are told (time across, values up, a dot per run)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from umbrella_checks.operations import history

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WEEK_AGO = NOW - timedelta(days=7)


def test_this_week_starts_seven_days_ago_to_the_second() -> None:
    data = {
        "median GET /v1/health (ms) [daily]": [
            (WEEK_AGO - timedelta(seconds=1), 10.0),
            (WEEK_AGO, 40.0),
            (NOW, 60.0),
        ]
    }
    (trend,) = history.trends(data, NOW)
    assert trend.this_week == 50.0  # the run exactly a week ago is this week's
    assert trend.before == 10.0


def test_a_figure_with_no_run_this_week_has_no_trend() -> None:
    assert history.trends({"users [weekly]": [(WEEK_AGO - timedelta(days=1), 3.0)]}, NOW) == []


def _points(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in re.findall(r'class="point" cx="([\d.-]+)" cy="([\d.-]+)"', svg)
    ]


def test_a_chart_spans_its_box_time_across_values_up() -> None:
    """240 × 48, 4 px of padding, 14 px under the plot for the dates: the first run at the
    left edge, the last at the right, the lowest value at the bottom of the plot, the highest
    at its top; the line joins them in order."""
    svg = history.sparkline(
        [(NOW - timedelta(days=2), 10.0), (NOW - timedelta(days=1), 30.0), (NOW, 20.0)]
    )
    assert _points(svg) == [(4.0, 30.0), (120.0, 4.0), (236.0, 17.0)]
    assert 'points="4.0,30.0 120.0,4.0 236.0,17.0"' in svg
    assert 'width="240" height="48"' in svg
    assert '<text x="4.0" y="46"' in svg
    assert '<text x="236.0" y="46"' in svg
    assert "3 run(s), 2026-11-27 12:00 to 2026-11-29 12:00 UTC: 10 … 30" in svg


def test_one_run_is_a_dot_in_the_middle_and_a_flat_figure_sits_low() -> None:
    (point,) = _points(history.sparkline([(NOW, 7.0)]))
    assert point == (120.0, 30.0)
    flat = _points(history.sparkline([(NOW - timedelta(days=1), 5.0), (NOW, 5.0)]))
    assert flat == [(4.0, 30.0), (236.0, 30.0)]


def test_two_runs_are_joined_by_a_line() -> None:
    assert "polyline" in history.sparkline([(WEEK_AGO, 1.0), (NOW, 2.0)])


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        pytest.param(
            "median GET /v1/health (ms) [postdeploy]",
            ("median GET /v1/health (ms)", "postdeploy"),
            id="with-tier",
        ),
        pytest.param("users", ("users", ""), id="without-tier"),
    ],
)
def test_a_series_key_names_its_figure_and_tier(key: str, parts: tuple[str, str]) -> None:
    assert history.label(key) == parts


def test_the_store_is_made_where_it_is_asked_for_and_read_back(tmp_path: Path) -> None:
    store = tmp_path / "new" / "folder" / "history.sqlite"
    history.append(store, NOW, "daily", "https://staging.example", [("users", 4.0)])
    assert history.series(store, "https://staging.example", WEEK_AGO) == {
        "users [daily]": [(NOW, 4.0)]
    }
    assert history.series(tmp_path / "absent.sqlite", "https://staging.example", WEEK_AGO) == {}
