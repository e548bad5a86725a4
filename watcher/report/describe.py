"""Words for what a chart shows: its screen-reader description and its Markdown caption."""

from __future__ import annotations

from datetime import UTC, datetime

from watcher.report.model import Axis, Chart, Style
from watcher.report.svg import label, scale

# Shown where nothing was observed (an en dash).
NOTHING = "\u2013"


def describe(chart: Chart, axis: Axis) -> str:
    """One paragraph: per series its highest value and when, the latest; the limits."""
    if not chart.has_data:
        return f"{chart.title}: no data. {chart.no_data}"
    _, off = scale(chart)
    minutes = int(axis.bucket.total_seconds() // 60)
    parts = []
    for series in chart.series:
        values = [(i, v) for i, v in enumerate(series.values) if v is not None]
        if not values:
            parts.append(f"{series.label}: no data")
            continue
        if series.style == Style.LIMIT:
            lowest = min(v for _, v in values)
            highest = max(v for _, v in values)
            level = (
                label(highest, chart.decimals)
                if lowest == highest
                else f"{label(lowest, chart.decimals)} to {label(highest, chart.decimals)}"
            )
            above = " (above the chart's range, not drawn)" if series in off else ""
            parts.append(f"{series.label}: {level}{above}")
            continue
        top_index, top = max(values, key=lambda item: item[1])
        at = f"{axis.bucket_start(top_index).astimezone(UTC):%H:%M} UTC"
        if series.style == Style.BARS:
            total = sum(v for _, v in values)
            parts.append(
                f"{series.label}: {label(total, chart.decimals)} in all, at most"
                f" {label(top, chart.decimals)} in the {minutes} minutes from {at}"
                if top
                else f"{series.label}: none"
            )
        else:
            latest = label(values[-1][1], chart.decimals)
            parts.append(
                f"{series.label}: highest {label(top, chart.decimals)} at {at}, latest {latest}"
            )
    return f"{chart.title} ({chart.unit}). " + "; ".join(parts) + "."


def when(at: datetime | None, missing: str = NOTHING) -> str:
    """`2026-05-16 14:48 UTC`, the way the record writes times."""
    return missing if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def hm(at: datetime) -> str:
    """`14:48Z`, for a time on the watch's one day."""
    return f"{at.astimezone(UTC):%H:%M}Z"


def duration(start: datetime, end: datetime | None) -> str:
    """`1 h 05 min`, or `still open` without an end."""
    if end is None:
        return "still open"
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
