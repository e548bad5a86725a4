"""pg_connections against a real PostgreSQL: client backends server-wide against the limit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg2
import pytest

from checks import pg_connections
from checks.result import State
from checks.sources.clock import SystemClock
from checks.sources.connection_limit import ConnectionThresholds, evaluate_connections
from checks.sources.database import Database, DatabaseOptions
from tests.support.postgres import WatchedDatabase, limited_credential

SOP_LIMIT = ConnectionThresholds(limit=25, warn_ratio=0.6, crit_ratio=0.8)


@contextlib.contextmanager
def app_connections(db: WatchedDatabase, count: int) -> Iterator[None]:
    """`count` idle connections of the app role, as the web dynos would hold."""
    conns = [psycopg2.connect(db.app_url) for _ in range(count)]
    try:
        yield
    finally:
        for conn in conns:
            conn.close()


def test_few_connections_is_ok_and_counts_the_watcher(database: Database) -> None:
    result = pg_connections.check(database, SOP_LIMIT)
    assert result.state == State.OK
    assert result.metrics["connections"] >= 1  # the watcher's own session
    assert "this watcher's own included" in result.summary
    assert "/25 connections" in result.summary


def test_21_connections_against_25_is_critical(
    database: Database, watched_db: WatchedDatabase
) -> None:
    with app_connections(watched_db, 21):
        result = pg_connections.check(database, SOP_LIMIT)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["pg_connections.connections"]
    assert result.metrics["connections"] >= 22
    assert result.summary.endswith(
        ", counted server-wide, this watcher's own included: at or over 80%"
    )


def test_60_percent_is_warning(database: Database, watched_db: WatchedDatabase) -> None:
    with app_connections(watched_db, 14):  # 14 + the watcher = 15 of 25
        result = pg_connections.check(database, SOP_LIMIT)
    assert result.state == State.WARNING
    assert result.summary.endswith("this watcher's own included: at or over 60%")


def test_server_limit_below_the_ceiling_is_the_effective_limit(database: Database) -> None:
    result = pg_connections.check(database, ConnectionThresholds(limit=500))
    server = int(result.metrics["server_limit"])
    assert server == 97  # max_connections 100 less 3 reserved for superusers
    assert f"/{server} connections" in result.summary
    assert f"ceiling 500, server {server}" in result.summary


@pytest.mark.parametrize(
    ("used", "limit", "warn", "crit", "state"),
    [
        (14, 25, 0.6, 0.8, State.OK),
        (15, 25, 0.6, 0.8, State.WARNING),
        (19, 25, 0.6, 0.8, State.WARNING),
        (20, 25, 0.6, 0.8, State.CRITICAL),
        (55, 100, 0.55, 0.8, State.WARNING),  # 0.55 * 100 is 55.000000000000007 in floats
        (54, 100, 0.55, 0.8, State.OK),
        (29, 100, 0.29, 0.57, State.WARNING),
        (57, 100, 0.29, 0.57, State.CRITICAL),
    ],
)
def test_thresholds_are_at_or_over_exactly(
    used: int, limit: int, warn: float, crit: float, state: State
) -> None:
    finding, _ = evaluate_connections(
        "x.connections", used, ConnectionThresholds(limit, warn, crit), None, "plan"
    )
    assert (finding.state if finding else State.OK) == state


def test_a_credential_without_pg_monitor_and_a_superuser_count_the_same_clients(
    watched_db: WatchedDatabase,
) -> None:
    """A credential without pg_read_all_stats cannot read other roles' backend_type; it must
    still count them."""
    with app_connections(watched_db, 5), limited_credential(watched_db) as limited:
        plain = Database(DatabaseOptions(limited.url), SystemClock())
        as_limited = pg_connections.check(plain, SOP_LIMIT).metrics["connections"]
        superuser = Database(DatabaseOptions(watched_db.server.admin_url), SystemClock())
        as_superuser = pg_connections.check(superuser, SOP_LIMIT).metrics["connections"]
        plain.close()
        superuser.close()
    # The superuser's own session is one more client while it counts.
    assert as_superuser == as_limited + 1
