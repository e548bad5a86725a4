"""The state store (SPEC section 7): what outlives one run, in SQLite or PostgreSQL.

Alerts, the notification outbox, baselines, posted marks, log counts per minute and the check
history. Every method is one transaction; the daemon's threads share one store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from watcher.state_db import Execute, PostgresDb, Row, SqliteDb, StateDb, StateDbError

T = TypeVar("T")

# Each entry upgrades the schema by one version. Times in new tables are epoch seconds.
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

# How long counted line digests are kept: far longer than any replay reaches back.
LOG_LINES_KEPT_SECONDS = 6 * 3600.0

# Alert statuses: pending (seen, not yet confirmed), firing (notified), resolved.
PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
# Outbox statuses; a skipped message had nothing left to do (an edit of a post that failed).
QUEUED, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"


class StateStoreError(Exception):
    """The state store cannot be read or written; the message says why."""


@dataclass(frozen=True)
class StoredBaseline:
    """A baseline taken from an observation, and when."""

    value: str
    observed_at: datetime


@dataclass(frozen=True)
class AlertRecord:
    """One alert per finding id (or `<check>.blind`), as the lifecycle left it."""

    id: str
    check: str
    severity: str
    status: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    bad_streak: int = 0
    ok_streak: int = 0
    fired_at: datetime | None = None
    reminded_at: datetime | None = None
    resolved_at: datetime | None = None
    # The outbox id of the message whose thread this firing uses.
    message_id: int | None = None
    # Alertmanager has been told of the latest resolution.
    alertmanager_done: bool = True


@dataclass(frozen=True)
class Message:
    """A notification to queue: a new post, a reply in an alert's thread, or an edit of it."""

    kind: str  # "post" | "reply" | "update"
    payload: Mapping[str, Any]
    channel: str = "slack"
    # For replies and updates: the post they belong to (default: the alert's thread).
    parent_id: int | None = None


@dataclass(frozen=True)
class OutboxItem:
    """A queued notification as stored."""

    id: int
    channel: str
    kind: str
    alert_id: str | None
    parent_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    posted_channel: str | None = None
    posted_ts: str | None = None
    # An earlier attempt may have reached Slack (its outcome is not known).
    in_flight: bool = False


@dataclass(frozen=True)
class LogMatchCount:
    """A matched line to count: its pattern, its minute, and the line's digest (hex)."""

    pattern: str
    minute: datetime
    digest: str


@dataclass(frozen=True)
class AlertEvent:
    """Something that happened to an alert: fired, warned, blind, reminded, resolved."""

    alert_id: str
    event: str
    severity: str
    summary: str
    at: datetime


@dataclass(frozen=True)
class HistoryRow:
    """One check's observation, as `watcher record` reads it."""

    at: datetime
    check: str
    state: str
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Mark:
    """A timeline mark that was posted (4-hour result, 8-hour and 24-hour dashboard marks)."""

    name: str
    due_at: datetime
    posted_at: datetime
    late: bool


@dataclass(frozen=True)
class AlertChange:
    """What a lifecycle decision keeps: the alert's new record, messages and events."""

    record: AlertRecord
    messages: Sequence[Message] = ()
    events: Sequence[AlertEvent] = ()


