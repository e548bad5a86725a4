"""The timeline marks that were posted (docs/daemon.md): each once, late ones saying so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.store.alerts import AlertEvent, insert_event
from watcher.store.columns import Repository, epoch, time
from watcher.store.database import Execute, Row
from watcher.store.outbox import Message, insert_message


@dataclass(frozen=True)
class Mark:
    """A timeline mark that was posted (4-hour result, 8-hour and 24-hour dashboard marks)."""

    name: str
    due_at: datetime
    posted_at: datetime
    late: bool


class Timeline(Repository):
    """The posted marks; every method is one transaction."""

    def mark(self, name: str) -> Mark | None:
        rows = self._query(
            "SELECT name, due_at, posted_at, late FROM marks WHERE name = ?", (name,)
        )
        return None if not rows else _mark(rows[0])

    def marks(self) -> list[Mark]:
        rows = self._query("SELECT name, due_at, posted_at, late FROM marks ORDER BY due_at")
        return [_mark(row) for row in rows]

    def post(
        self, mark: Mark, messages: Sequence[Message], events: Sequence[AlertEvent] = ()
    ) -> bool:
        """Record the mark and queue its messages, unless it was posted before (then False)."""

        def work(execute: Execute) -> bool:
            inserted = execute(
                "INSERT INTO marks (name, due_at, posted_at, late) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING RETURNING name",
                (mark.name, epoch(mark.due_at), epoch(mark.posted_at), int(mark.late)),
            )
            if not inserted:
                return False
            for message in messages:
                insert_message(execute, message, mark.posted_at)
            for event in events:
                insert_event(execute, event)
            return True

        return self._transaction(work)


def _mark(row: Row) -> Mark:
    return Mark(row[0], time(row[1]), time(row[2]), bool(row[3]))
