"""The two databases a state store can live in: a SQLite file, or a PostgreSQL schema `watcher`.

Both take the same SQL (`?` placeholders; `{serial}` and `{float}` in table definitions) and
run each piece of work as one transaction; the repositories hold the queries. A migration step
is DDL, or a function that moves data with the same `Execute` the repositories use.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import psycopg2
import psycopg2.extensions

Row = tuple[Any, ...]
T = TypeVar("T")

# One schema, kept apart from the application's `public` (docs/state-store.md).
PG_SCHEMA = "watcher"


class StateDbError(Exception):
    """The store's database cannot be used; the message says why, never the URL."""


class Execute(Protocol):
    """Runs one statement inside the current transaction and returns its rows."""

    def __call__(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


# One step of the schema: DDL, or a function that moves data (in the step's transaction).
Migration = str | Callable[[Execute], None]


class StateDb(Protocol):
    """Runs work in one transaction: all of it is kept, or none."""

    name: str

    def transaction(self, work: Callable[[Execute], T]) -> T: ...

    def migrate(self, migrations: Sequence[Migration]) -> None: ...

    def exists(self) -> bool: ...

    def close(self) -> None: ...


class SqliteDb:
    """A SQLite file, opened on first use and shared by the daemon's threads under a lock."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        self.name = path
        self._path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def transaction(self, work: Callable[[Execute], T]) -> T:
        with self._lock:
            try:
                conn = self._connection()

                def execute(sql: str, params: Sequence[object] = ()) -> list[Row]:
                    return conn.execute(sql, tuple(params)).fetchall()

                # IMMEDIATE: another process (`watcher once --notify` beside the daemon) waits
                # for this one's read-decide-write instead of deciding on the same old rows.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(execute)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                return result
            except (sqlite3.Error, OSError) as exc:
                raise StateDbError(_reason(exc)) from None

    def migrate(self, migrations: Sequence[Migration]) -> None:
        with self._lock:
            try:
                conn = self._connection()

                def execute(sql: str, params: Sequence[object] = ()) -> list[Row]:
                    return conn.execute(sql, tuple(params)).fetchall()

                conn.execute("BEGIN IMMEDIATE")
                try:
                    (version,) = conn.execute("PRAGMA user_version").fetchone()
                    # Up to date: write nothing, so a store on a full disk can still be read.
                    if version < len(migrations):
                        for step in migrations[version:]:
                            if callable(step):
                                step(execute)
                                continue
                            conn.execute(_ddl(step, serial="INTEGER PRIMARY KEY", real="REAL"))
                        conn.execute(f"PRAGMA user_version = {len(migrations)}")
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise StateDbError(_reason(exc)) from None

    def exists(self) -> bool:
        """A file holding the store's tables; nothing is created to find out."""
        if self._path == ":memory:":
            return self._conn is not None
        if not Path(self._path).is_file():
            return False
        try:
            # Read-only: a file that is not a store is left as it was.
            conn = sqlite3.connect(
                f"file:{quote(self._path)}?mode=ro", uri=True, timeout=self._busy_timeout
            )
            try:
                (version,) = conn.execute("PRAGMA user_version").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StateDbError(_reason(exc)) from None
        return int(version) > 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            parent = Path(self._path).parent
            if self._path != ":memory:" and not parent.is_dir():
                # Made silently, a typo in the path would start a second, empty store.
                raise StateDbError(
                    f"its directory {parent} does not exist: create it, or fix WATCHER_STATE_URL"
                )
            # isolation_level=None: transactions are begun and ended here, explicitly.
            self._conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                check_same_thread=False,
                isolation_level=None,
            )
        return self._conn