class StateStore:
    """The watcher's memory; created and upgraded on first use, safe to share between threads."""

    def __init__(self, db: StateDb) -> None:
        self._db = db
        self._ready = False

    @classmethod
    def from_url(cls, url: str) -> StateStore:
        """`sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://...`."""
        if url.startswith(("postgresql://", "postgres://")):
            return cls(PostgresDb(url))
        return cls.sqlite(url.removeprefix("sqlite:///"))

    @classmethod
    def sqlite(cls, path: str, busy_timeout: float = 5.0) -> StateStore:
        return cls(SqliteDb(path, busy_timeout))

    # -- baselines and the watch ------------------------------------------------------------

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

    def watch_value(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM watch WHERE key = ?", (key,))
        return None if not rows else str(rows[0][0])

    def keep_watch_value(self, key: str, value: str) -> str:
        """Record `value` unless one is recorded; return the one that is kept."""

        def work(execute: Execute) -> str:
            execute(
                "INSERT INTO watch (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            return str(execute("SELECT value FROM watch WHERE key = ?", (key,))[0][0])

        return self._transaction(work)

    def set_watch_value(self, key: str, value: str | None) -> None:
        """Record `value` under `key`, replacing what was there; None forgets it."""
        if value is None:
            self._query("DELETE FROM watch WHERE key = ?", (key,))
            return
        self._query(
            "INSERT INTO watch (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def watch_start(self) -> datetime | None:
        """When the daemon first started this watch (its T0 when WATCHER_CUTOVER_AT is unset)."""
        value = self.watch_value("started_at")
        return None if value is None else datetime.fromisoformat(value)

    def keep_watch_start(self, at: datetime) -> datetime:
        """Record the watch start unless one is recorded; return the one that is kept."""
        return datetime.fromisoformat(self.keep_watch_value("started_at", at.isoformat()))

    # -- alerts -----------------------------------------------------------------------------

    def alert(self, alert_id: str) -> AlertRecord | None:
        rows = self._query(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return None if not rows else _alert(rows[0])

    def alerts(self, statuses: Iterable[str] = (PENDING, FIRING)) -> list[AlertRecord]:
        """Alerts in the given statuses, oldest first."""
        wanted = tuple(statuses)
        marks = ", ".join("?" for _ in wanted)
        rows = self._query(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE status IN ({marks})"
            " ORDER BY first_seen, id",
            wanted,
        )
        return [_alert(row) for row in rows]

    def alertmanager_pending(self) -> list[AlertRecord]:
        """Alerts Alertmanager must hear of: firing ones, and resolutions it has not had."""
        rows = self._query(
            f"SELECT {_ALERT_COLUMNS} FROM alerts"
            " WHERE (status = ? AND severity != 'UNKNOWN') OR alertmanager_done = 0"
            " ORDER BY id",
            (FIRING,),
        )
        return [_alert(row) for row in rows]

    def alertmanager_done(
        self, alert_ids: Iterable[str], resolved_at: Mapping[str, datetime]
    ) -> None:
        """Alertmanager has the resolutions of these alerts (unless they fired again since)."""

        def work(execute: Execute) -> None:
            for alert_id in alert_ids:
                execute(
                    "UPDATE alerts SET alertmanager_done = 1 WHERE id = ? AND resolved_at = ?",
                    (alert_id, _epoch(resolved_at[alert_id])),
                )

        self._transaction(work)

    def change_alert(
        self,
        alert_id: str,
        decide: Callable[[AlertRecord | None], AlertChange | None],
    ) -> AlertRecord | None:
        """Read the alert, let `decide` change it, keep the change with its messages: atomically.

        Returns the record as kept (with the id of a new post as its `message_id`).
        """

        def work(execute: Execute) -> AlertRecord | None:
            if isinstance(self._db, PostgresDb):
                # FOR UPDATE locks nothing while the row does not exist yet: two processes
                # deciding on a new alert would both fire it. The id's advisory lock orders
                # them (SQLite's BEGIN IMMEDIATE already does).
                execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"alert:{alert_id}",))
            rows = execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?{self._for_update}",
                (alert_id,),
            )
            change = decide(_alert(rows[0]) if rows else None)
            if change is None:
                return _alert(rows[0]) if rows else None
            record = change.record
            now = record.last_seen
            for message in change.messages:
                parent = message.parent_id
                if message.kind != "post" and parent is None:
                    parent = record.message_id
                (new_id,) = execute(
                    "INSERT INTO outbox (channel, kind, alert_id, parent_id, payload, status,"
                    " created_at, next_attempt_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
                    " RETURNING id",
                    (
                        message.channel,
                        message.kind,
                        alert_id,
                        parent,
                        json.dumps(message.payload),
                        QUEUED,
                        _epoch(now),
                        _epoch(now),
                    ),
                )[0]
                if message.kind == "post":
                    record = replace(record, message_id=int(new_id))
            for event in change.events:
                _insert_event(execute, event)
            execute(
                "INSERT INTO alerts (id, check_name, severity, status, summary, bad_streak,"
                " ok_streak, first_seen, last_seen, fired_at, reminded_at, resolved_at,"
                " message_id, alertmanager_done) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET check_name = excluded.check_name,"
                " severity = excluded.severity, status = excluded.status,"
                " summary = excluded.summary, bad_streak = excluded.bad_streak,"
                " ok_streak = excluded.ok_streak, first_seen = excluded.first_seen,"
                " last_seen = excluded.last_seen, fired_at = excluded.fired_at,"
                " reminded_at = excluded.reminded_at, resolved_at = excluded.resolved_at,"
                " message_id = excluded.message_id,"
                " alertmanager_done = excluded.alertmanager_done",
                _alert_row(record),
            )
            return record

        return self._transaction(work)

    def add_events(self, events: Sequence[AlertEvent]) -> None:
        """Keep events that belong to no alert decision (a log stream gap's blind window)."""

        def work(execute: Execute) -> None:
            for event in events:
                _insert_event(execute, event)

        self._transaction(work)

    def alert_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[AlertEvent]:
        """Alert events in time order, within [since, until)."""
        rows = self._query(
            "SELECT alert_id, event, severity, summary, at FROM alert_events"
            " WHERE at >= ? AND at < ? ORDER BY at, id",
            (_epoch_or(since, float("-inf")), _epoch_or(until, float("inf"))),
        )
        return [AlertEvent(r[0], r[1], r[2], r[3], _time(r[4])) for r in rows]

    # -- the outbox -------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[Message], at: datetime) -> list[int]:
        """Queue messages that belong to no alert (timeline marks); returns their ids."""

        def work(execute: Execute) -> list[int]:
            return [_insert_message(execute, m, at) for m in messages]

        return self._transaction(work)

    def due(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Queued messages whose next attempt is due, oldest first."""
        rows = self._query(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (QUEUED, _epoch(now), limit),
        )
        return [_outbox(row) for row in rows]

    def claim_next(self, now: datetime, lease_until: datetime, owner: str) -> OutboxItem | None:
        """Claim the oldest deliverable message until `lease_until`; None if there is none.

        Held by one process at a time (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite);
        a claim whose holder died expires. A reply whose thread's first message is still
        queued waits for it, so it never leads.
        """

        def work(execute: Execute) -> OutboxItem | None:
            rows = execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? AND next_attempt_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ? OR claimed_by = ?)"
                f" ORDER BY id LIMIT 20{self._skip_locked}",
                (QUEUED, _epoch(now), _epoch(now), owner),
            )
            for row in rows:
                item = _outbox(row)
                if item.parent_id is not None:
                    parent = execute(
                        "SELECT status, next_attempt_at FROM outbox WHERE id = ?",
                        (item.parent_id,),
                    )
                    if parent and parent[0][0] == QUEUED:
                        execute(
                            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1,"
                            " last_error = ? WHERE id = ?",
                            (
                                max(float(parent[0][1]), _epoch(now)),
                                "waiting for the thread",
                                item.id,
                            ),
                        )
                        continue
                execute(
                    "UPDATE outbox SET claimed_until = ?, claimed_by = ?, in_flight = 1"
                    " WHERE id = ?",
                    (_epoch(lease_until), owner, item.id),
                )
                return item
            return None

        return self._transaction(work)

    def next_attempt(self) -> datetime | None:
        """When the earliest queued message is next due, if any is queued."""
        rows = self._query("SELECT min(next_attempt_at) FROM outbox WHERE status = ?", (QUEUED,))
        return None if not rows or rows[0][0] is None else _time(rows[0][0])

    def message(self, message_id: int) -> OutboxItem | None:
        rows = self._query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (message_id,))
        return None if not rows else _outbox(rows[0])

    def posted_channel(self) -> str | None:
        """The channel id Slack gave the latest message sent (for looking in its history)."""
        rows = self._query(
            "SELECT posted_channel FROM outbox WHERE status = ? AND posted_channel IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (SENT,),
        )
        return None if not rows else str(rows[0][0])

    def messages(self, status: str | None = None) -> list[OutboxItem]:
        """Every message (or those in one status), oldest first."""
        if status is None:
            rows = self._query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id")
        else:
            rows = self._query(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? ORDER BY id", (status,)
            )
        return [_outbox(row) for row in rows]

    def mark_sent(self, message_id: int, at: datetime, channel: str, ts: str) -> None:
        self._query(
            "UPDATE outbox SET status = ?, sent_at = ?, posted_channel = ?, posted_ts = ?,"
            f" attempts = attempts + 1, last_error = NULL, {_RELEASE} WHERE id = ?",
            (SENT, _epoch(at), channel, ts, message_id),
        )

    def mark_retry(
        self, message_id: int, next_attempt_at: datetime, error: str, uncertain: bool = False
    ) -> None:
        """Try again at `next_attempt_at`; `uncertain`: the attempt may have reached Slack."""
        self._query(
            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, last_error = ?,"
            " claimed_until = NULL, claimed_by = NULL, in_flight = ? WHERE id = ?",
            (_epoch(next_attempt_at), error, int(uncertain), message_id),
        )

    def mark_failed(self, message_id: int, reason: str) -> None:
        self._query(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?,"
            f" {_RELEASE} WHERE id = ?",
            (FAILED, reason, message_id),
        )

    def mark_skipped(self, message_id: int, reason: str) -> None:
        self._query(
            f"UPDATE outbox SET status = ?, last_error = ?, {_RELEASE} WHERE id = ?",
            (SKIPPED, reason, message_id),
        )

    def requeue_failed(self, reasons: Iterable[str], at: datetime) -> int:
        """Queue again the messages that failed for one of `reasons`; returns how many."""
        wanted = tuple(reasons)
        if not wanted:
            return 0
        marks = ", ".join("?" for _ in wanted)

        def work(execute: Execute) -> int:
            rows = execute(
                f"SELECT id FROM outbox WHERE status = ? AND last_error IN ({marks})",
                (FAILED, *wanted),
            )
            execute(
                f"UPDATE outbox SET status = ?, next_attempt_at = ?"
                f" WHERE status = ? AND last_error IN ({marks})",
                (QUEUED, _epoch(at), FAILED, *wanted),
            )
            return len(rows)

        return self._transaction(work)

    def outbox_counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        rows = self._query("SELECT status, count(*) FROM outbox GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    # -- timeline marks ---------------------------------------------------------------------

    def mark(self, name: str) -> Mark | None:
        rows = self._query(
            "SELECT name, due_at, posted_at, late FROM marks WHERE name = ?", (name,)
        )
        return None if not rows else _mark(rows[0])

    def marks(self) -> list[Mark]:
        rows = self._query("SELECT name, due_at, posted_at, late FROM marks ORDER BY due_at")
        return [_mark(row) for row in rows]

    def post_mark(
        self, mark: Mark, messages: Sequence[Message], events: Sequence[AlertEvent] = ()
    ) -> bool:
        """Record the mark and queue its messages, unless it was posted before (then False)."""

        def work(execute: Execute) -> bool:
            inserted = execute(
                "INSERT INTO marks (name, due_at, posted_at, late) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING RETURNING name",
                (mark.name, _epoch(mark.due_at), _epoch(mark.posted_at), int(mark.late)),
            )
            if not inserted:
                return False
            for message in messages:
                _insert_message(execute, message, mark.posted_at)
            for event in events:
                _insert_event(execute, event)
            return True

        return self._transaction(work)

    # -- log counts and the check history ---------------------------------------------------

    def add_log_counts(self, counts: Mapping[tuple[str, datetime], int]) -> None:
        """Add matches per (pattern, minute)."""
        if not counts:
            return

        def work(execute: Execute) -> None:
            for (pattern, minute), count in counts.items():
                execute(
                    "INSERT INTO log_counts (pattern, minute, count) VALUES (?, ?, ?)"
                    " ON CONFLICT (pattern, minute) DO UPDATE"
                    " SET count = log_counts.count + excluded.count",
                    (pattern, _epoch(minute), count),
                )

        self._transaction(work)

    def count_log_matches(
        self, matches: Sequence[LogMatchCount], at: datetime
    ) -> list[LogMatchCount]:
        """Count each line's matches once, with the line's digest, in one transaction.

        A line already counted (by this process before a restart, or by another watcher on
        the same store) adds nothing; returns the matches that were new.
        """
        if not matches:
            return []

        def work(execute: Execute) -> list[LogMatchCount]:
            fresh: dict[str, bool] = {}
            counted: list[LogMatchCount] = []
            for match in matches:
                if match.digest not in fresh:
                    fresh[match.digest] = bool(
                        execute(
                            "INSERT INTO log_lines (digest, at) VALUES (?, ?)"
                            " ON CONFLICT (digest) DO NOTHING RETURNING digest",
                            (match.digest, _epoch(at)),
                        )
                    )
                if not fresh[match.digest]:
                    continue
                counted.append(match)
                execute(
                    "INSERT INTO log_counts (pattern, minute, count) VALUES (?, ?, 1)"
                    " ON CONFLICT (pattern, minute) DO UPDATE"
                    " SET count = log_counts.count + 1",
                    (match.pattern, _epoch(match.minute)),
                )
            execute("DELETE FROM log_lines WHERE at < ?", (_epoch(at) - LOG_LINES_KEPT_SECONDS,))
            return counted

        return self._transaction(work)

    def counted_lines(self, since: datetime) -> list[str]:
        """Digests (hex) of the lines counted since `since`, oldest first."""
        rows = self._query(
            "SELECT digest FROM log_lines WHERE at >= ? ORDER BY at", (_epoch(since),)
        )
        return [str(row[0]) for row in rows]

    def log_counts(self, since: datetime, until: datetime | None = None) -> dict[str, int]:
        """Matches per pattern whose minute is in [since, until)."""
        rows = self._query(
            "SELECT pattern, sum(count) FROM log_counts WHERE minute >= ? AND minute < ?"
            " GROUP BY pattern",
            (_epoch(since), _epoch_or(until, float("inf"))),
        )
        return {str(pattern): int(total) for pattern, total in rows}

    def log_minutes(self, since: datetime) -> list[tuple[str, datetime, int]]:
        """Matches per pattern and minute from `since` on, oldest first."""
        rows = self._query(
            "SELECT pattern, minute, count FROM log_counts WHERE minute >= ? ORDER BY minute",
            (_epoch(since),),
        )
        return [(str(p), _time(m), int(c)) for p, m, c in rows]

    def record_checks(self, rows: Sequence[HistoryRow]) -> None:
        def work(execute: Execute) -> None:
            for row in rows:
                execute(
                    "INSERT INTO check_history (at, check_name, state, summary, metrics)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (_epoch(row.at), row.check, row.state, row.summary, json.dumps(row.metrics)),
                )

        self._transaction(work)

    def check_history(
        self,
        check: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[HistoryRow]:
        """Observations in time order within [since, until), of one check or all."""
        sql = (
            "SELECT at, check_name, state, summary, metrics FROM check_history"
            " WHERE at >= ? AND at < ?"
        )
        params: list[object] = [_epoch_or(since, float("-inf")), _epoch_or(until, float("inf"))]
        if check is not None:
            sql += " AND check_name = ?"
            params.append(check)
        rows = self._query(sql + " ORDER BY at, id", params)
        return [HistoryRow(_time(r[0]), r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def close(self) -> None:
        self._db.close()

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _skip_locked(self) -> str:
        # Rows another process holds are passed over, not waited for.
        return " FOR UPDATE SKIP LOCKED" if isinstance(self._db, PostgresDb) else ""

    @property
    def _for_update(self) -> str:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL locks the row.
        return " FOR UPDATE" if isinstance(self._db, PostgresDb) else ""

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


_ALERT_COLUMNS = (
    "id, check_name, severity, status, summary, bad_streak, ok_streak, first_seen, last_seen,"
    " fired_at, reminded_at, resolved_at, message_id, alertmanager_done"
)
_OUTBOX_COLUMNS = (
    "id, channel, kind, alert_id, parent_id, payload, status, attempts, next_attempt_at,"
    " last_error, posted_channel, posted_ts, in_flight"
)
# A message done with (sent, failed, skipped) is nobody's any more.
_RELEASE = "claimed_until = NULL, claimed_by = NULL, in_flight = 0"


def _alert(row: Row) -> AlertRecord:
    return AlertRecord(
        id=row[0],
        check=row[1],
        severity=row[2],
        status=row[3],
        summary=row[4],
        bad_streak=int(row[5]),
        ok_streak=int(row[6]),
        first_seen=_time(row[7]),
        last_seen=_time(row[8]),
        fired_at=_maybe_time(row[9]),
        reminded_at=_maybe_time(row[10]),
        resolved_at=_maybe_time(row[11]),
        message_id=None if row[12] is None else int(row[12]),
        alertmanager_done=bool(row[13]),
    )


def _alert_row(a: AlertRecord) -> tuple[object, ...]:
    return (
        a.id,
        a.check,
        a.severity,
        a.status,
        a.summary,
        a.bad_streak,
        a.ok_streak,
        _epoch(a.first_seen),
        _epoch(a.last_seen),
        _maybe_epoch(a.fired_at),
        _maybe_epoch(a.reminded_at),
        _maybe_epoch(a.resolved_at),
        a.message_id,
        int(a.alertmanager_done),
    )


def _outbox(row: Row) -> OutboxItem:
    return OutboxItem(
        id=int(row[0]),
        channel=row[1],
        kind=row[2],
        alert_id=row[3],
        parent_id=None if row[4] is None else int(row[4]),
        payload=json.loads(row[5]),
        status=row[6],
        attempts=int(row[7]),
        next_attempt_at=_time(row[8]),
        last_error=row[9],
        posted_channel=row[10],
        posted_ts=row[11],
        in_flight=bool(row[12]),
    )


def _mark(row: Row) -> Mark:
    return Mark(row[0], _time(row[1]), _time(row[2]), bool(row[3]))


def _insert_message(execute: Execute, message: Message, at: datetime) -> int:
    (new_id,) = execute(
        "INSERT INTO outbox (channel, kind, alert_id, parent_id, payload, status, created_at,"
        " next_attempt_at, attempts) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 0) RETURNING id",
        (
            message.channel,
            message.kind,
            message.parent_id,
            json.dumps(message.payload),
            QUEUED,
            _epoch(at),
            _epoch(at),
        ),
    )[0]
    return int(new_id)


def _insert_event(execute: Execute, event: AlertEvent) -> None:
    execute(
        "INSERT INTO alert_events (alert_id, event, severity, summary, at) VALUES (?, ?, ?, ?, ?)",
        (event.alert_id, event.event, event.severity, event.summary, _epoch(event.at)),
    )


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _epoch_or(at: datetime | None, default: float) -> float:
    return default if at is None else at.timestamp()


def _maybe_epoch(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def _maybe_time(value: float | None) -> datetime | None:
    return None if value is None else _time(value)
