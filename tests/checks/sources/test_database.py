"""The watcher's session on the watched database: read-only, bounded in time, one connection."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from benchmarks.once_wall_time import Answers, SlowPostgres
from checks.result import CheckError
from checks.sources.clock import SystemClock
from checks.sources.database import Database, DatabaseOptions
from tests.fakes.http import SilentServer, closed_port
from tests.support.postgres import OWNER_PASSWORD, PgServer, WatchedDatabase

CLOCK = SystemClock()  # these tests wait on a real server


def test_writes_are_refused_even_with_the_owner_credential(
    database: Database, watched_db: WatchedDatabase
) -> None:
    with pytest.raises(CheckError, match="read-only transaction"):
        database.query("INSERT INTO users (payload) VALUES ('{}') RETURNING id")
    with pytest.raises(CheckError, match="read-only transaction"):
        database.query("CREATE TABLE watcher_was_here (id int)")
    assert watched_db.scalar("SELECT count(*) FROM users") == 0


def test_session_is_named_and_each_statement_read_only_under_a_timeout(database: Database) -> None:
    rows = database.query(
        "SELECT current_setting('application_name'), current_setting('transaction_read_only'),"
        " current_setting('statement_timeout'), current_setting('default_transaction_read_only')"
    )
    # Transaction-level, not session-level: correct behind a transaction pooler too.
    assert rows == [("cutover-watcher", "on", "3s", "off")]


def test_no_transaction_is_left_open_between_statements(
    database: Database, watched_db: WatchedDatabase
) -> None:
    database.query("SELECT count(*) FROM users")
    assert (
        watched_db.scalar(
            "SELECT state FROM pg_stat_activity WHERE application_name = 'cutover-watcher'"
        )
        == "idle"
    )


def test_statement_over_the_timeout_is_a_check_error(watched_db: WatchedDatabase) -> None:
    db = Database(DatabaseOptions(watched_db.owner_url, statement_timeout=0.3), CLOCK)
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"timed out after 0.3 s"):
        db.query("SELECT pg_sleep(10)")
    assert time.monotonic() - started < 3
    db.close()


def test_statement_blocked_by_a_lock_times_out(watched_db: WatchedDatabase) -> None:
    with contextlib.closing(watched_db.admin()) as locker, locker.cursor() as cur:
        cur.execute("BEGIN; LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        db = Database(DatabaseOptions(watched_db.owner_url, statement_timeout=0.3), CLOCK)
        with pytest.raises(CheckError, match="timed out"):
            db.query("SELECT version_num FROM alembic_version")
        db.close()


def test_refused_connection_is_unreachable(pg_server: PgServer) -> None:
    url = f"postgresql://raxx_owner:{OWNER_PASSWORD}@127.0.0.1:{closed_port()}/raxx"
    db = Database(DatabaseOptions(url, connect_timeout=2), CLOCK)
    with pytest.raises(CheckError, match="database unreachable") as caught:
        db.query("SELECT 1")
    assert OWNER_PASSWORD not in str(caught.value)


def test_server_that_never_answers_times_out_on_connect() -> None:
    with SilentServer() as silent:
        db = Database(
            DatabaseOptions(f"postgresql://u:p@127.0.0.1:{silent.port}/db", connect_timeout=2),
            CLOCK,
        )
        started = time.monotonic()
        with pytest.raises(CheckError, match=r"database unreachable.*timeout"):
            db.query("SELECT 1")
        assert time.monotonic() - started < 6


def test_a_failed_connect_is_not_retried_within_one_run() -> None:
    with SilentServer() as silent:
        db = Database(
            DatabaseOptions(f"postgresql://u:p@127.0.0.1:{silent.port}/db", connect_timeout=2),
            CLOCK,
        )
        with pytest.raises(CheckError):
            db.query("SELECT 1")
        started = time.monotonic()
        with pytest.raises(CheckError, match="database unreachable"):
            db.query("SELECT 1")
        assert time.monotonic() - started < 0.5


def test_wrong_password_is_unreachable_without_the_password(watched_db: WatchedDatabase) -> None:
    url = watched_db.server.url(watched_db.name, "raxx_owner", "not-the-Password-9f")
    with pytest.raises(CheckError, match="password authentication failed") as caught:
        Database(DatabaseOptions(url), CLOCK).query("SELECT 1")
    assert "not-the-Password-9f" not in str(caught.value)


def test_close_cuts_a_running_statement_and_leaves_no_connection(
    watched_db: WatchedDatabase,
) -> None:
    db = Database(DatabaseOptions(watched_db.owner_url, statement_timeout=30), CLOCK)
    errors: list[CheckError] = []

    def long_query() -> None:
        try:
            db.query("SELECT pg_sleep(20)")
        except CheckError as exc:
            errors.append(exc)

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(0.3)
    db.close()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert errors and "query" in str(errors[0])
    assert sessions_left(watched_db) == 0


def test_a_slow_query_does_not_make_others_report_a_timeout(watched_db: WatchedDatabase) -> None:
    db = Database(DatabaseOptions(watched_db.owner_url, statement_timeout=10, budget=1.0), CLOCK)
    db.query("SELECT 1")  # connected
    reasons: dict[str, str] = {}

    def run(name: str, sql: str) -> None:
        try:
            db.query(sql)
            reasons[name] = "ok"
        except CheckError as exc:
            reasons[name] = str(exc)

    slow = threading.Thread(target=run, args=("slow", "SELECT pg_sleep(5)"))
    slow.start()
    time.sleep(0.2)
    waiting = threading.Thread(target=run, args=("waiting", "SELECT 1"))
    waiting.start()
    slow.join(5)
    waiting.join(5)
    db.close()
    assert reasons["slow"].startswith("query timed out after")
    # The waiting check ran in what was left, or says the session was busy: never a timeout.
    assert reasons["waiting"] in {
        "ok",
        "no time left in this run for the query",
        "no time left: the shared database session stayed busy with a slow query of another"
        " SQL check",
    }


def test_close_stops_checks_queued_for_the_session(watched_db: WatchedDatabase) -> None:
    db = Database(DatabaseOptions(watched_db.owner_url, statement_timeout=30, budget=30), CLOCK)
    db.query("SELECT 1")
    reasons: list[str] = []

    def run(sql: str) -> None:
        try:
            db.query(sql)
            reasons.append("ok")
        except CheckError as exc:
            reasons.append(str(exc))

    running = threading.Thread(target=run, args=("SELECT pg_sleep(20)",))
    running.start()
    time.sleep(0.3)
    queued = [threading.Thread(target=run, args=("SELECT pg_sleep(20)",)) for _ in range(3)]
    for thread in queued:
        thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    db.close()
    for thread in [running, *queued]:
        thread.join(5)
    assert time.monotonic() - started < 3
    assert sorted(reasons) == [
        "the run ended before this query could run",
        "the run ended before this query could run",
        "the run ended before this query could run",
        "the run ended while the query ran",
    ]
    assert sessions_left(watched_db) == 0


def test_close_cuts_a_statement_whose_answer_is_stuck_outside_the_server(
    watched_db: WatchedDatabase,
) -> None:
    # The proxy holds every answer back for a minute: the server is done, the link is not,
    # so neither statement_timeout nor a cancel can end the wait.
    with SlowPostgres(watched_db.owner_url, 60.0, Answers()) as proxy:
        db = Database(
            DatabaseOptions(
                proxy.url(watched_db.owner_url), connect_timeout=3, statement_timeout=2
            ),
            SystemClock(),
        )
        errors: list[CheckError] = []

        def query() -> None:
            try:
                db.query("SELECT 1")
            except CheckError as exc:
                errors.append(exc)

        thread = threading.Thread(target=query, daemon=True)
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        db.close()
        thread.join(5)
        assert time.monotonic() - started < 3
        assert not thread.is_alive()
        assert len(errors) == 1


def sessions_left(watched_db: WatchedDatabase, wait: float = 3.0) -> int:
    """The watcher's sessions still on the server, once it has had `wait` s to drop a cut one.

    A cut session is dropped within client_connection_check_interval (1 s), not at once.
    """
    deadline = time.monotonic() + wait
    while True:
        count = int(
            watched_db.scalar(  # type: ignore[call-overload]
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cutover-watcher'"
            )
        )
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)
