"""Alerts (one per finding id, as the lifecycle left them) and the events of their lives.

A decision is kept with the notices it queues in one transaction, so a restart neither forgets
an open alert nor pages it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from watcher.store.columns import (
    Repository,
    Transaction,
    epoch,
    epoch_or,
    maybe_epoch,
    maybe_time,
    time,
)
from watcher.store.database import Execute, Row
from watcher.store.outbox import Message, insert_message

# Alert statuses: pending (seen, not yet confirmed), firing (notified), resolved; snoozed:
# confirmed while a snooze covers it (recorded, counted for the gate, escalated when it ends).
PENDING, FIRING, RESOLVED, SNOOZED = "pending", "firing", "resolved", "snoozed"


@dataclass(frozen=True)
class AlertRecord:
    """One alert per finding id (or `<check>.blind`), as the lifecycle left it."""

    id: str
    check: str
    severity: str
    status: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    bad_streak: int = 0
    ok_streak: int = 0
    fired_at: datetime | None = None
    reminded_at: datetime | None = None
    resolved_at: datetime | None = None
    # The outbox id of the message whose thread this firing uses.
    message_id: int | None = None
    # Alertmanager has been told of the latest resolution.
    alertmanager_done: bool = True


@dataclass(frozen=True)
class AlertEvent:
    """Something that happened to an alert: fired, warned, blind, reminded, resolved."""

    alert_id: str
    event: str
    severity: str
    summary: str
    at: datetime


@dataclass(frozen=True)
class AlertChange:
    """What a lifecycle decision keeps: the alert's new record, messages and events."""

    record: AlertRecord
    messages: Sequence[Message] = ()
    events: Sequence[AlertEvent] = ()


class Alerts(Repository):
    """The alerts and their events; every method is one transaction."""

    def __init__(self, transaction: Transaction, postgres: bool) -> None:
        super().__init__(transaction)
        self._postgres = postgres

    def get(self, alert_id: str) -> AlertRecord | None:
        rows = self._query(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return None if not rows else _alert(rows[0])

    def find(self, statuses: Iterable[str] = (PENDING, FIRING, SNOOZED)) -> list[AlertRecord]:
        """Alerts in the given statuses, oldest first."""
        wanted = tuple(statuses)
        marks = ", ".join("?" for _ in wanted)
        rows = self._query(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE status IN ({marks})"
            " ORDER BY first_seen, id",
            wanted,
        )
        return [_alert(row) for row in rows]

    def alertmanager_pending(self) -> list[AlertRecord]:
        """Alerts Alertmanager must hear of: firing ones, and resolutions it has not had."""
        rows = self._query(
            f"SELECT {_ALERT_COLUMNS} FROM alerts"
            " WHERE (status = ? AND severity != 'UNKNOWN') OR alertmanager_done = 0"
            " ORDER BY id",
            (FIRING,),
        )
        return [_alert(row) for row in rows]

    def alertmanager_done(
        self, alert_ids: Iterable[str], resolved_at: Mapping[str, datetime]
    ) -> None:
        """Alertmanager has the resolutions of these alerts (unless they fired again since)."""

        def work(execute: Execute) -> None:
            for alert_id in alert_ids:
                execute(
                    "UPDATE alerts SET alertmanager_done = 1 WHERE id = ? AND resolved_at = ?",
                    (alert_id, epoch(resolved_at[alert_id])),
                )

        self._transaction(work)

    def change(
        self,
        alert_id: str,
        decide: Callable[[AlertRecord | None], AlertChange | None],
    ) -> AlertRecord | None:
        """Read the alert, let `decide` change it, keep the change with its messages: atomically.

        Returns the record as kept (with the id of a new post as its `message_id`).
        """

        def work(execute: Execute) -> AlertRecord | None:
            if self._postgres:
                # FOR UPDATE locks nothing while the row does not exist yet: two processes
                # deciding on a new alert would both fire it. The id's advisory lock orders
                # them (SQLite's BEGIN IMMEDIATE already does).
                execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"alert:{alert_id}",))
            rows = execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?{self._for_update}",
                (alert_id,),
            )
            change = decide(_alert(rows[0]) if rows else None)
            if change is None:
                return _alert(rows[0]) if rows else None
            return keep_change(execute, alert_id, change)

        return self._transaction(work)

    def add_events(self, events: Sequence[AlertEvent]) -> None:
        """Keep events that belong to no alert decision (a log stream gap's blind window)."""

        def work(execute: Execute) -> None:
            for event in events:
                insert_event(execute, event)

        self._transaction(work)

    def events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[AlertEvent]:
        """Alert events in time order, within [since, until)."""
        rows = self._query(
            "SELECT alert_id, event, severity, summary, at FROM alert_events"
            " WHERE at >= ? AND at < ? ORDER BY at, id",
            (epoch_or(since, float("-inf")), epoch_or(until, float("inf"))),
        )
        return [AlertEvent(r[0], r[1], r[2], r[3], time(r[4])) for r in rows]

    @property
    def _for_update(self) -> str:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL locks the row.
        return " FOR UPDATE" if self._postgres else ""


