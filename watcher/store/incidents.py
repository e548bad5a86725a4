"""Incidents (docs/incidents.md): one page per root cause. An incident is opened by a CRITICAL
alert,
joined by every alert that fires while it is open, and closed when all its alerts resolved.

An alert's decision and its incident's are kept in one transaction with the messages they
queue: two processes on one store (the daemon and `once --notify`) never open two incidents
for one outage, and a restart neither forgets the incident nor pages it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from watcher.store.alerts import (
    AlertChange,
    AlertEvent,
    AlertRecord,
    insert_event,
    keep_change,
    read_alert,
)
from watcher.store.columns import Repository, Transaction, epoch, maybe_epoch, maybe_time, time
from watcher.store.database import Execute, Row
from watcher.store.outbox import Message, insert_message

SCHEMA = (
    """
    CREATE TABLE incidents (
        id {serial},
        opened_at {float} NOT NULL,
        closed_at {float},
        reminded_at {float} NOT NULL,
        message_id INTEGER,
        acknowledged_by TEXT,
        acknowledged_at {float},
        ack_note TEXT,
        ack_announced INTEGER NOT NULL DEFAULT 1,
        head_id TEXT NOT NULL,
        head_check TEXT NOT NULL,
        head_summary TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE incident_alerts (
        incident_id INTEGER NOT NULL,
        alert_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        firing INTEGER NOT NULL,
        since {float} NOT NULL,
        resolved_at {float},
        position INTEGER NOT NULL,
        PRIMARY KEY (incident_id, alert_id)
    )
    """,
)
_RANK = {"CRITICAL": 2, "WARNING": 1}


@dataclass(frozen=True)
class Member:
    """One alert of an incident: its worst severity while in it, and whether it still fires."""

    alert_id: str
    severity: str
    firing: bool
    since: datetime
    resolved_at: datetime | None = None

    @property
    def state(self) -> str:
        """What the incident's top-level message shows for it."""
        return self.severity if self.firing else "RESOLVED"


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as kept; `id` is None until it is first kept."""

    id: int | None
    opened_at: datetime
    reminded_at: datetime
    # The alert that opened it: the top-level message leads with it.
    head_id: str
    head_check: str
    head_summary: str
    members: tuple[Member, ...] = ()
    closed_at: datetime | None = None
    # The outbox id of the incident's top-level post (Slack's row): its thread.
    message_id: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ack_note: str | None = None
    # The acknowledgement's reply has been queued (`watcher ack` only writes the store).
    ack_announced: bool = True

    @property
    def firing(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.firing)

    @property
    def severity(self) -> str:
        """The worst severity among the alerts still firing (else among all)."""
        pool = self.firing or self.members
        return max((m.severity for m in pool), key=lambda s: _RANK.get(s, 0), default="CRITICAL")

    def member(self, alert_id: str) -> Member | None:
        return next((m for m in self.members if m.alert_id == alert_id), None)

    def with_member(self, member: Member) -> IncidentRecord:
        others = tuple(m for m in self.members if m.alert_id != member.alert_id)
        known = self.member(member.alert_id)
        if known is None:
            return replace(self, members=(*others, member))
        # Its place in the list stays where it first joined.
        members = tuple(member if m.alert_id == member.alert_id else m for m in self.members)
        return replace(self, members=members)


@dataclass(frozen=True)
class IncidentChange:
    """What an incident-only decision keeps (a reminder, an acknowledgement's reply)."""

    incident: IncidentRecord
    messages: Sequence[Message] = ()
    events: Sequence[AlertEvent] = ()


@dataclass(frozen=True)
class Decision:
    """An alert's decision and what it does to the open incident (None: nothing)."""

    alert: AlertChange
    incident: IncidentRecord | None = None


class Incidents(Repository):
    """The incidents and their alerts; every method is one transaction."""

    def __init__(self, transaction: Transaction, postgres: bool) -> None:
        super().__init__(transaction)
        self._postgres = postgres

    def open(self) -> IncidentRecord | None:
        """The open incident, if any."""
        return self._transaction(_read_open)

    def latest(self, limit: int = 20) -> list[IncidentRecord]:
        """The latest incidents, newest first."""

        def work(execute: Execute) -> list[IncidentRecord]:
            rows = execute(f"SELECT {_COLUMNS} FROM incidents ORDER BY id DESC LIMIT ?", (limit,))
            return [_incident(execute, row) for row in rows]

        return self._transaction(work)

    def change(
        self,
        alert_id: str,
        decide: Callable[[AlertRecord | None, IncidentRecord | None], Decision | None],
    ) -> AlertRecord | None:
        """Read the alert and the open incident, let `decide` change them, keep it: atomically."""

        def work(execute: Execute) -> AlertRecord | None:
            self._lock(execute, alert_id)
            old = read_alert(execute, alert_id, for_update=self._postgres)
            incident = _read_open(execute)
            decision = decide(old, incident)
            if decision is None:
                return old
            kept_incident = decision.incident
            if kept_incident is not None:
                kept_incident = _keep(execute, kept_incident)
            record = keep_change(
                execute, alert_id, decision.alert, _parent_in(kept_incident or incident)
            )
            if kept_incident is not None and kept_incident.message_id is None:
                # A new incident: the alert's post is its top-level message.
                posted = record.message_id
                if any(m.kind == "post" and m.in_incident for m in decision.alert.messages):
                    execute(
                        "UPDATE incidents SET message_id = ? WHERE id = ?",
                        (posted, kept_incident.id),
                    )
            return record

        return self._transaction(work)

    def update(
        self, at: datetime, decide: Callable[[IncidentRecord | None], IncidentChange | None]
    ) -> bool:
        """Let `decide` change the open incident (queue its messages): atomically; True if
        it did."""

        def work(execute: Execute) -> bool:
            self._lock(execute, None)
            incident = _read_open(execute)
            change = decide(incident)
            if change is None:
                return False
            kept = _keep(execute, change.incident)
            parent = _parent_in(kept)
            for message in change.messages:
                insert_message(execute, message, at, None, parent(execute, message))
            for event in change.events:
                insert_event(execute, event)
            return True

        return self._transaction(work)

    def _lock(self, execute: Execute, alert_id: str | None) -> None:
        if not self._postgres:
            return  # SQLite's BEGIN IMMEDIATE already serialises writers
        # One incident decision at a time (which alert opens it, which joins), then the
        # alert's own lock, always in this order.
        execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("cutover-watcher:incident",))
        if alert_id is not None:
            execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"alert:{alert_id}",))


