"""Snoozes (docs/incidents.md): planned work during which a target's findings are recorded, not
escalated.

`watcher snooze` only writes a row here; the daemon (or the next `once --notify`) announces it,
and its end, exactly once: the flag and the messages are kept in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.store.columns import Repository, epoch, maybe_time, time
from watcher.store.database import Execute, Row
from watcher.store.outbox import Message, insert_message

SCHEMA = (
    """
    CREATE TABLE snoozes (
        id {serial},
        target TEXT NOT NULL,
        starts_at {float} NOT NULL,
        ends_at {float} NOT NULL,
        reason TEXT NOT NULL,
        by_name TEXT NOT NULL,
        cancelled_at {float},
        cancelled_by TEXT,
        announced INTEGER NOT NULL DEFAULT 0,
        end_announced INTEGER NOT NULL DEFAULT 0
    )
    """,
)


def covers(target: str, finding_id: str) -> bool:
    """A check name covers its findings, `logs.` every id it prefixes, an id itself."""
    if target.endswith("."):
        return finding_id.startswith(target)
    return finding_id == target or finding_id.startswith(target + ".")


@dataclass(frozen=True)
class Snooze:
    id: int
    target: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    by: str
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    announced: bool = False
    end_announced: bool = False

    @property
    def ended_at(self) -> datetime:
        """When it ended, or will: cancelled, else its end."""
        if self.cancelled_at is not None and self.cancelled_at < self.ends_at:
            return self.cancelled_at
        return self.ends_at

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ended_at

    def covers(self, finding_id: str) -> bool:
        return covers(self.target, finding_id)


class Snoozes(Repository):
    """The snoozes; every method is one transaction."""

    def add(
        self, target: str, starts_at: datetime, ends_at: datetime, reason: str, by: str
    ) -> Snooze:
        rows = self._query(
            f"INSERT INTO snoozes (target, starts_at, ends_at, reason, by_name) VALUES"
            f" (?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (target, epoch(starts_at), epoch(ends_at), reason, by),
        )
        return _snooze(rows[0])

    def active(self, at: datetime) -> list[Snooze]:
        """The snoozes in force at `at`, soonest end first."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM snoozes WHERE starts_at <= ? AND ends_at > ?"
            " AND (cancelled_at IS NULL OR cancelled_at > ?) ORDER BY ends_at, id",
            (epoch(at), epoch(at), epoch(at)),
        )
        return [_snooze(row) for row in rows]

    def all(self) -> list[Snooze]:
        rows = self._query(f"SELECT {_COLUMNS} FROM snoozes ORDER BY starts_at, id")
        return [_snooze(row) for row in rows]

    def cancel(self, target: str, by: str, at: datetime) -> list[Snooze]:
        """End the active snoozes of exactly `target` now; returns them as they were."""

        def work(execute: Execute) -> list[Snooze]:
            rows = execute(
                f"SELECT {_COLUMNS} FROM snoozes WHERE target = ? AND ends_at > ?"
                " AND cancelled_at IS NULL",
                (target, epoch(at)),
            )
            for row in rows:
                execute(
                    "UPDATE snoozes SET cancelled_at = ?, cancelled_by = ? WHERE id = ?",
                    (epoch(at), by, row[0]),
                )
            return [_snooze(row) for row in rows]

        return self._transaction(work)

    def unannounced(self, at: datetime) -> tuple[list[Snooze], list[Snooze]]:
        """Snoozes whose start, and those whose end (by `at`), have not been posted."""
        starts = self._query(f"SELECT {_COLUMNS} FROM snoozes WHERE announced = 0 ORDER BY id")
        ends = self._query(
            f"SELECT {_COLUMNS} FROM snoozes WHERE end_announced = 0"
            " AND (ends_at <= ? OR cancelled_at <= ?) ORDER BY id",
            (epoch(at), epoch(at)),
        )
        return [_snooze(r) for r in starts], [_snooze(r) for r in ends]

    def announce(
        self, snooze_id: int, end: bool, messages: Sequence[Message], at: datetime
    ) -> bool:
        """Mark the start (or end) as posted and queue its messages, unless another process
        did; True if this one did."""
        column = "end_announced" if end else "announced"

        def work(execute: Execute) -> bool:
            done = execute(
                f"UPDATE snoozes SET {column} = 1 WHERE id = ? AND {column} = 0 RETURNING id",
                (snooze_id,),
            )
            if not done:
                return False
            if end:
                # An end posted needs no start post any more.
                execute("UPDATE snoozes SET announced = 1 WHERE id = ?", (snooze_id,))
            for message in messages:
                insert_message(execute, message, at)
            return True

        return self._transaction(work)


_COLUMNS = (
    "id, target, starts_at, ends_at, reason, by_name, cancelled_at, cancelled_by, announced,"
    " end_announced"
)


def _snooze(row: Row) -> Snooze:
    return Snooze(
        id=int(row[0]),
        target=row[1],
        starts_at=time(row[2]),
        ends_at=time(row[3]),
        reason=row[4],
        by=row[5],
        cancelled_at=maybe_time(row[6]),
        cancelled_by=row[7],
        announced=bool(row[8]),
        end_announced=bool(row[9]),
    )
