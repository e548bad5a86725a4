"""Charts as inline SVG, written by hand: a time axis, lines, dashed limits, stacked bars.

A few clear chart types need no library: the SVG is plain text, small, and renders the same
in every browser and on paper. Colours are the Okabe-Ito palette (safe for colour-blind
readers); limits differ by dash as well as colour, so a grey printout still tells them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape

from watcher.report.model import Axis, Chart, Marker, Series, Span, SpanKind, Style

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 22, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LIMIT_COLOURS = ("#444444", "#8a1c1c", "#6b6b00")
LIMIT_DASHES = ("6 4", "2 3", "10 3 2 3")
SPAN_FILLS = {
    SpanKind.CRITICAL: "#D55E00",
    SpanKind.WARNING: "#E69F00",
    SpanKind.BLIND: "#777777",
    SpanKind.SNOOZE: "#CC79A7",
}
# A limit this many times above everything else would flatten the data: it is named instead.
_OFF_CHART = 3.0
_HOUR_STEPS = (1, 2, 3, 4, 6, 12, 24)
_MAX_TICKS = 8


def colours(chart: Chart) -> list[tuple[str, str | None]]:
    """Each series' colour and dash pattern (None: solid), in the chart's order."""
    drawn: list[tuple[str, str | None]] = []
    data = limits = 0
    for series in chart.series:
        if series.style == Style.LIMIT:
            drawn.append(
                (
                    LIMIT_COLOURS[limits % len(LIMIT_COLOURS)],
                    LIMIT_DASHES[limits % len(LIMIT_DASHES)],
                )
            )
            limits += 1
        else:
            drawn.append((COLOURS[data % len(COLOURS)], None))
            data += 1
    return drawn


def scale(chart: Chart) -> tuple[float, list[Series]]:
    """The top of the y axis, and the limits too far above the data to draw."""
    top = 0.0
    for series in chart.series:
        if series.style == Style.BARS:
            continue
        if series.style == Style.LINE:
            top = max([top, *(v for v in series.values if v is not None)])
    bars = [s for s in chart.series if s.style == Style.BARS]
    if bars:
        for index in range(len(bars[0].values)):
            top = max(top, sum(s.values[index] or 0.0 for s in bars))
    off: list[Series] = []
    for series in chart.series:
        if series.style != Style.LIMIT or not series.has_data:
            continue
        highest = max(v for v in series.values if v is not None)
        if top > 0 and highest > _OFF_CHART * top:
            off.append(series)
        else:
            top = max(top, highest)
    return nice_top(top), off


def nice_top(value: float) -> float:
    """The axis top: a round number at or above `value` (1 for an all-zero chart)."""
    if value <= 0:
        return 1.0
    step = tick_step(value)
    return math.ceil(value / step - 1e-9) * step


def tick_step(top: float) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten that gives about four ticks."""
    rough = top / 4
    power = 10.0 ** math.floor(math.log10(rough))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power


def chart_svg(
    chart: Chart,
    axis: Axis,
    markers: Sequence[Marker],
    spans: Sequence[Span],
    description: str,
) -> str:
    """The chart as one `<svg>` element with its title and description for screen readers."""
    top, off = scale(chart)
    key = escape(chart.key)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="{key}-t {key}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{key}-t">{escape(chart.title)}</title>',
        f'<desc id="{key}-d">{escape(description)}</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" class="plot"/>',
    ]
    parts += _spans(axis, spans)
    parts += _y_axis(chart, top)
    parts += _x_axis(axis)
    drawn = colours(chart)
    bars = [(s, drawn[i][0]) for i, s in enumerate(chart.series) if s.style == Style.BARS]
    parts += _bars(axis, bars, top)
    for series, (colour, dash) in zip(chart.series, drawn, strict=True):
        if series.style == Style.BARS or series in off:
            continue
        parts += _line(axis, series, top, colour, dash)
    parts += _markers(axis, markers)
    parts.append("</svg>")
    return "".join(parts)