_ALERT_COLUMNS = (
    "id, check_name, severity, status, summary, bad_streak, ok_streak, first_seen, last_seen,"
    " fired_at, reminded_at, resolved_at, message_id, alertmanager_done"
)
_OUTBOX_COLUMNS = (
    "id, channel, kind, alert_id, parent_id, payload, status, attempts, next_attempt_at,"
    " last_error, posted_channel, posted_ts"
)


def _alert(row: Row) -> AlertRecord:
    return AlertRecord(
        id=row[0],
        check=row[1],
        severity=row[2],
        status=row[3],
        summary=row[4],
        bad_streak=int(row[5]),
        ok_streak=int(row[6]),
        first_seen=time(row[7]),
        last_seen=time(row[8]),
        fired_at=maybe_time(row[9]),
        reminded_at=maybe_time(row[10]),
        resolved_at=maybe_time(row[11]),
        message_id=None if row[12] is None else int(row[12]),
        alertmanager_done=bool(row[13]),
    )


def _alert_row(a: AlertRecord) -> tuple[object, ...]:
    return (
        a.id,
        a.check,
        a.severity,
        a.status,
        a.summary,
        a.bad_streak,
        a.ok_streak,
        epoch(a.first_seen),
        epoch(a.last_seen),
        maybe_epoch(a.fired_at),
        maybe_epoch(a.reminded_at),
        maybe_epoch(a.resolved_at),
        a.message_id,
        int(a.alertmanager_done),
    )


# Where a reply or an update of `message` goes (its parent's outbox id), or None: the alert's
# latest post in the same channel, as alerts always did.
Parent = Callable[[Execute, Message], int | None]


def keep_change(
    execute: Execute, alert_id: str, change: AlertChange, parent_for: Parent | None = None
) -> AlertRecord:
    """Keep one decision in the caller's transaction: its messages, events and the record.

    Returns the record as kept (with the id of a new post as its `message_id`).
    """
    record = change.record
    now = record.last_seen
    posted = False
    for message in change.messages:
        parent = None if parent_for is None else parent_for(execute, message)
        if parent is None and message.kind != "post":
            # Threads are per channel: the latest post of this alert in the same one.
            (latest,) = execute(
                "SELECT max(id) FROM outbox WHERE alert_id = ? AND channel = ? AND kind = 'post'",
                (alert_id, message.channel),
            )[0]
            parent = None if latest is None else int(latest)
        new_id = insert_message(execute, message, now, alert_id, parent)
        if message.kind == "post" and not posted:
            # The first channel's post (Slack's) stands for the alert's thread.
            record = replace(record, message_id=int(new_id))
            posted = True
    for event in change.events:
        insert_event(execute, event)
    execute(
        "INSERT INTO alerts (id, check_name, severity, status, summary, bad_streak,"
        " ok_streak, first_seen, last_seen, fired_at, reminded_at, resolved_at,"
        " message_id, alertmanager_done) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET check_name = excluded.check_name,"
        " severity = excluded.severity, status = excluded.status,"
        " summary = excluded.summary, bad_streak = excluded.bad_streak,"
        " ok_streak = excluded.ok_streak, first_seen = excluded.first_seen,"
        " last_seen = excluded.last_seen, fired_at = excluded.fired_at,"
        " reminded_at = excluded.reminded_at, resolved_at = excluded.resolved_at,"
        " message_id = excluded.message_id,"
        " alertmanager_done = excluded.alertmanager_done",
        _alert_row(record),
    )
    return record


def read_alert(execute: Execute, alert_id: str, for_update: bool) -> AlertRecord | None:
    rows = execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?{' FOR UPDATE' if for_update else ''}",
        (alert_id,),
    )
    return _alert(rows[0]) if rows else None


def insert_event(execute: Execute, event: AlertEvent) -> None:
    execute(
        "INSERT INTO alert_events (alert_id, event, severity, summary, at) VALUES (?, ?, ?, ?, ?)",
        (event.alert_id, event.event, event.severity, event.summary, epoch(event.at)),
    )
