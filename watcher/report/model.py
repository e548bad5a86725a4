"""What the report says, as data: the renderers draw it, the adapter fills it from the store.

Charts share one time axis of equal buckets (15 minutes in the page); each series has one
value per bucket (None: nothing observed then) and says how buckets merge, so the Markdown can
show the same numbers per hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum


class Aggregate(Enum):
    """How a bucket's observations, or several buckets, become one value."""

    MAX = "max"
    SUM = "sum"
    LAST = "last"


class Style(Enum):
    """How a series is drawn: a line of observations, a dashed limit, or stacked bars."""

    LINE = "line"
    LIMIT = "limit"
    BARS = "bars"


class SpanKind(Enum):
    """What a shaded stretch of the time axis stands for."""

    CRITICAL = "critical"
    WARNING = "warning"
    BLIND = "blind"
    SNOOZE = "snooze"


@dataclass(frozen=True)
class Axis:
    """`count` buckets of `bucket` each, from `start`."""

    start: datetime
    bucket: timedelta
    count: int

    @property
    def end(self) -> datetime:
        return self.start + self.bucket * self.count

    def bucket_start(self, index: int) -> datetime:
        return self.start + self.bucket * index

    def index(self, at: datetime) -> int | None:
        """The bucket `at` falls in, or None outside the axis."""
        if at < self.start or at >= self.end:
            return None
        return int((at - self.start) / self.bucket)


@dataclass(frozen=True)
class Series:
    """One named row of numbers over the axis."""

    label: str
    values: tuple[float | None, ...]
    style: Style = Style.LINE
    aggregate: Aggregate = Aggregate.MAX

    @property
    def has_data(self) -> bool:
        return any(value is not None for value in self.values)


@dataclass(frozen=True)
class Chart:
    """A chart and its table; `no_data` says why there is nothing to draw."""

    key: str
    title: str
    unit: str
    series: tuple[Series, ...]
    no_data: str
    # Decimal places in the table and the labels.
    decimals: int = 0
    # A sentence under the title: what is measured, where it comes from.
    note: str = ""

    @property
    def has_data(self) -> bool:
        return any(s.has_data for s in self.series if s.style != Style.LIMIT)


@dataclass(frozen=True)
class Marker:
    """A moment on the time axis: T0, a timeline mark."""

    at: datetime
    label: str


@dataclass(frozen=True)
class Span:
    """A stretch of the time axis: an alert firing, a blind window, a snooze."""

    start: datetime
    end: datetime | None
    label: str
    kind: SpanKind


@dataclass(frozen=True)
class Field:
    """One Section 8 field: its text, and the lines listed under it."""

    label: str
    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """T0 or a mark: when it was due, whether and when it was posted, what it said."""

    name: str
    due_at: datetime
    posted_at: datetime | None
    late: bool
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertItem:
    """One firing of an alert: from fired (or warned) to resolved."""

    id: str
    severity: str
    fired_at: datetime
    resolved_at: datetime | None
    summary: str
    reminders: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    permalink: str | None = None


@dataclass(frozen=True)
class Incident:
    """One page per root cause (docs/alerts.md): its alerts, who acknowledged it."""

    id: str
    opened_at: datetime
    closed_at: datetime | None
    alerts: tuple[str, ...]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    permalink: str | None = None


@dataclass(frozen=True)
class Snooze:
    """Planned work: a target not escalated from `start` until `until` (or its cancel)."""

    target: str
    start: datetime
    until: datetime
    reason: str
    by: str
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class BlindWindow:
    """A stretch the watch could not see: a check UNKNOWN for cycles, a log gap or drop."""

    what: str
    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True)
class WatchReport:
    """The whole page."""

    app: str
    t0: datetime
    now: datetime
    watch: str
    fields: tuple[Field, ...]
    timeline: tuple[TimelineEntry, ...]
    axis: Axis
    charts: tuple[Chart, ...]
    alerts: tuple[AlertItem, ...] = ()
    incidents: tuple[Incident, ...] = ()
    snoozes: tuple[Snooze, ...] = ()
    blind_windows: tuple[BlindWindow, ...] = ()
    markers: tuple[Marker, ...] = ()
    spans: tuple[Span, ...] = field(default=())


def merge(values: list[float | None], how: Aggregate) -> float | None:
    """One value for several: None when none was observed."""
    seen = [v for v in values if v is not None]
    if not seen:
        return None
    if how == Aggregate.SUM:
        return sum(seen)
    if how == Aggregate.LAST:
        return seen[-1]
    return max(seen)


def coarsen(axis: Axis, series: Series, factor: int) -> tuple[float | None, ...]:
    """The series over buckets `factor` times as long (the Markdown's hours)."""
    return tuple(
        merge(list(series.values[i : i + factor]), series.aggregate)
        for i in range(0, axis.count, factor)
    )
