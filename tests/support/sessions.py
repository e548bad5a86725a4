"""Sessions of the app on a watched database: a long statement, an open transaction, a lock wait."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extensions

from tests.support.postgres import WatchedDatabase
from tests.support.wait import wait_until

SESSIONS = ("long-query", "idle-in-transaction", "blocked")


class Statement:
    """A statement running on its own autocommit connection, in a thread, until it ends."""

    def __init__(self, url: str, sql: str) -> None:
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.pid = int(cur.fetchone()[0])
        self.error: psycopg2.Error | None = None
        self._thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self._thread.start()

    def _run(self, sql: str) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except psycopg2.Error as exc:
            self.error = exc

    def cancel(self) -> None:
        """Cancel it (as pg_cancel_backend would) and wait for its thread."""
        self.conn.cancel()
        self.join()

    def join(self) -> None:
        self._thread.join(10)
        assert not self._thread.is_alive(), "the statement did not end"


@contextlib.contextmanager
def statement(url: str, sql: str) -> Iterator[Statement]:
    """`sql` running in the background; cancelled at the end if it still runs."""
    running = Statement(url, sql)
    try:
        yield running
    finally:
        running.cancel()
        running.conn.close()


@contextlib.contextmanager
def open_transaction(url: str, sql: str = "SELECT 1") -> Iterator[psycopg2.extensions.connection]:
    """A session that ran `sql` in a transaction and now sits idle in it."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        yield conn
    finally:
        conn.close()


def _state(db: WatchedDatabase, pid: int) -> object:
    return db.scalar(
        f"SELECT coalesce(wait_event_type, state) FROM pg_stat_activity WHERE pid = {int(pid)}"
    )


@contextlib.contextmanager
def app_sessions(db: WatchedDatabase, kinds: list[str]) -> Iterator[None]:
    """The app role's sessions in the named states (`SESSIONS`), held until the end."""
    with contextlib.ExitStack() as stack:
        if "long-query" in kinds:
            sleeper = stack.enter_context(statement(db.app_url, "SELECT pg_sleep(600)"))
            wait_until(lambda: _state(db, sleeper.pid), lambda s: s == "Timeout", what="sleep")
        if "idle-in-transaction" in kinds:
            stack.enter_context(open_transaction(db.app_url, "SELECT count(*) FROM users"))
        if "blocked" in kinds:
            # A table the sandbox's breakages leave alone: its next id is its sequence's.
            db.execute("INSERT INTO watchlists (payload) VALUES ('{}')")
            update = "UPDATE watchlists SET payload = '{\"v\": 2}'"
            stack.enter_context(open_transaction(db.app_url, update))
            waiter = stack.enter_context(statement(db.app_url, update))
            wait_until(lambda: _state(db, waiter.pid), lambda s: s == "Lock", what="lock wait")
        yield
