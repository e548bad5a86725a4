"""A read-only, short-lived session on the watched PostgreSQL, shared by the SQL checks of a run."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from checks.result import CheckError
from checks.sources.clock import Clock

APPLICATION_NAME = "cutover-watcher"
# Less than this left of the run is no time to start a statement in.
_MIN_STATEMENT_SECONDS = 0.05
# How long close() waits for the checks' thread to let go of the session.
_CLOSE_WAIT_SECONDS = 1.0
# PostgreSQL 14 added client_connection_check_interval.
_CLIENT_CHECK_VERSION = 140000


@dataclass(frozen=True)
class DatabaseOptions:
    """How the watcher may use the watched database.

    `budget` is the whole run's time: no statement starts, or waits for the session, past it.
    """

    url: str
    connect_timeout: float = 5.0
    statement_timeout: float = 5.0
    budget: float = 30.0


class Database:
    """At most one connection, opened on first use, closed by `close()`; every statement runs
    in its own READ ONLY transaction under a statement timeout.

    Transaction-level settings (BEGIN READ ONLY, SET LOCAL) rather than session ones, so the
    session stays correct behind a transaction pooler such as Heroku's pgbouncer. The SQL
    checks of one run share it from several threads; a lock serialises them.
    """

    def __init__(self, options: DatabaseOptions, clock: Clock) -> None:
        self._options = options
        self._clock = clock
        self._deadline = clock.monotonic() + options.budget
        self._lock = threading.Lock()
        self._conn: psycopg2.extensions.connection | None = None
        self._failure: CheckError | None = None
        self._closing = False
        self._running = False

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one statement (`%s` or `%(name)s` parameters) and return its rows, or raise
        `CheckError` with the reason."""
        if not self._lock.acquire(timeout=max(0.0, self._remaining())):
            raise CheckError(
                "no time left: the shared database session stayed busy with a slow query"
                " of another SQL check"
            )
        try:
            if self._closing:
                raise CheckError("the run ended before this query could run")
            return self._run(sql, params)
        finally:
            self._lock.release()

    def close(self) -> None:
        """End the session, cutting a statement still running; safe from any thread."""
        # Checks still queued for the lock must not start a statement after this.
        self._closing = True
        conn = self._conn
        if conn is not None and self._running:
            # Not conn.cancel(): libpq's cancel holds the GIL while it connects, and a
            # server that stopped answering would freeze the whole watcher. Cutting the
            # socket ends the blocked read at once; the server drops the statement when it
            # sees the client gone (client_connection_check_interval) or at its timeout.
            _shut_down(conn)
        if not self._lock.acquire(timeout=_CLOSE_WAIT_SECONDS):
            return
        try:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        finally:
            self._lock.release()

    def _run(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple[Any, ...]]:
        remaining = self._remaining()
        if remaining < _MIN_STATEMENT_SECONDS:
            raise CheckError("no time left in this run for the query")
        conn = self._connect(remaining)
        seconds = min(self._options.statement_timeout, remaining)
        try:
            self._running = True
            with conn.cursor() as cur:
                cur.execute(self._settings(seconds) + sql, params)
                return list(cur.fetchall())
        except psycopg2.errors.QueryCanceled:
            if self._closing:
                raise CheckError("the run ended while the query ran") from None
            raise CheckError(f"query timed out after {seconds:.3g} s (statement_timeout)") from None
        except psycopg2.Error as exc:
            if self._closing:
                raise CheckError("the run ended while the query ran") from None
            raise CheckError(f"query failed: {_first_line(exc)}") from None
        finally:
            self._running = False
            self._end_transaction(conn)

    def _settings(self, seconds: float) -> str:
        settings = f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}; "
        if self._conn is not None and self._conn.server_version >= _CLIENT_CHECK_VERSION:
            # The server notices within a second that close() cut the session.
            settings += "SET LOCAL client_connection_check_interval = 1000; "
        return settings

    def _end_transaction(self, conn: psycopg2.extensions.connection) -> None:
        # Nothing was written: rolling back ends the read-only transaction, so the session
        # holds no snapshot or lock between statements.
        try:
            conn.rollback()
        except psycopg2.Error:
            conn.close()
        if conn.closed:
            self._conn = None

    def _connect(self, remaining: float) -> psycopg2.extensions.connection:
        if self._failure is not None:
            raise self._failure
        if self._conn is not None and not self._conn.closed:
            return self._conn
        # libpq takes whole seconds and treats anything under 2 as 2.
        timeout = max(2, round(min(self._options.connect_timeout, remaining)))
        try:
            conn = psycopg2.connect(
                self._options.url,
                connect_timeout=timeout,
                application_name=APPLICATION_NAME,
                # A peer that stops answering mid-statement is given up by the kernel, not
                # waited on until TCP's own timeout hours later.
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
                tcp_user_timeout=int((self._options.statement_timeout + 5) * 1000),
            )
        except psycopg2.Error as exc:
            self._failure = CheckError(f"database unreachable: {_first_line(exc)}")
            raise self._failure from None
        try:
            conn.set_session(readonly=True, autocommit=False)
        except psycopg2.Error as exc:
            conn.close()
            raise CheckError(
                f"database session could not be made read-only: {_first_line(exc)}"
            ) from None
        self._conn = conn
        return conn

    def _remaining(self) -> float:
        return self._deadline - self._clock.monotonic()


def _shut_down(conn: psycopg2.extensions.connection) -> None:
    # A duplicate of libpq's socket: shutting it down ends the blocked read for both.
    with (
        contextlib.suppress(OSError, psycopg2.Error),
        socket.socket(fileno=os.dup(conn.fileno())) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()
