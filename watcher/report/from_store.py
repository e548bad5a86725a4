"""The report's content from the state store: history rows as numbers, never parsed summaries.

The charts come from `charts.py`, alerts and blind windows from `episodes.py`; this module puts
them on one time axis with the Section 8 fields and the timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from watcher.report import episodes
from watcher.report.charts import BUCKET, Thresholds, all_charts
from watcher.report.markdown import code
from watcher.report.model import (
    Axis,
    Marker,
    Span,
    SpanKind,
    TimelineEntry,
    WatchReport,
)
from watcher.settings import Settings
from watcher.store.state import StateStore
from watcher.timeline import marks, phases, rm11_gate
from watcher.timeline.section8 import section8_fields, watch_text


def is_empty(store: StateStore) -> bool:
    """Nothing to report: no observation, no alert, no mark."""
    return (
        not store.history.observations()
        and not store.alerts.events()
        and not store.timeline.marks()
    )


def build_report(
    store: StateStore,
    app: str,
    t0: datetime | None,
    now: datetime,
    thresholds: Thresholds | None = None,
    bucket: timedelta = BUCKET,
) -> WatchReport:
    """The whole watch from T0 to now (at most T0+24h); T0 unknown: from the first observation."""
    limits = thresholds or Thresholds()
    start = t0
    if start is None:
        first = store.history.observations()
        start = first[0].at if first else now
    end = min(max(now, start), start + phases.WATCH_LENGTH)
    count = -(-int((end - start).total_seconds()) // int(bucket.total_seconds()))
    axis = Axis(start, bucket, count)
    alerts, blind = episodes.alerts_and_blind(store, start, end)
    spans = [
        *(
            Span(
                a.fired_at,
                a.resolved_at,
                f"{a.severity} {a.id}",
                SpanKind.CRITICAL if a.severity == "CRITICAL" else SpanKind.WARNING,
            )
            for a in alerts
        ),
        *(Span(b.start, b.end, f"blind on {b.what}", SpanKind.BLIND) for b in blind),
    ]
    snoozes = episodes.snoozes(store)
    spans += [
        Span(s.start, s.cancelled_at or s.until, f"{s.target} snoozed", SpanKind.SNOOZE)
        for s in snoozes
    ]
    markers = (
        [Marker(phases.due_at(start, name), name) for name in phases.MARKS]
        if t0 is not None
        else []
    )
    return WatchReport(
        app=app,
        t0=start,
        now=now,
        watch=watch_text(t0, now),
        fields=tuple(section8_fields(store, t0, now)),
        timeline=tuple(_timeline(store, t0, now)),
        axis=axis,
        charts=all_charts(store, axis, limits),
        alerts=tuple(alerts),
        incidents=episodes.incidents(store),
        snoozes=tuple(snoozes),
        blind_windows=tuple(blind),
        markers=tuple(markers),
        spans=tuple(spans),
    )


# -- the timeline ---------------------------------------------------------------------------


def _timeline(store: StateStore, t0: datetime | None, now: datetime) -> list[TimelineEntry]:
    if t0 is None:
        return []
    entries = [
        TimelineEntry(
            "T0: the step 4.8 restart",
            t0,
            t0 if now >= t0 else None,
            False,
            ("the active watch (7.1) runs to T0+4h, the dashboard watch (7.2) to T0+24h",),
        )
    ]
    posted = {mark.name: mark for mark in store.timeline.marks()}
    titles = {"4h": "4-hour result and RM-11 gate", "8h": "8-hour dashboard mark"}
    titles["24h"] = "24-hour dashboard mark: final report"
    for name in phases.MARKS:
        due = phases.due_at(t0, name)
        mark = posted.get(name)
        if mark is not None and mark.posted_at > now:
            mark = None  # a report as of an earlier time than the store's last write
        lines: tuple[str, ...] = ()
        if mark is not None and name == "4h":
            lines = tuple(_four_hour_lines(store, t0))
        elif mark is not None:
            lines = tuple(marks.dashboard_lines(store, t0, due, show=code))
        entries.append(
            TimelineEntry(
                f"T0+{name}: {titles[name]}",
                due,
                None if mark is None else mark.posted_at,
                False if mark is None else mark.late,
                lines,
            )
        )
    return entries


def _four_hour_lines(store: StateStore, t0: datetime) -> list[str]:
    verdict = rm11_gate.gate_verdict(store, t0, show=code)
    lines = rm11_gate.four_hour_result(store, t0, show=code)
    if verdict.open:
        lines.append("RM-11 gate (7.4): open")
    else:
        lines += [f"RM-11 gate (7.4): closed: {reason}" for reason in verdict.reasons]
    return lines


def page_from_settings(settings: Settings, store: StateStore, now: datetime) -> WatchReport:
    """The report as `watcher report` and `/` build it: T0 and the limits from the settings."""
    return build_report(
        store,
        settings.app,
        settings.cutover_at or store.facts.watch_start(),
        now,
        thresholds_from(settings),
    )


# `Thresholds` fields named as the settings are.
_LIMIT_SETTINGS = (
    "router_5xx_warn",
    "router_5xx_crit",
    "router_p95_warn_ms",
    "pg_load_warn",
    "pg_load_crit",
)


def thresholds_from(settings: Settings) -> Thresholds:
    """The limits the charts draw, from the settings; docs/settings.md's defaults for any
    setting this build does not have (the router and pg_metrics settings come with those
    checks)."""
    defaults = Thresholds()
    found = {
        name: float(getattr(settings, name, getattr(defaults, name))) for name in _LIMIT_SETTINGS
    }
    return Thresholds(connection_ceiling=settings.pg_connection_limit, **found)
