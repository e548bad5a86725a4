"""The report's charts from the check history and the log counts: one value per bucket.

Each chart names the check and the metric key it reads (the constants below); a check whose
numbers are not in the history yet leaves its chart saying "no data" and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from checks.logparse.log_patterns import catalogue
from watcher.report.model import Aggregate, Axis, Chart, Series, Style, merge
from watcher.store.history import HistoryRow
from watcher.store.state import StateStore

# The page's resolution: the full cycle's default interval, 96 points for 24 hours.
BUCKET = timedelta(minutes=15)

# Where each chart's numbers live in the history: (check, metric key).
PG_INFO_CONNECTIONS = ("pg_info", "connections")
PG_INFO_PLAN_LIMIT = ("pg_info", "plan_connection_limit")
PG_CONNECTIONS = ("pg_connections", "connections")
HEALTHZ_LATENCY = ("healthz", "latency_seconds")
ROUTER_P95 = ("router", "p95_seconds")
ROUTER_5XX = ("router", "error_ratio")
PG_LOAD = ("pg_metrics", "load_5m")


@dataclass(frozen=True)
class Thresholds:
    """The settings the charts draw as limits (docs/settings.md's defaults)."""

    connection_ceiling: int = 25
    healthz_slow_seconds: float = 2.0
    router_5xx_warn: float = 0.01
    router_5xx_crit: float = 0.05
    router_p95_warn_ms: float = 2000.0
    pg_load_warn: float = 1.0
    pg_load_crit: float = 2.0


@dataclass
class History:
    """The rows of each check in the axis, read once."""

    store: StateStore
    since: datetime
    until: datetime
    rows: dict[str, list[HistoryRow]] = field(default_factory=dict)

    def of(self, check: str) -> list[HistoryRow]:
        if check not in self.rows:
            self.rows[check] = self.store.history.observations(check, self.since, self.until)
        return self.rows[check]


def bucketed(
    axis: Axis,
    rows: Iterable[HistoryRow],
    value: Callable[[HistoryRow], float | None],
    how: Aggregate,
) -> tuple[float | None, ...]:
    """One value per bucket: the rows' values merged (None where no row had one)."""
    found: list[list[float | None]] = [[] for _ in range(axis.count)]
    for row in rows:
        index = axis.index(row.at)
        if index is not None:
            found[index].append(value(row))
    return tuple(merge(values, how) for values in found)


def metric(key: str, factor: float = 1.0) -> Callable[[HistoryRow], float | None]:
    """A row's number under `key` (scaled), or None when it has none."""

    def read(row: HistoryRow) -> float | None:
        number = row.metrics.get(key)
        return None if number is None else float(number) * factor

    return read


def _constant(axis: Axis, value: float) -> tuple[float | None, ...]:
    return tuple(value for _ in range(axis.count))


def _connections(history: History, axis: Axis, limits: Thresholds) -> Chart:
    pg_info = history.of(PG_INFO_CONNECTIONS[0])
    sql = history.of(PG_CONNECTIONS[0])
    return Chart(
        key="connections",
        title="Postgres connections against the ceiling and the plan limit",
        unit="connections",
        series=(
            Series(
                "pg:info", bucketed(axis, pg_info, metric(PG_INFO_CONNECTIONS[1]), Aggregate.MAX)
            ),
            Series(
                "pg_stat_activity", bucketed(axis, sql, metric(PG_CONNECTIONS[1]), Aggregate.MAX)
            ),
            Series(
                "ceiling",
                _constant(axis, float(limits.connection_ceiling)),
                Style.LIMIT,
                Aggregate.LAST,
            ),
            Series(
                "plan limit",
                bucketed(axis, pg_info, metric(PG_INFO_PLAN_LIMIT[1]), Aggregate.LAST),
                Style.LIMIT,
                Aggregate.LAST,
            ),
        ),
        no_data="No connection count was observed: pg_info needs HEROKU_API_KEY, pg_connections"
        " needs WATCHER_DATABASE_URL.",
        note="Counted by pg:info (Heroku) and pg_stat_activity (SQL, every client backend, the"
        " watcher's own included). The ceiling is WATCHER_PG_CONNECTION_LIMIT, where the runbook"
        " escalates (7.3); the plan limit is pg:info's.",
    )


def _healthz_latency(history: History, axis: Axis, limits: Thresholds) -> Chart:
    rows = history.of(HEALTHZ_LATENCY[0])
    return Chart(
        key="healthz-latency",
        title="healthz latency",
        unit="ms",
        decimals=1,
        series=(
            Series(
                "slowest probe",
                bucketed(axis, rows, metric(HEALTHZ_LATENCY[1], 1000), Aggregate.MAX),
            ),
        ),
        no_data="No healthz probe answered: set WATCHER_HEALTHZ_URL.",
        note=f"A probe slower than {limits.healthz_slow_seconds:g} s is a WARNING (healthz.slow).",
    )


def _healthz_failures(history: History, axis: Axis) -> Chart:
    rows = history.of(HEALTHZ_LATENCY[0])
    return Chart(
        key="healthz-failures",
        title="healthz failures",
        unit="probes",
        series=(
            Series(
                "failed (CRITICAL)",
                bucketed(axis, rows, lambda r: float(r.state == "CRITICAL"), Aggregate.SUM),
                Style.BARS,
                Aggregate.SUM,
            ),
            Series(
                "probes made",
                bucketed(axis, rows, lambda r: 1.0, Aggregate.SUM),
                Style.LIMIT,
                Aggregate.SUM,
            ),
        ),
        no_data="No healthz probe was made since T0.",
        note="A failed probe: sqlite or another db, not ok, an HTTP error, unreachable, a timeout.",
    )


def _log_matches(store: StateStore, history: History, axis: Axis) -> Chart:
    observed = history.of("logs")
    counts: dict[str, list[float | None]] = {}
    last_seen = -1
    for pattern, minute, count in store.history.log_minutes(
        axis.start.replace(second=0, microsecond=0)
    ):
        index = axis.index(minute) if minute >= axis.start else (0 if axis.count else None)
        if index is None:
            continue
        values = counts.setdefault(pattern, [None] * axis.count)
        values[index] = (values[index] or 0.0) + count
        last_seen = max(last_seen, index)
    for row in observed:
        index = axis.index(row.at)
        if index is not None:
            last_seen = max(last_seen, index)
    order = [p.id for p in catalogue("app")]
    patterns = sorted(counts, key=lambda p: order.index(p) if p in order else len(order))
    series = [
        Series(
            pattern,
            tuple(
                (v if v is not None else 0.0) if i <= last_seen else None
                for i, v in enumerate(counts[pattern])
            ),
            Style.BARS,
            Aggregate.SUM,
        )
        for pattern in patterns
    ]
    if not series and last_seen >= 0:
        series = [
            Series(
                "any pattern",
                tuple(0.0 if i <= last_seen else None for i in range(axis.count)),
                Style.BARS,
                Aggregate.SUM,
            )
        ]
    return Chart(
        key="log-matches",
        title="Log matches per pattern",
        unit="matches",
        series=tuple(series),
        no_data="The log was not read: the follower needs HEROKU_API_KEY.",
        note="Lines matching the pattern catalogue, per 15 minutes, by the line's own time.",
    )


def _router_p95(history: History, axis: Axis, limits: Thresholds) -> Chart:
    rows = history.of(ROUTER_P95[0])
    return Chart(
        key="router-p95",
        title="Router p95 service time",
        unit="ms",
        series=(Series("p95", bucketed(axis, rows, metric(ROUTER_P95[1], 1000), Aggregate.MAX)),),
        no_data="No router p95 in the history: the router check has not recorded one.",
        note=f"Over the router window; {limits.router_p95_warn_ms:g} ms or twice the"
        " pre-cutover p95 is a WARNING.",
    )


def _router_5xx(history: History, axis: Axis, limits: Thresholds) -> Chart:
    # A share of no requests is no observation, not 0%.
    rows = [row for row in history.of(ROUTER_5XX[0]) if row.metrics.get("requests", 0) > 0]
    return Chart(
        key="router-5xx",
        title="Router 5xx share",
        unit="% of requests",
        series=(
            Series("5xx share", bucketed(axis, rows, metric(ROUTER_5XX[1], 100), Aggregate.MAX)),
            Series(
                "WARNING",
                _constant(axis, limits.router_5xx_warn * 100),
                Style.LIMIT,
                Aggregate.LAST,
            ),
            Series(
                "CRITICAL",
                _constant(axis, limits.router_5xx_crit * 100),
                Style.LIMIT,
                Aggregate.LAST,
            ),
        ),
        no_data="No router 5xx share in the history: the router check has not recorded one.",
        decimals=2,
    )


def _pg_load(history: History, axis: Axis, limits: Thresholds) -> Chart:
    rows = history.of(PG_LOAD[0])
    return Chart(
        key="pg-load",
        title="Postgres load (load-avg-5m)",
        unit="load",
        series=(
            Series("load-avg-5m", bucketed(axis, rows, metric(PG_LOAD[1]), Aggregate.MAX)),
            Series("WARNING", _constant(axis, limits.pg_load_warn), Style.LIMIT, Aggregate.LAST),
            Series("CRITICAL", _constant(axis, limits.pg_load_crit), Style.LIMIT, Aggregate.LAST),
        ),
        no_data="No Postgres load in the history: the pg_metrics check has not recorded one"
        " (Standard and Premium plans log it; Fir apps have none).",
        decimals=2,
    )


def all_charts(store: StateStore, axis: Axis, limits: Thresholds) -> tuple[Chart, ...]:
    """Every chart of the page, in its order."""
    # Buckets are half-open: an observation at the axis's end is in none of them.
    history = History(store, axis.start, axis.end)
    return (
        _connections(history, axis, limits),
        _healthz_latency(history, axis, limits),
        _healthz_failures(history, axis),
        _log_matches(store, history, axis),
        _router_p95(history, axis, limits),
        _router_5xx(history, axis, limits),
        _pg_load(history, axis, limits),
    )
