"""What the watch keeps about itself across restarts, in typed columns: T0, the baselines, the
RM-11 gate verdict, the last delivery failure, each check's streak of transport failures, the
store's own id (tags its Slack posts) and the follower's memory of the lines it read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.store.columns import Transaction, epoch, maybe_time
from watcher.store.database import Execute, Row

SCHEMA = (
    """
    CREATE TABLE watch_facts (
        id INTEGER PRIMARY KEY,
        started_at {float},
        gate_open INTEGER,
        failure_reason TEXT,
        failure_fix TEXT,
        store_id TEXT,
        follower_memory TEXT
    )
    """,
    """
    CREATE TABLE transport_streaks (
        check_name TEXT PRIMARY KEY,
        streak INTEGER NOT NULL
    )
    """,
)
# The one row of watch_facts.
_ROW = 1


@dataclass(frozen=True)
class StoredBaseline:
    """A baseline taken from an observation, and when."""

    value: str
    observed_at: datetime


@dataclass(frozen=True)
class DeliveryFailure:
    """The last message that failed for good, until a later one gets through."""

    reason: str
    fix: str


class WatchFacts:
    """The watch's own facts; each method is one transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def watch_start(self) -> datetime | None:
        """When the daemon first started this watch (its T0 when WATCHER_CUTOVER_AT is unset)."""
        return maybe_time(self._column("started_at"))

    def keep_watch_start(self, at: datetime) -> datetime:
        """Record the watch start unless one is recorded; return the one that is kept."""

        def work(execute: Execute) -> datetime:
            _ensure_row(execute)
            execute(
                "UPDATE watch_facts SET started_at = ? WHERE id = ? AND started_at IS NULL",
                (epoch(at), _ROW),
            )
            (kept,) = execute("SELECT started_at FROM watch_facts WHERE id = ?", (_ROW,))[0]
            return maybe_time(kept) or at

        return self._transaction(work)

    def baseline(self, name: str) -> StoredBaseline | None:
        """The baseline kept under `name`, if one was taken."""
        rows = self._query("SELECT value, observed_at FROM baselines WHERE name = ?", (name,))
        return None if not rows else StoredBaseline(rows[0][0], datetime.fromisoformat(rows[0][1]))

    def keep_baseline(self, name: str, value: str, observed_at: datetime) -> None:
        """Keep `value` as the baseline unless one exists already (the first one wins)."""
        self._query(
            "INSERT INTO baselines (name, value, observed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (name, value, observed_at.isoformat()),
        )

    def gate(self) -> bool | None:
        """The RM-11 gate verdict the 4-hour mark kept (None until it is posted)."""
        value = self._column("gate_open")
        return None if value is None else bool(value)

    def keep_gate(self, open_: bool | None) -> None:
        self._set("gate_open", None if open_ is None else int(open_))

    def delivery_failure(self) -> DeliveryFailure | None:
        rows = self._query(
            "SELECT failure_reason, failure_fix FROM watch_facts WHERE id = ?", (_ROW,)
        )
        if not rows or rows[0][0] is None:
            return None
        return DeliveryFailure(str(rows[0][0]), str(rows[0][1] or ""))

    def keep_delivery_failure(self, failure: DeliveryFailure | None) -> None:
        def work(execute: Execute) -> None:
            _ensure_row(execute)
            execute(
                "UPDATE watch_facts SET failure_reason = ?, failure_fix = ? WHERE id = ?",
                (
                    None if failure is None else failure.reason,
                    None if failure is None else failure.fix,
                    _ROW,
                ),
            )

        self._transaction(work)

    def keep_store_id(self, candidate: str) -> str:
        """This store's id (tags its messages in Slack): `candidate` unless one is kept."""

        def work(execute: Execute) -> str:
            _ensure_row(execute)
            execute(
                "UPDATE watch_facts SET store_id = ? WHERE id = ? AND store_id IS NULL",
                (candidate, _ROW),
            )
            return str(execute("SELECT store_id FROM watch_facts WHERE id = ?", (_ROW,))[0][0])

        return self._transaction(work)

    def follower_memory(self) -> list[str]:
        """The keys of the lines the follower read last (so a restart counts none twice)."""
        value = self._column("follower_memory")
        return [key for key in str(value or "").split(",") if key]

    def keep_follower_memory(self, keys: list[str]) -> None:
        self._set("follower_memory", ",".join(keys))

    def transport_streak(self, check: str) -> int:
        rows = self._query("SELECT streak FROM transport_streaks WHERE check_name = ?", (check,))
        return 0 if not rows else int(rows[0][0])

    def keep_transport_streak(self, check: str, streak: int) -> None:
        self._query(
            "INSERT INTO transport_streaks (check_name, streak) VALUES (?, ?)"
            " ON CONFLICT (check_name) DO UPDATE SET streak = excluded.streak",
            (check, streak),
        )

    def _column(self, name: str) -> Any:
        rows = self._query(f"SELECT {name} FROM watch_facts WHERE id = ?", (_ROW,))
        return None if not rows else rows[0][0]

    def _set(self, name: str, value: object) -> None:
        def work(execute: Execute) -> None:
            _ensure_row(execute)
            execute(f"UPDATE watch_facts SET {name} = ? WHERE id = ?", (value, _ROW))

        self._transaction(work)

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        return self._transaction(lambda execute: execute(sql, params))


def _ensure_row(execute: Execute) -> None:
    execute("INSERT INTO watch_facts (id) VALUES (?) ON CONFLICT (id) DO NOTHING", (_ROW,))


def from_key_values(execute: Execute) -> None:
    """Migration: the old key-value `watch` table's keys into typed columns."""

    values = {str(k): str(v) for k, v in execute("SELECT key, value FROM watch")}
    _ensure_row(execute)
    if "started_at" in values:
        started = datetime.fromisoformat(values["started_at"])
        execute("UPDATE watch_facts SET started_at = ? WHERE id = ?", (epoch(started), _ROW))
    if "rm11_gate" in values:
        gate = 1 if values["rm11_gate"] == "open" else 0
        execute("UPDATE watch_facts SET gate_open = ? WHERE id = ?", (gate, _ROW))
    if "slack_health" in values:
        try:
            data = json.loads(values["slack_health"])
            reason, fix = str(data["reason"]), str(data["fix"])
        except (ValueError, KeyError, TypeError):
            reason, fix = values["slack_health"], ""
        execute(
            "UPDATE watch_facts SET failure_reason = ?, failure_fix = ? WHERE id = ?",
            (reason, fix, _ROW),
        )
    for key, column in (("outbox_store_id", "store_id"), ("follower_recent", "follower_memory")):
        if key in values:
            execute(f"UPDATE watch_facts SET {column} = ? WHERE id = ?", (values[key], _ROW))
    for key, value in values.items():
        if key.startswith("transport_streak:") and value.isdigit():
            execute(
                "INSERT INTO transport_streaks (check_name, streak) VALUES (?, ?)",
                (key.removeprefix("transport_streak:"), int(value)),
            )
    # Every key has a column now: the key-value table goes.
    execute("DROP TABLE watch")
