"""The hand-written charts: axes, lines with gaps, limits, bars, marks and spans."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.support.clock import CUTOVER
from tests.support.html_page import Page
from tests.watcher.report.sample import AXIS, CONNECTIONS, MATCHES, sample_report
from watcher.report.model import Aggregate, Axis, Chart, Series, Style
from watcher.report.svg import chart_svg, nice_top, scale, x_ticks


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.3, 0.3), (7, 8), (12, 15), (25, 30), (31, 40), (120, 150), (1999, 2000)],
)
def test_the_axis_ends_at_a_round_number(value: float, top: float) -> None:
    assert nice_top(value) == pytest.approx(top)


def test_a_limit_far_above_the_data_is_left_off_and_named() -> None:
    top, off = scale(CONNECTIONS)
    assert top == 30  # the ceiling (25) is drawn: the data (12) is not flattened by the plan's 120
    assert [s.label for s in off] == ["plan limit"]


def test_stacked_bars_scale_to_their_sum() -> None:
    top, off = scale(MATCHES)
    assert (top, off) == (4, [])  # 1 + 3 in the third bucket


def svg_of(chart: Chart) -> str:
    report = sample_report()
    return chart_svg(chart, AXIS, report.markers, report.spans, "the description")


def test_a_line_breaks_where_nothing_was_observed() -> None:
    svg = svg_of(CONNECTIONS)
    lines = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#0072B2"', svg)
    assert [len(points.split()) for points in lines] == [2, 5]
    # Limits are dashed; the one off the chart is not drawn at all.
    assert svg.count("stroke-dasharray") == 1


def test_a_single_observation_is_a_dot() -> None:
    chart = Chart("c", "C", "u", (Series("s", (None, 3, None, None, None, None, None, None)),), "x")
    svg = svg_of(chart)
    assert "<polyline" not in svg
    assert svg.count("<circle") == 1


def test_bars_stack_per_bucket_and_zero_draws_nothing() -> None:
    svg = svg_of(MATCHES)
    bars = re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#\w+"/>', svg)
    assert len(bars) == 4  # 2, 1 + 3, 1: four non-zero values


def test_marks_inside_the_axis_and_every_span_are_drawn() -> None:
    page = Page(svg_of(CONNECTIONS))
    text = page.all_text()
    assert "1h" in text
    assert "8h" not in text  # T0+8h is past the axis's two hours
    spans = [attrs for tag, attrs in page.tags if tag == "rect" and attrs.get("fill-opacity")]
    assert len(spans) == 2
    assert "CRITICAL healthz.db_sqlite" in text


def test_the_svg_names_itself_for_screen_readers() -> None:
    page = Page(svg_of(CONNECTIONS))
    svg = next(attrs for tag, attrs in page.tags if tag == "svg")
    assert svg["role"] == "img"
    assert svg["aria-labelledby"] == "connections-t connections-d"
    assert {"connections-t", "connections-d"} <= set(page.ids)


def test_time_ticks_fit_the_span() -> None:
    day = x_ticks(CUTOVER, CUTOVER + timedelta(hours=24))
    assert [f"{t:%H:%M}" for t in day] == [
        "15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"
    ]  # fmt: skip
    short = x_ticks(CUTOVER, CUTOVER + timedelta(minutes=45))
    assert [f"{t:%H:%M}" for t in short] == ["15:00", "15:15", "15:30"]


def test_an_axis_of_no_buckets_draws_without_failing() -> None:
    axis = Axis(CUTOVER, timedelta(minutes=15), 0)
    chart = Chart("c", "C", "u", (Series("s", (), Style.LINE, Aggregate.MAX),), "x")
    assert "<svg" in chart_svg(chart, axis, [], [], "d")
