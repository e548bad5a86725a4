"""A small report built by hand, for the renderers' tests (the adapter's tests use a real store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.support.clock import CUTOVER
from watcher.report.model import (
    Aggregate,
    AlertItem,
    Axis,
    BlindWindow,
    Chart,
    Field,
    Incident,
    Marker,
    Series,
    Snooze,
    Span,
    SpanKind,
    Style,
    TimelineEntry,
    WatchReport,
)

QUARTER = timedelta(minutes=15)
HOSTILE = '<script>alert("x")</script><img src=https://evil.example/x.png> `tick` | pipe'
PERMALINK = "https://raxx.slack.com/archives/C0OPSALRT/p1747405862000100"

# Eight buckets: two hours from T0.
AXIS = Axis(CUTOVER, QUARTER, 8)

CONNECTIONS = Chart(
    key="connections",
    title="Postgres connections",
    unit="connections",
    series=(
        Series("pg:info", (6, 7, None, 9, 12, 8, 7, 6)),
        Series("ceiling", (25,) * 8, Style.LIMIT, Aggregate.LAST),
        Series("plan limit", (120,) * 8, Style.LIMIT, Aggregate.LAST),
    ),
    no_data="no connection count",
)
MATCHES = Chart(
    key="log-matches",
    title="Log matches per pattern",
    unit="matches",
    series=(
        Series("sqlite", (0, 2, 1, 0, 0, 0, 0, 0), Style.BARS, Aggregate.SUM),
        Series("crash", (0, 0, 3, 0, 0, 0, 1, 0), Style.BARS, Aggregate.SUM),
    ),
    no_data="the log was not read",
)
EMPTY = Chart(
    key="router-p95",
    title="Router p95 service time",
    unit="ms",
    series=(Series("p95", (None,) * 8),),
    no_data="No router p95 in the history.",
)


def sample_report(**changes: Any) -> WatchReport:
    report = WatchReport(
        app="raxx-api-prod",
        t0=CUTOVER,
        now=CUTOVER + timedelta(hours=2),
        watch="still running (active watch, 7.1)",
        fields=(
            Field("Section 5.1 healthz db field", "`postgresql` (healthz OK)"),
            Field("RM-11 gate verdict", "closed:", (f"CRITICAL alert `{HOSTILE}`",)),
        ),
        timeline=(
            TimelineEntry("T0: the step 4.8 restart", CUTOVER, CUTOVER, False),
            TimelineEntry("T0+4h: 4-hour result", CUTOVER + timedelta(hours=4), None, False),
        ),
        axis=AXIS,
        charts=(CONNECTIONS, MATCHES, EMPTY),
        alerts=(
            AlertItem(
                "healthz.db_sqlite",
                "CRITICAL",
                CUTOVER + QUARTER,
                CUTOVER + 3 * QUARTER,
                HOSTILE,
                reminders=1,
                permalink=PERMALINK,
            ),
            AlertItem(
                "logs.crash",
                "WARNING",
                CUTOVER + 6 * QUARTER,
                None,
                "crash",
                permalink="javascript:alert(1)",
            ),
        ),
        markers=(
            Marker(CUTOVER + timedelta(hours=1), "1h"),
            Marker(CUTOVER + timedelta(hours=8), "8h"),
        ),
        spans=(
            Span(
                CUTOVER + QUARTER,
                CUTOVER + 3 * QUARTER,
                "CRITICAL healthz.db_sqlite",
                SpanKind.CRITICAL,
            ),
            Span(CUTOVER + 6 * QUARTER, None, "WARNING logs.crash", SpanKind.WARNING),
        ),
    )
    return replace(report, **changes)


def with_everything() -> WatchReport:
    """Incidents, snoozes and blind windows too."""
    return sample_report(
        incidents=(
            Incident(
                "inc-1",
                CUTOVER + QUARTER,
                CUTOVER + 3 * QUARTER,
                ("healthz.db_sqlite",),
                CUTOVER + 2 * QUARTER,
                "ana",
                "rolling forward",
                PERMALINK,
            ),
        ),
        snoozes=(Snooze("healthz", CUTOVER, CUTOVER + QUARTER, "planned restart", "ana"),),
        blind_windows=(
            BlindWindow("sentry", CUTOVER + 4 * QUARTER, CUTOVER + 5 * QUARTER, "HTTP 503"),
        ),
    )
