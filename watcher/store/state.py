"""The state store (docs/state-store.md): what outlives one run, in SQLite or PostgreSQL.

One repository per concern over one database layer (`watcher/state_db.py`): `alerts` (and
their events), `outbox`, `timeline` (posted marks), `history` (observations, log counts) and
`facts` (T0, baselines, the gate, delivery health, transport streaks), `incidents`, `snoozes`
and the daemon's `heartbeat`. Every method is one
transaction; the daemon's threads share one store. The schema is upgraded on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from watcher.store import heartbeat, history, incidents, outbox, snoozes, watch_facts
from watcher.store.alerts import Alerts
from watcher.store.database import (
    Execute,
    Migration,
    PostgresDb,
    Row,
    SqliteDb,
    StateDb,
    StateDbError,
)
from watcher.store.heartbeat import Heartbeat
from watcher.store.history import History
from watcher.store.incidents import Incidents
from watcher.store.outbox import Outbox
from watcher.store.snoozes import Snoozes
from watcher.store.timeline import Timeline
from watcher.store.watch_facts import WatchFacts

T = TypeVar("T")

# Each entry upgrades the schema by one version. Times in new tables are epoch seconds.
_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE baselines (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        observed_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE watch (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        bad_streak INTEGER NOT NULL,
        ok_streak INTEGER NOT NULL,
        first_seen {float} NOT NULL,
        last_seen {float} NOT NULL,
        fired_at {float},
        reminded_at {float},
        resolved_at {float},
        message_id INTEGER,
        alertmanager_done INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE outbox (
        id {serial},
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        alert_id TEXT,
        parent_id INTEGER,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at {float} NOT NULL,
        next_attempt_at {float} NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        sent_at {float},
        posted_channel TEXT,
        posted_ts TEXT
    )
    """,
    "CREATE INDEX outbox_pending ON outbox (status, next_attempt_at)",
    """
    CREATE TABLE alert_events (
        id {serial},
        alert_id TEXT NOT NULL,
        event TEXT NOT NULL,
        severity TEXT NOT NULL,
        summary TEXT NOT NULL,
        at {float} NOT NULL
    )
    """,
    """
    CREATE TABLE marks (
        name TEXT PRIMARY KEY,
        due_at {float} NOT NULL,
        posted_at {float} NOT NULL,
        late INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE log_counts (
        pattern TEXT NOT NULL,
        minute {float} NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (pattern, minute)
    )
    """,
    """
    CREATE TABLE check_history (
        id {serial},
        at {float} NOT NULL,
        check_name TEXT NOT NULL,
        state TEXT NOT NULL,
        summary TEXT NOT NULL,
        metrics TEXT NOT NULL
    )
    """,
    "CREATE INDEX check_history_at ON check_history (check_name, at)",
    # A claim (a lease that expires) lets any number of processes share one outbox: the row
    # is sent by the one that holds it. `in_flight`: an attempt whose outcome is not known
    # (a timeout, a crash after Slack answered), so the next one looks before posting again.
    "ALTER TABLE outbox ADD COLUMN claimed_until {float}",
    "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
    "ALTER TABLE outbox ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0",
    # The log lines whose matches are counted (digests): a line is counted once, whichever
    # process, session or restart reads it.
    """
    CREATE TABLE log_lines (
        digest TEXT PRIMARY KEY,
        at {float} NOT NULL
    )
    """,
    "CREATE INDEX log_lines_at ON log_lines (at)",
    # Issue 13: typed columns for the watch's own facts, and the history's numbers as data.
    *watch_facts.SCHEMA,
    watch_facts.from_key_values,
    *history.SCHEMA,
    history.from_metrics_json,
    # Issue 18: the permalink of a delivered top-level post, for the report's links.
    *outbox.SCHEMA,
    # Issue 16: incidents and their alerts, snoozes, the daemon's heartbeat.
    *incidents.SCHEMA,
    *snoozes.SCHEMA,
    *heartbeat.SCHEMA,
)


class StateStoreError(Exception):
    """The state store cannot be read or written; the message says why."""


class StateStore:
    """The watcher's memory; created and upgraded on first use, safe to share between threads."""

    def __init__(self, db: StateDb) -> None:
        self._db = db
        self._ready = False
        # One repository per concern, over this one database.
        self.alerts = Alerts(self._transaction, postgres=isinstance(db, PostgresDb))
        self.outbox = Outbox(self._transaction, postgres=isinstance(db, PostgresDb))
        self.timeline = Timeline(self._transaction)
        self.history = History(self._transaction)
        self.facts = WatchFacts(self._transaction)
        self.incidents = Incidents(self._transaction, postgres=isinstance(db, PostgresDb))
        self.snoozes = Snoozes(self._transaction)
        self.heartbeat = Heartbeat(self._transaction)

    @classmethod
    def from_url(cls, url: str) -> StateStore:
        """`sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://...`."""
        if url.startswith(("postgresql://", "postgres://")):
            return cls(PostgresDb(url))
        return cls.sqlite(url.removeprefix("sqlite:///"))

    @property
    def kind(self) -> str:
        """`sqlite` or `postgresql`."""
        return "postgresql" if isinstance(self._db, PostgresDb) else "sqlite"

    @property
    def name(self) -> str:
        """Where the store is, for messages: a path, or a PostgreSQL URL without credentials."""
        return self._db.name

    def exists(self) -> bool:
        """Whether the store was ever created; asking creates nothing (reading commands)."""
        try:
            return self._db.exists()
        except StateDbError as exc:
            raise StateStoreError(f"state store {self._db.name}: {exc}") from None

    def schema_version(self) -> tuple[int, int]:
        """The schema's version, and the version this watcher upgrades it to (on first use)."""
        if isinstance(self._db, PostgresDb):
            rows = self._query("SELECT version FROM schema_version")
        else:
            rows = self._query("PRAGMA user_version")
        return (int(rows[0][0]) if rows else 0), len(_MIGRATIONS)

    def try_write(self) -> None:
        """Write a row and delete it in one transaction (`watcher doctor`); raises if it cannot."""
        probe = "watcher doctor: can this store be written?"

        def work(execute: Execute) -> None:
            execute("INSERT INTO log_lines (digest, at) VALUES (?, 0)", (probe,))
            execute("DELETE FROM log_lines WHERE digest = ?", (probe,))

        self._transaction(work)

    @classmethod
    def sqlite(cls, path: str, busy_timeout: float = 5.0) -> StateStore:
        return cls(SqliteDb(path, busy_timeout))

    def close(self) -> None:
        self._db.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._transaction(lambda execute: execute(sql, params))

    def _transaction(self, work: Callable[[Execute], T]) -> T:
        try:
            if not self._ready:
                self._db.migrate(_MIGRATIONS)
                self._ready = True
            return self._db.transaction(work)
        except StateDbError as exc:
            raise StateStoreError(f"state store {self._db.name}: {exc}") from None
