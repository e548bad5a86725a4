"""A state store as the watcher wrote it before issue 13, built with that code's own DDL.

`MIGRATIONS` is the schema of the last release before the store split, verbatim; `write()`
fills it the way that code did (key-value watch settings, Slack payloads frozen in the outbox,
check metrics as a JSON bag of floats). The migration tests open such a store with today's
code, on SQLite and on PostgreSQL, and read everything back.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.support.clock import CUTOVER
from watcher.store.database import Execute, StateDb

MIGRATIONS = (
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
)


MINUTE = timedelta(minutes=1)
FIRED_AT = CUTOVER + 20 * MINUTE
POSTED = ("C0OPSALRT", "1715870922.000100")  # the fake Slack's #ops-alerts
LEGACY_REPLY = "still CRITICAL after 30 min (since 15:08Z): `db=sqlite (expected postgresql)`"


def write(db: StateDb) -> None:
    """Create the old schema and fill it as the old code did."""
    db.migrate(MIGRATIONS)
    db.transaction(_fill)


def _fill(execute: Execute) -> None:
    t0 = CUTOVER.timestamp()
    fired = FIRED_AT.timestamp()
    for key, value in (
        ("started_at", CUTOVER.isoformat()),
        ("transport_streak:healthz", "1"),
        ("slack_health", json.dumps({"reason": "ratelimited", "fix": "wait"})),
        ("rm11_gate", "closed"),
        ("outbox_store_id", "5f0e1d2c3b4a5968"),
        ("follower_recent", "a1b2c3,d4e5f6"),
    ):
        execute("INSERT INTO watch (key, value) VALUES (?, ?)", (key, value))
    execute(
        "INSERT INTO baselines (name, value, observed_at) VALUES (?, ?, ?)",
        ("tables", "35", CUTOVER.isoformat()),
    )
    execute(
        "INSERT INTO alerts (id, check_name, severity, status, summary, bad_streak, ok_streak,"
        " first_seen, last_seen, fired_at, reminded_at, resolved_at, message_id,"
        " alertmanager_done) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "healthz.db_sqlite",
            "healthz",
            "CRITICAL",
            "firing",
            "db=sqlite (expected postgresql): the app is writing to SQLite",
            3,
            0,
            fired,
            fired + 1800,
            fired,
            fired,
            None,
            1,
            1,
        ),
    )
    post = {"text": "<@U024BE7LH> CRITICAL raxx-api-prod healthz", "blocks": []}
    execute(
        "INSERT INTO outbox (channel, kind, alert_id, parent_id, payload, status, created_at,"
        " next_attempt_at, attempts, sent_at, posted_channel, posted_ts)"
        " VALUES ('slack', 'post', ?, NULL, ?, 'sent', ?, ?, 1, ?, ?, ?)",
        ("healthz.db_sqlite", json.dumps(post), fired, fired, fired, *POSTED),
    )
    execute(
        "INSERT INTO outbox (channel, kind, alert_id, parent_id, payload, status, created_at,"
        " next_attempt_at, attempts) VALUES ('slack', 'reply', ?, 1, ?, 'pending', ?, ?, 0)",
        ("healthz.db_sqlite", json.dumps({"text": LEGACY_REPLY}), fired + 1800, fired + 1800),
    )
    execute(
        "INSERT INTO alert_events (alert_id, event, severity, summary, at) VALUES (?, ?, ?, ?, ?)",
        ("healthz.db_sqlite", "fired", "CRITICAL", "db=sqlite (expected postgresql)", fired),
    )
    execute(
        "INSERT INTO log_counts (pattern, minute, count) VALUES (?, ?, ?)",
        ("sqlite", t0 + 600, 4),
    )
    execute("INSERT INTO log_lines (digest, at) VALUES (?, ?)", ("d4e5f6", t0 + 600))
    for offset, check, state, summary, metrics in (
        (
            5,
            "healthz",
            "OK",
            "db=postgresql, status=ok, version='1.4.2' in 38 ms",
            {"latency_seconds": 0.038, "status_code": 200.0, "up": 1.0},
        ),
        (
            20,
            "healthz",
            "CRITICAL",
            "db=sqlite (expected postgresql): the app is writing to SQLite",
            {"latency_seconds": 0.041, "status_code": 200.0, "up": 0.0},
        ),
        (
            20,
            "pg_info",
            "OK",
            "Standard 0, Available, 21/120 connections",
            {"available": 1.0, "connections": 21.0, "connection_limit": 25.0},
        ),
        (
            20,
            "sentry",
            "OK",
            "no new unresolved issues in production since 2026-05-16 14:48Z",
            {"new_issues": 0.0, "requests": 1.0},
        ),
    ):
        execute(
            "INSERT INTO check_history (at, check_name, state, summary, metrics)"
            " VALUES (?, ?, ?, ?, ?)",
            (t0 + offset * 60, check, state, summary, json.dumps(metrics)),
        )
