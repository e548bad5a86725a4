"""Alert firings and blind windows from the store's alert events (and the outbox's permalinks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.clock import CUTOVER
from watcher.notify.notices import Notice, NoticeKind
from watcher.report.episodes import alerts_and_blind
from watcher.store.alerts import FIRING, AlertChange, AlertEvent, AlertRecord
from watcher.store.outbox import Message
from watcher.store.state import StateStore
from watcher.watch import GAP_ID

MINUTE = timedelta(minutes=1)
LINK = "https://raxx.slack.com/archives/C0OPSALRT/p{}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    kept = StateStore.sqlite(str(tmp_path / "state.db"))
    yield kept
    kept.close()


def event(alert: str, kind: str, severity: str, minutes: int, summary: str = "s") -> AlertEvent:
    return AlertEvent(alert, kind, severity, summary, CUTOVER + minutes * MINUTE)


def posted(store: StateStore, alert: str, number: int) -> None:
    """A top-level post of `alert` (queued as the lifecycle queues it) with a permalink."""
    record = AlertRecord(alert, "pg_info", "WARNING", FIRING, "s", CUTOVER, CUTOVER)
    notice = Notice(NoticeKind.FIRED, alert, "pg_info", "WARNING", "s")
    kept = store.alerts.change(alert, lambda old: AlertChange(record, [Message("post", notice)]))
    assert kept is not None and kept.message_id is not None
    store.outbox.keep_permalink(kept.message_id, LINK.format(number))


def test_a_warning_that_turns_critical_is_one_firing_linked_to_the_critical_post(
    store: StateStore,
) -> None:
    posted(store, "pg_info.connections", 1)
    posted(store, "pg_info.connections", 2)
    store.alerts.add_events(
        [
            event("pg_info.connections", "warned", "WARNING", 10),
            event("pg_info.connections", "fired", "CRITICAL", 25),
            event("pg_info.connections", "reminded", "CRITICAL", 55),
            event("pg_info.connections", "acknowledged", "CRITICAL", 60, "ana"),
            event("pg_info.connections", "resolved", "CRITICAL", 70),
        ]
    )
    (firing,), blind = alerts_and_blind(store, CUTOVER, CUTOVER + 2 * 60 * MINUTE)
    assert blind == []
    assert (firing.severity, firing.reminders, firing.acknowledged_by) == ("CRITICAL", 1, "ana")
    assert firing.fired_at == CUTOVER + 10 * MINUTE
    assert firing.resolved_at == CUTOVER + 70 * MINUTE
    assert firing.permalink == LINK.format(2)


def test_blind_windows_from_a_check_and_from_a_stream_gap(store: StateStore) -> None:
    store.alerts.add_events(
        [
            event("sentry.blind", "blind", "UNKNOWN", 45, "Sentry API answered HTTP 503"),
            event("sentry.blind", "resolved", "UNKNOWN", 60),
            event(GAP_ID, "blind", "WARNING", 90, "lines between 16:10:00Z and 16:18:42Z"),
        ]
    )
    alerts, (check, gap) = alerts_and_blind(store, CUTOVER, CUTOVER + 2 * 60 * MINUTE)
    assert alerts == []
    assert (check.what, check.start, check.end) == (
        "sentry",
        CUTOVER + 45 * MINUTE,  # no history: from the declaration
        CUTOVER + 60 * MINUTE,
    )
    assert (gap.what, gap.end, gap.reason) == (
        GAP_ID,
        CUTOVER + 90 * MINUTE,
        "lines between 16:10:00Z and 16:18:42Z",
    )


def test_firings_over_before_the_watch_are_left_out(store: StateStore) -> None:
    store.alerts.add_events(
        [
            event("healthz.db_sqlite", "fired", "CRITICAL", -30),
            event("healthz.db_sqlite", "resolved", "CRITICAL", -20),
            event("healthz.slow", "warned", "WARNING", -10),
        ]
    )
    (still,), _ = alerts_and_blind(store, CUTOVER, CUTOVER + 60 * MINUTE)
    assert still.id == "healthz.slow" and still.resolved_at is None
