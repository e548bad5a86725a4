"""The report of a simulated 24-hour watch with an incident: every section, and every number in
its tables equal to the state store's history (read here straight from the store)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from tests.support.html_page import Page
from tests.watcher.report.conftest import (
    INCIDENT_START,
    SENTRY_DOWN_END,
    SENTRY_DOWN_START,
    WatchedDay,
)
from watcher.report.from_store import build_report, page_from_settings
from watcher.report.html import render_html
from watcher.report.markdown import render_markdown
from watcher.report.model import WatchReport
from watcher.store.history import HistoryRow
from watcher.store.state import StateStore

QUARTER = timedelta(minutes=15)
MAX_PAGE_BYTES = 1_000_000


@pytest.fixture(scope="module")
def report(watched_day: WatchedDay) -> Iterator[WatchReport]:
    store = watched_day.store()
    try:
        yield page_from_settings(watched_day.settings, store, watched_day.now)
    finally:
        store.close()


@pytest.fixture(scope="module")
def page(report: WatchReport) -> Page:
    return Page(render_html(report))


@pytest.fixture
def store(watched_day: WatchedDay) -> Iterator[StateStore]:
    kept = watched_day.store()
    yield kept
    kept.close()


def per_bucket(
    rows: list[HistoryRow],
    t0: datetime,
    value: Callable[[HistoryRow], float | None],
    merge: Callable[[list[float]], float],
    step: timedelta = QUARTER,
) -> dict[str, float]:
    """The history's numbers per bucket, keyed as the tables label rows (`14:48Z`)."""
    found: dict[datetime, list[float]] = defaultdict(list)
    for row in rows:
        number = value(row)
        if number is not None and row.at < t0 + timedelta(hours=24):
            found[t0 + step * ((row.at - t0) // step)].append(number)
    return {f"{at:%H:%M}Z": merge(values) for at, values in found.items()}


def column(page: Page, caption: str, name: str) -> dict[str, float]:
    table = page.table(caption)
    index = table.header.index(name)
    return {
        row[0]: float(row[index].replace(",", "")) for row in table.rows if row[index] != "\u2013"
    }


def test_every_section_is_present(page: Page, report: WatchReport) -> None:
    for key in ("record", "charts", "timeline", "incidents", "alerts", "snoozes", "blind"):
        assert key in page.ids, key
    for chart in report.charts:
        assert f"chart-{chart.key}" in page.ids
    text = page.all_text()
    assert "RM-11 gate verdict closed:" in text
    assert "CRITICAL alert healthz.db_sqlite at 16:48Z" in text
    assert "Connection peak 17 of 25 (68%)" in text
    # The timeline: T0 and every mark posted, the 4-hour one with the gate's reasons.
    assert [(e.name.split(":")[0], e.posted_at is not None) for e in report.timeline] == [
        ("T0", True),
        ("T0+4h", True),
        ("T0+8h", True),
        ("T0+24h", True),
    ]
    four = report.timeline[1].lines
    assert "RM-11 gate (7.4): closed: CRITICAL alert `healthz.db_sqlite` at 16:48Z" in four
    assert page.external_resources() == []


def test_connections_equal_the_history(
    page: Page, store: StateStore, watched_day: WatchedDay
) -> None:
    t0 = watched_day.t0
    caption = "Postgres connections"
    pg_info = store.history.observations("pg_info", since=t0)
    sql = store.history.observations("pg_connections", since=t0)

    def read(key: str) -> Callable[[HistoryRow], float | None]:
        return lambda row: row.metrics.get(key)

    expected = per_bucket(pg_info, t0, read("connections"), max)
    assert len(expected) == 96 and max(expected.values()) == 17
    assert column(page, caption, "pg:info") == expected
    assert column(page, caption, "pg_stat_activity") == per_bucket(
        sql, t0, read("connections"), max
    )
    assert column(page, caption, "plan limit") == per_bucket(
        pg_info, t0, read("plan_connection_limit"), lambda v: v[-1]
    )
    assert set(column(page, caption, "ceiling").values()) == {25}


def test_healthz_failures_and_latency_equal_the_history(
    page: Page, store: StateStore, watched_day: WatchedDay
) -> None:
    t0 = watched_day.t0
    rows = store.history.observations("healthz", since=t0)
    failed = per_bucket(rows, t0, lambda r: float(r.state == "CRITICAL"), sum)
    assert sum(failed.values()) == 30  # half an hour of db=sqlite, one probe a minute
    assert column(page, "healthz failures", "failed (CRITICAL)") == failed
    assert column(page, "healthz failures", "probes made") == per_bucket(
        rows, t0, lambda r: 1.0, sum
    )
    slowest = per_bucket(rows, t0, lambda r: r.metrics["latency_seconds"] * 1000, max)
    shown = column(page, "healthz latency", "slowest probe")
    assert shown.keys() == slowest.keys()
    assert all(shown[k] == pytest.approx(slowest[k], abs=0.05) for k in shown)  # one decimal


def test_log_matches_equal_the_counts_per_minute(
    page: Page, store: StateStore, watched_day: WatchedDay
) -> None:
    t0 = watched_day.t0
    minutes = store.history.log_minutes(t0 - timedelta(minutes=1))
    for pattern in ("sqlite", "operational_error"):
        expected: dict[str, float] = defaultdict(float)
        for found, minute, count in minutes:
            if found == pattern:
                bucket = t0 + QUARTER * max(0, (minute - t0) // QUARTER)
                expected[f"{bucket:%H:%M}Z"] += count
        shown = {k: v for k, v in column(page, "Log matches", pattern).items() if v}
        assert shown == dict(expected)
        assert sum(shown.values()) == 6  # a line every 5 minutes for half an hour


def test_the_markdown_tables_are_the_history_per_hour(
    report: WatchReport, store: StateStore, watched_day: WatchedDay
) -> None:
    t0 = watched_day.t0
    text = render_markdown(report)
    lines = text.splitlines()
    start = lines.index("### Postgres connections against the ceiling and the plan limit")
    rows = [line for line in lines[start:] if line.startswith("| ") and "Z |" in line][:24]
    shown = {row.split(" | ")[0].removeprefix("| "): float(row.split(" | ")[1]) for row in rows}
    hourly = per_bucket(
        store.history.observations("pg_info", since=t0),
        t0,
        lambda r: r.metrics.get("connections"),
        max,
        timedelta(hours=1),
    )
    assert shown == hourly
    for heading in ("## Section 8 record", "## Timeline", "## Incidents", "## Alerts"):
        assert heading in lines
    assert "## Snoozes" in lines and "## Blind windows" in lines


def test_alerts_fired_and_resolved_with_their_slack_permalinks(
    report: WatchReport, watched_day: WatchedDay
) -> None:
    sqlite = next(a for a in report.alerts if a.id == "healthz.db_sqlite")
    t0 = watched_day.t0
    assert sqlite.severity == "CRITICAL"
    assert sqlite.fired_at == t0 + timedelta(seconds=INCIDENT_START)
    assert sqlite.resolved_at is not None and sqlite.reminders == 1
    # The first page opened the incident; healthz is in its thread, or is its top-level post.
    paged = [link for text, link in watched_day.posts if "CRITICAL raxx-api-prod" in text]
    assert sqlite.permalink == paged[0]
    posted = {link for _, link in watched_day.posts}
    assert all(a.permalink in posted for a in report.alerts)
    assert {a.id for a in report.alerts} >= {"pg_info.connections", "logs.sqlite"}


def test_a_blind_window_is_listed_and_shaded(report: WatchReport, watched_day: WatchedDay) -> None:
    # The simulated day writes no Heroku Postgres metrics lines, so pg_metrics is blind too.
    assert sorted(w.what for w in report.blind_windows) == ["pg_metrics", "sentry"]
    (window,) = [w for w in report.blind_windows if w.what == "sentry"]
    t0 = watched_day.t0
    # From the first cycle Sentry answered 503 (not when "blind" was declared, cycles later)
    # to the first cycle it answered again.
    assert window.start == t0 + timedelta(seconds=SENTRY_DOWN_START)
    assert window.end == t0 + timedelta(seconds=SENTRY_DOWN_END)
    assert "blind on sentry" in [span.label for span in report.spans]


def test_router_and_load_say_no_data(page: Page) -> None:
    text = page.all_text()
    assert "No data. No router p95 in the history" in text
    assert "No data. No router 5xx share in the history" in text
    assert "No data. No Postgres load in the history" in text


def test_the_page_of_a_24_hour_watch_is_under_a_megabyte(report: WatchReport) -> None:
    size = len(render_html(report).encode("utf-8"))
    print(f"\nreport page for a 24-hour watch: {size:,} bytes")
    assert size < MAX_PAGE_BYTES


def test_an_unfinished_watch_stops_at_now(store: StateStore, watched_day: WatchedDay) -> None:
    now = watched_day.t0 + timedelta(hours=3, minutes=5)
    report = build_report(store, "raxx-api-prod", watched_day.t0, now)
    assert report.axis.count == 13  # 3 h 05 min in quarters, the last one partial
    assert report.watch.startswith("still running (active watch, 7.1)")
    four = report.timeline[1]
    assert four.posted_at is None and four.lines == ()
    page = Page(render_html(report))
    assert len(page.table("Postgres connections").rows) == 13