class PostgresDb:
    """A PostgreSQL database; the store's tables live in schema `watcher`, never `public`."""

    def __init__(self, url: str, connect_timeout: float = 5.0, statement_timeout: float = 5.0):
        parts = urlsplit(url)
        self.name = f"postgresql://{parts.hostname or 'localhost'}/{parts.path.lstrip('/')}"
        # psycopg2 knows `postgresql://` and `postgres://` alike.
        self._url = url
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._lock = threading.Lock()
        self._conn: psycopg2.extensions.connection | None = None

    def transaction(self, work: Callable[[Execute], T]) -> T:
        def run(conn: psycopg2.extensions.connection) -> T:
            with conn, conn.cursor() as cur:

                def execute(sql: str, params: Sequence[object] = ()) -> list[Row]:
                    cur.execute(sql.replace("?", "%s"), tuple(params))
                    return list(cur.fetchall()) if cur.description is not None else []

                return work(execute)

        with self._lock:
            result: T = self._with_retry(run)
            return result

    def migrate(self, migrations: Sequence[Migration]) -> None:
        def upgrade(conn: psycopg2.extensions.connection) -> None:
            with conn, conn.cursor() as cur:

                def execute(sql: str, params: Sequence[object] = ()) -> list[Row]:
                    cur.execute(sql.replace("?", "%s"), tuple(params))
                    return list(cur.fetchall()) if cur.description is not None else []

                # Two watchers starting at once (a deploy overlapping the old dyno) upgrade in
                # turn; taken first, since CREATE ... IF NOT EXISTS races too.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('cutover-watcher:migrate'))")
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {PG_SCHEMA}.schema_version (version INTEGER)"
                )
                cur.execute(f"SELECT version FROM {PG_SCHEMA}.schema_version")
                row = cur.fetchone()
                version = 0 if row is None else int(row[0])
                for step in migrations[version:]:
                    if callable(step):
                        step(execute)
                        continue
                    cur.execute(_ddl(step, serial="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION"))
                cur.execute(f"DELETE FROM {PG_SCHEMA}.schema_version")
                cur.execute(
                    f"INSERT INTO {PG_SCHEMA}.schema_version VALUES (%s)",
                    (max(version, len(migrations)),),
                )

        with self._lock:
            self._with_retry(upgrade)

    def exists(self) -> bool:
        """Schema `watcher` holds the store's tables; nothing is created to find out."""

        def look(conn: psycopg2.extensions.connection) -> bool:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{PG_SCHEMA}.schema_version",))
                row = cur.fetchone()
                return bool(row and row[0])

        with self._lock:
            found: bool = self._with_retry(look)
            return found

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _with_retry(self, work: Any) -> Any:
        # A connection broken since the last call (the server restarted, a dyno moved) is
        # reopened once; an error on a fresh connection is the caller's.
        for attempt in (1, 2):
            fresh = self._conn is None
            try:
                return work(self._connection())
            except (psycopg2.InterfaceError, psycopg2.OperationalError) as exc:
                self._drop()
                if fresh or attempt == 2:
                    raise StateDbError(_pg_reason(exc)) from None
            except psycopg2.Error as exc:
                raise StateDbError(_pg_reason(exc)) from None
        raise AssertionError("unreachable")

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None:
            self._conn = psycopg2.connect(
                self._url,
                connect_timeout=max(1, round(self._connect_timeout)),
                application_name="cutover-watcher-state",
                options=(
                    f"-c search_path={PG_SCHEMA}"
                    f" -c statement_timeout={int(self._statement_timeout * 1000)}"
                ),
            )
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
            self._conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk, an I/O error): a ROLLBACK then fails
    # with "no transaction is active" and would hide the error that says why.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _ddl(template: str, serial: str, real: str) -> str:
    return template.replace("{serial}", serial).replace("{float}", real)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _pg_reason(exc: psycopg2.Error) -> str:
    # psycopg2's messages can quote the connection string's parts; keep the first line,
    # the redactor masks any password that is left.
    text = (exc.pgerror or str(exc) or type(exc).__name__).strip().splitlines()
    return text[0] if text else type(exc).__name__
