"""The state store: a small SQLite file that outlives one run (SPEC section 7)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Each entry upgrades the schema by one version; PRAGMA user_version records how far.
_MIGRATIONS = (
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
)


class StateStoreError(Exception):
    """The state store cannot be read or written; the message says why."""


@dataclass(frozen=True)
class StoredBaseline:
    """A baseline taken from an observation, and when."""

    value: str
    observed_at: datetime


class StateStore:
    """One SQLite file, created and upgraded on first use; safe to share between threads."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> StateStore:
        """`sqlite:///relative.db` or `sqlite:////absolute.db`."""
        return cls(url.removeprefix("sqlite:///"))

    def baseline(self, name: str) -> StoredBaseline | None:
        """The baseline kept under `name`, if one was taken."""
        with self._lock:
            row = self._run(
                "SELECT value, observed_at FROM baselines WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return None
        return StoredBaseline(row[0], datetime.fromisoformat(row[1]))

    def keep_baseline(self, name: str, value: str, observed_at: datetime) -> None:
        """Keep `value` as the baseline unless one exists already (the first one wins)."""
        with self._lock:
            self._run(
                "INSERT INTO baselines (name, value, observed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, value, observed_at.isoformat()),
            )

    def watch_start(self) -> datetime | None:
        """When the daemon first started this watch (its T0 when WATCHER_CUTOVER_AT is unset)."""
        with self._lock:
            row = self._run("SELECT value FROM watch WHERE key = 'started_at'").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def keep_watch_start(self, at: datetime) -> datetime:
        """Record the watch start unless one is recorded; return the one that is kept."""
        with self._lock:
            self._run(
                "INSERT INTO watch (key, value) VALUES ('started_at', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (at.isoformat(),),
            )
            row = self._run("SELECT value FROM watch WHERE key = 'started_at'").fetchone()
        return datetime.fromisoformat(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            conn = self._connection()
            with conn:
                return conn.execute(sql, params)
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StateStoreError(f"state store {self._path}: {reason}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, check_same_thread=False)
            try:
                _upgrade(conn)
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn


def _upgrade(conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    for number, statement in enumerate(_MIGRATIONS[version:], start=version + 1):
        with conn:
            conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
