"""The weekly figures' store and charts on their own: a week is seven days to the second, a
chart's geometry is the one its readers are told (time across, values up, a dot per run)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from umbrella_checks import history

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


def test_a_chart_spans_its_box_time_across_values_up_from_zero() -> None:
    """340 × 120; the plot from x 48 (the y axis, labelled on its left) to 330, from y 102 (zero,
    the x axis, times under it) up to 8 (the axis's top, 1, 2, 2.5 or 5 × 10^k at or above the
    highest value): the first run at the left, the last at the right, each value at its height
    from zero; the line joins them in order."""
    svg = history.chart(
        [(NOW - timedelta(days=2), 10.0), (NOW - timedelta(days=1), 30.0), (NOW, 20.0)]
    )
    # top 50: 10 -> 102 - 94 * 10/50 = 83.2; 30 -> 45.6; 20 -> 64.4
    assert _points(svg) == [(48.0, 83.2), (189.0, 45.6), (330.0, 64.4)]
    assert 'points="48.0,83.2 189.0,45.6 330.0,64.4"' in svg
    assert 'width="340" height="120"' in svg
    assert "3 run(s), 2026-11-27 12:00 to 2026-11-29 12:00 UTC: 10 … 30" in svg


def _texts(svg: str, kind: str) -> list[str]:
    return re.findall(rf'class="{kind}"[^>]*>([^<]*)<', svg)


def test_the_y_axis_is_labelled_from_zero_with_the_unit() -> None:
    svg = history.chart([(NOW - timedelta(days=1), 7.21), (NOW, 7.23)], unit="ms")
    assert _texts(svg, "y-label") == ["0 ms", "5 ms", "10 ms"]
    # A 0.02 ms change is a flat line near the top, not a cliff.
    (_, y1), (_, y2) = _points(svg)
    assert abs(y1 - y2) < 1


def test_a_negative_figure_marks_the_lowest_value_on_the_axis() -> None:
    svg = history.chart([(NOW - timedelta(days=1), -4.0), (NOW, 3.0)])
    assert _texts(svg, "y-label")[0] == "-4 (lowest)"


@pytest.mark.parametrize(
    ("span", "first", "last"),
    [
        pytest.param(timedelta(seconds=0.25), "11:59:59.750", "12:00:00.000 UTC", id="a-second"),
        pytest.param(timedelta(minutes=2), "11:58:00", "12:00:00 UTC", id="within-an-hour"),
        pytest.param(timedelta(hours=5), "07:00", "12:00 UTC", id="within-a-day"),
        pytest.param(timedelta(days=28), "11-01 12:00", "11-29 12:00 UTC", id="weeks"),
    ],
)
def test_the_time_labels_tell_runs_apart(span: timedelta, first: str, last: str) -> None:
    svg = history.chart([(NOW - span, 1.0), (NOW, 2.0)])
    assert _texts(svg, "x-label") == [first, last]


def test_the_latest_value_is_printed_and_every_run_listed_under_the_chart() -> None:
    points = [(NOW - timedelta(minutes=10 - n), float(n)) for n in range(8)]
    assert _texts(history.chart(points, unit="ms"), "latest") == ["7 ms"]
    assert history.listed_values(points, "ms") == (
        "2 earlier · 11:52:00: 2 ms · 11:53:00: 3 ms · 11:54:00: 4 ms · 11:55:00: 5 ms · "
        "11:56:00: 6 ms · 11:57:00: 7 ms"
    )


def test_one_run_is_a_dot_in_the_middle() -> None:
    svg = history.chart([(NOW, 7.0)])
    assert _points(svg) == [(189.0, 36.2)]  # top 10: 102 - 94 * 0.7
    assert "polyline" not in svg
    assert _texts(svg, "x-label") == ["12:00:00.000"]


def test_two_runs_are_joined_by_a_line_and_only_a_bad_figure_is_red() -> None:
    svg = history.chart([(WEEK_AGO, 1.0), (NOW, 2.0)])
    assert "polyline" in svg
    assert history.BAD not in svg
    assert history.BAD in history.chart([(NOW, 1.0)], bad=True)


@pytest.mark.parametrize(
    ("metric", "unit"),
    [
        pytest.param("median GET /v1/health (ms) [postdeploy]", "ms", id="ms"),
        pytest.param("D1 size (bytes) [weekly]", "bytes", id="bytes"),
        pytest.param("users [weekly]", "", id="none"),
    ],
)
def test_a_series_unit_is_read_from_its_name(metric: str, unit: str) -> None:
    assert history.unit_of(metric) == unit


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