_COLUMNS = (
    "id, opened_at, closed_at, reminded_at, message_id, acknowledged_by, acknowledged_at,"
    " ack_note, ack_announced, head_id, head_check, head_summary"
)


def _read_open(execute: Execute) -> IncidentRecord | None:
    rows = execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE closed_at IS NULL ORDER BY id DESC LIMIT 1"
    )
    return None if not rows else _incident(execute, rows[0])


def _incident(execute: Execute, row: Row) -> IncidentRecord:
    members = execute(
        "SELECT alert_id, severity, firing, since, resolved_at FROM incident_alerts"
        " WHERE incident_id = ? ORDER BY position",
        (int(row[0]),),
    )
    return IncidentRecord(
        id=int(row[0]),
        opened_at=time(row[1]),
        closed_at=maybe_time(row[2]),
        reminded_at=time(row[3]),
        message_id=None if row[4] is None else int(row[4]),
        acknowledged_by=row[5],
        acknowledged_at=maybe_time(row[6]),
        ack_note=row[7],
        ack_announced=bool(row[8]),
        head_id=row[9],
        head_check=row[10],
        head_summary=row[11],
        members=tuple(
            Member(m[0], m[1], bool(m[2]), time(m[3]), maybe_time(m[4])) for m in members
        ),
    )


def _keep(execute: Execute, incident: IncidentRecord) -> IncidentRecord:
    values = (
        epoch(incident.opened_at),
        maybe_epoch(incident.closed_at),
        epoch(incident.reminded_at),
        incident.message_id,
        incident.acknowledged_by,
        maybe_epoch(incident.acknowledged_at),
        incident.ack_note,
        int(incident.ack_announced),
        incident.head_id,
        incident.head_check,
        incident.head_summary,
    )
    if incident.id is None:
        (new_id,) = execute(
            "INSERT INTO incidents (opened_at, closed_at, reminded_at, message_id,"
            " acknowledged_by, acknowledged_at, ack_note, ack_announced, head_id, head_check,"
            " head_summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            values,
        )[0]
        incident = replace(incident, id=int(new_id))
    else:
        execute(
            "UPDATE incidents SET opened_at = ?, closed_at = ?, reminded_at = ?,"
            " message_id = ?, acknowledged_by = ?, acknowledged_at = ?, ack_note = ?,"
            " ack_announced = ?, head_id = ?, head_check = ?, head_summary = ? WHERE id = ?",
            (*values, incident.id),
        )
    execute("DELETE FROM incident_alerts WHERE incident_id = ?", (incident.id,))
    for position, m in enumerate(incident.members):
        execute(
            "INSERT INTO incident_alerts (incident_id, alert_id, severity, firing, since,"
            " resolved_at, position) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                incident.id,
                m.alert_id,
                m.severity,
                int(m.firing),
                epoch(m.since),
                maybe_epoch(m.resolved_at),
                position,
            ),
        )
    return incident


def _parent_in(
    incident: IncidentRecord | None,
) -> Callable[[Execute, Message], int | None]:
    """Where a message of the incident goes: its top-level post in the message's channel."""

    def parent(execute: Execute, message: Message) -> int | None:
        if not message.in_incident or message.kind == "post" or incident is None:
            return None
        if incident.message_id is None:
            return None
        rows = execute(
            "SELECT p.id FROM outbox p JOIN outbox s ON p.alert_id = s.alert_id"
            " AND p.created_at = s.created_at WHERE s.id = ? AND p.channel = ?"
            " AND p.kind = 'post' ORDER BY p.id LIMIT 1",
            (incident.message_id, message.channel),
        )
        return None if not rows else int(rows[0][0])

    return parent
