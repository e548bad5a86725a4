"""The notification outbox: every notice is recorded here, in the same transaction as the
decision that made it, before any channel sends it; one row per channel."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.notify.notices import Notice
from watcher.store.columns import Repository, Transaction, epoch, time
from watcher.store.database import Execute, Row

# Outbox statuses; a skipped message had nothing left to do (an edit of a post that failed).
QUEUED, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"

# The channel's link to a delivered top-level post (Slack's chat.getPermalink), for the report.
SCHEMA = ("ALTER TABLE outbox ADD COLUMN permalink TEXT",)


@dataclass(frozen=True)
class Message:
    """A notification to queue: a new post, a reply in an alert's thread, or an edit of it."""

    kind: str  # "post" | "reply" | "update"
    notice: Notice
    channel: str = "slack"
    # For replies and updates: the post they belong to (default: the alert's thread).
    parent_id: int | None = None
    # Part of the open incident: its top-level post, or a reply in (an update of) that post.
    in_incident: bool = False


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
    # An earlier attempt may have reached its channel (its outcome is not known).
    in_flight: bool = False
    permalink: str | None = None

    @property
    def notice(self) -> Notice | None:
        """What to tell; None for a message queued before notices (its Slack payload is kept)."""
        data = self.payload.get("notice")
        return Notice.from_json(data) if isinstance(data, dict) else None


class Outbox(Repository):
    """Queued notices and what became of each; every method is one transaction."""

    def __init__(self, transaction: Transaction, postgres: bool) -> None:
        super().__init__(transaction)
        self._postgres = postgres

    def enqueue(self, messages: Sequence[Message], at: datetime) -> list[int]:
        """Queue messages that belong to no alert (timeline marks); returns their ids."""

        def work(execute: Execute) -> list[int]:
            return [insert_message(execute, m, at) for m in messages]

        return self._transaction(work)

    def due(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Queued messages whose next attempt is due, oldest first."""
        rows = self._query(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (QUEUED, epoch(now), limit),
        )
        return [_outbox(row) for row in rows]

    def next_attempt(self) -> datetime | None:
        """When the earliest queued message is next due, if any is queued."""
        rows = self._query("SELECT min(next_attempt_at) FROM outbox WHERE status = ?", (QUEUED,))
        return None if not rows or rows[0][0] is None else time(rows[0][0])

    def message(self, message_id: int) -> OutboxItem | None:
        rows = self._query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (message_id,))
        return None if not rows else _outbox(rows[0])

    def messages(self, status: str | None = None) -> list[OutboxItem]:
        """Every message (or those in one status), oldest first."""
        if status is None:
            rows = self._query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id")
        else:
            rows = self._query(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? ORDER BY id", (status,)
            )
        return [_outbox(row) for row in rows]

    def claim_next(
        self,
        now: datetime,
        lease_until: datetime,
        owner: str,
        skip_channels: Sequence[str] = (),
    ) -> OutboxItem | None:
        """Claim the oldest deliverable message until `lease_until`; None if there is none.

        Held by one process at a time (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite);
        a claim whose holder died expires. A reply whose thread's first message is still
        queued waits for it, so it never leads. Channels in `skip_channels` (rate limited)
        are passed over.
        """
        # Rows another process holds are passed over, not waited for.
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._postgres else ""
        skipped = "".join(" AND channel != ?" for _ in skip_channels)

        def work(execute: Execute) -> OutboxItem | None:
            rows = execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = ? AND next_attempt_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ? OR claimed_by = ?)"
                f"{skipped} ORDER BY id LIMIT 20{skip_locked}",
                (QUEUED, epoch(now), epoch(now), owner, *skip_channels),
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
                                max(float(parent[0][1]), epoch(now)),
                                "waiting for the thread",
                                item.id,
                            ),
                        )
                        continue
                execute(
                    "UPDATE outbox SET claimed_until = ?, claimed_by = ?, in_flight = 1"
                    " WHERE id = ?",
                    (epoch(lease_until), owner, item.id),
                )
                return item
            return None

        return self._transaction(work)

    def posted_channel(self, channel: str = "slack") -> str | None:
        """Where the channel put the latest message sent (Slack's channel id, for look-ups)."""
        rows = self._query(
            "SELECT posted_channel FROM outbox WHERE status = ? AND channel = ?"
            " AND posted_channel IS NOT NULL ORDER BY id DESC LIMIT 1",
            (SENT, channel),
        )
        return None if not rows else str(rows[0][0])

    def set_sent(self, message_id: int, at: datetime, channel: str, ts: str) -> None:
        self._query(
            "UPDATE outbox SET status = ?, sent_at = ?, posted_channel = ?, posted_ts = ?,"
            f" attempts = attempts + 1, last_error = NULL, {_RELEASE} WHERE id = ?",
            (SENT, epoch(at), channel, ts, message_id),
        )

    def keep_permalink(self, message_id: int, permalink: str) -> None:
        """The channel's link to a delivered post, for the report."""
        self._query("UPDATE outbox SET permalink = ? WHERE id = ?", (permalink, message_id))

    def set_retry(
        self, message_id: int, next_attempt_at: datetime, error: str, uncertain: bool = False
    ) -> None:
        """Try again at `next_attempt_at`; `uncertain`: the attempt may have reached it."""
        self._query(
            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, last_error = ?,"
            " claimed_until = NULL, claimed_by = NULL, in_flight = ? WHERE id = ?",
            (epoch(next_attempt_at), error, int(uncertain), message_id),
        )

    def set_failed(self, message_id: int, reason: str) -> None:
        self._query(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?,"
            f" {_RELEASE} WHERE id = ?",
            (FAILED, reason, message_id),
        )

    def set_skipped(self, message_id: int, reason: str) -> None:
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
                (QUEUED, epoch(at), FAILED, *wanted),
            )
            return len(rows)

        return self._transaction(work)

    def counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        rows = self._query("SELECT status, count(*) FROM outbox GROUP BY status")
        return {str(status): int(count) for status, count in rows}


_OUTBOX_COLUMNS = (
    "id, channel, kind, alert_id, parent_id, payload, status, attempts, next_attempt_at,"
    " last_error, posted_channel, posted_ts, in_flight, permalink"
)
# A message done with (sent, failed, skipped) is nobody's any more.
_RELEASE = "claimed_until = NULL, claimed_by = NULL, in_flight = 0"


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
        next_attempt_at=time(row[8]),
        last_error=row[9],
        posted_channel=row[10],
        posted_ts=row[11],
        in_flight=bool(row[12]),
        permalink=row[13],
    )


def insert_message(
    execute: Execute,
    message: Message,
    at: datetime,
    alert_id: str | None = None,
    parent_id: int | None = None,
) -> int:
    """Queue one message in the caller's transaction; returns its id."""
    (new_id,) = execute(
        "INSERT INTO outbox (channel, kind, alert_id, parent_id, payload, status, created_at,"
        " next_attempt_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
        (
            message.channel,
            message.kind,
            alert_id,
            message.parent_id if parent_id is None else parent_id,
            _body(message),
            QUEUED,
            epoch(at),
            epoch(at),
        ),
    )[0]
    return int(new_id)


def _body(message: Message) -> str:
    return json.dumps({"notice": message.notice.to_json()})
