"""The daemon's heartbeat: when `watcher run` last wrote, so `watcher status` can tell whether
it runs (docs/incidents.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.store.columns import Repository, epoch, time

SCHEMA = (
    """
    CREATE TABLE daemon_heartbeat (
        id INTEGER PRIMARY KEY,
        seen_at {float} NOT NULL,
        cycle_seconds {float} NOT NULL
    )
    """,
)
_ROW = 1


@dataclass(frozen=True)
class Beat:
    """The daemon's last write, and the cycle it ran with."""

    seen_at: datetime
    cycle_seconds: float


class Heartbeat(Repository):
    def beat(self, at: datetime, cycle_seconds: float) -> None:
        self._query(
            "INSERT INTO daemon_heartbeat (id, seen_at, cycle_seconds) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at,"
            " cycle_seconds = excluded.cycle_seconds",
            (_ROW, epoch(at), cycle_seconds),
        )

    def last(self) -> Beat | None:
        rows = self._query(
            "SELECT seen_at, cycle_seconds FROM daemon_heartbeat WHERE id = ?", (_ROW,)
        )
        return None if not rows else Beat(time(rows[0][0]), float(rows[0][1]))