def _x(axis: Axis, at: datetime) -> float:
    span = (axis.end - axis.start).total_seconds() or 1.0
    share = (at - axis.start).total_seconds() / span
    return LEFT + PLOT_W * min(1.0, max(0.0, share))


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H * (1 - min(value, top) / top)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _y_axis(chart: Chart, top: float) -> list[str]:
    step = tick_step(top)
    parts = []
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = i * step
        y = _num(_y(value, top))
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y}" class="tick" text-anchor="end"'
            f' dominant-baseline="middle">{escape(tick_label(value))}</text>'
        )
    parts.append(f'<text x="{LEFT}" y="{TOP - 8}" class="unit">{escape(chart.unit)}</text>')
    return parts


def tick_label(value: float) -> str:
    """A tick's number: no more decimals than it has (0.25, 2.5, 30)."""
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def label(value: float, decimals: int) -> str:
    """A number as the tables show it."""
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def _x_axis(axis: Axis) -> list[str]:
    parts = []
    for at in x_ticks(axis.start, axis.end):
        x = _num(_x(axis, at))
        parts.append(f'<line x1="{x}" y1="{TOP + PLOT_H}" x2="{x}" y2="{TOP + PLOT_H + 4}"/>')
        parts.append(
            f'<text x="{x}" y="{TOP + PLOT_H + 16}" class="tick" text-anchor="middle">'
            f"{at.astimezone(UTC):%H:%M}</text>"
        )
    parts.append(
        f'<text x="{LEFT + PLOT_W}" y="{HEIGHT - 4}" class="tick" text-anchor="end">UTC</text>'
    )
    return parts


def x_ticks(start: datetime, end: datetime) -> list[datetime]:
    """Round times (whole hours, or quarters for a short axis) at most eight apart."""
    span = end - start
    step = next(
        (timedelta(hours=h) for h in _HOUR_STEPS if span / timedelta(hours=h) <= _MAX_TICKS),
        timedelta(hours=_HOUR_STEPS[-1]),
    )
    if span <= timedelta(hours=2):
        step = timedelta(minutes=15) if span <= timedelta(hours=1) else timedelta(minutes=30)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first = epoch + math.ceil((start - epoch) / step) * step
    ticks = []
    at = first
    while at <= end:
        ticks.append(at)
        at += step
    return ticks


def _bars(axis: Axis, bars: list[tuple[Series, str]], top: float) -> list[str]:
    if not bars:
        return []
    width = PLOT_W / max(1, axis.count)
    gap = 1.0 if width > 3 else 0.0
    parts = []
    for index in range(axis.count):
        base = 0.0
        x = LEFT + index * width
        for series, colour in bars:
            value = series.values[index]
            if not value:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            parts.append(
                f'<rect x="{_num(x + gap / 2)}" y="{_num(y_top)}" width="{_num(width - gap)}"'
                f' height="{_num(max(0.5, y_base - y_top))}" fill="{colour}"/>'
            )
            base += value
    return parts


def _line(axis: Axis, series: Series, top: float, colour: str, dash: str | None) -> list[str]:
    width = PLOT_W / max(1, axis.count)
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(series.values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((LEFT + (index + 0.5) * width, _y(value, top)))
    style = f' stroke-dasharray="{dash}"' if dash else ""
    thick = "1.5" if dash else "2"
    parts = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0]
            parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{colour}"/>')
        elif run:
            points = " ".join(f"{_num(x)},{_num(y)}" for x, y in run)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}"'
                f' stroke-width="{thick}"{style}/>'
            )
    return parts


def _markers(axis: Axis, markers: Sequence[Marker]) -> list[str]:
    parts = []
    for marker in markers:
        if not axis.start <= marker.at <= axis.end:
            continue
        x = _num(_x(axis, marker.at))
        parts.append(
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + PLOT_H}" class="marker"/>'
            f'<text x="{x}" y="{TOP - 8}" class="marker-label" text-anchor="middle">'
            f"{escape(marker.label)}</text>"
        )
    return parts


def _spans(axis: Axis, spans: Sequence[Span]) -> list[str]:
    parts = []
    for span in spans:
        end = span.end or axis.end
        if end < axis.start or span.start > axis.end:
            continue
        x1, x2 = _x(axis, span.start), _x(axis, end)
        parts.append(
            f'<rect x="{_num(x1)}" y="{TOP}" width="{_num(max(1.5, x2 - x1))}" height="{PLOT_H}"'
            f' fill="{SPAN_FILLS[span.kind]}" fill-opacity="0.18"><title>{escape(span.label)}'
            "</title></rect>"
        )
    return parts
