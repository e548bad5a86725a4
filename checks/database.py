"""A read-only, short-lived session on the watched PostgreSQL, shared by the SQL checks of a run."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from checks.result import CheckError

APPLICATION_NAME = "cutover-watcher"


@dataclass(frozen=True)
class DatabaseOptions:
    """How the watcher may use the watched database."""

    url: str
    connect_timeout: float = 5.0
    statement_timeout: float = 5.0


class Database:
    """At most one connection, opened on first use, read-only, closed by `close()`.

    The SQL checks of one run share it from several threads; a lock serialises them.
    """

    def __init__(self, options: DatabaseOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._conn: psycopg2.extensions.connection | None = None
        self._failure: CheckError | None = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement and return its rows, or raise `CheckError`."""
        with self._lock:
            conn = self._connect()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
                    return list(cur.fetchall())
            except psycopg2.errors.QueryCanceled:
                raise CheckError(
                    f"query timed out after {self._options.statement_timeout:g} s "
                    "(statement_timeout)"
                ) from None
            except psycopg2.Error as exc:
                if conn.closed:
                    self._conn = None
                raise CheckError(f"query failed: {_first_line(exc)}") from None

    def close(self) -> None:
        """Cancel any running statement and close the connection; safe from any thread."""
        conn = self._conn
        if conn is None:
            return
        # cancel() is the one libpq call meant for another thread: it ends a
        # statement that a timed-out check left running.
        with contextlib.suppress(psycopg2.Error):
            conn.cancel()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connect(self) -> psycopg2.extensions.connection:
        if self._failure is not None:
            raise self._failure
        if self._conn is not None and not self._conn.closed:
            return self._conn
        statement_ms = max(1, int(self._options.statement_timeout * 1000))
        try:
            conn = psycopg2.connect(
                self._options.url,
                connect_timeout=max(1, round(self._options.connect_timeout)),
                application_name=APPLICATION_NAME,
                # Read-only from the first statement on, and no statement or idle
                # transaction may hold the watched database for long.
                options=(
                    "-c default_transaction_read_only=on"
                    f" -c statement_timeout={statement_ms}"
                    f" -c lock_timeout={statement_ms}"
                    f" -c idle_in_transaction_session_timeout={statement_ms * 2}"
                ),
            )
        except psycopg2.Error as exc:
            self._failure = CheckError(f"database unreachable: {_first_line(exc)}")
            raise self._failure from None
        conn.set_session(readonly=True, autocommit=True)
        self._conn = conn
        return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()
