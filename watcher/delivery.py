"""Delivers the outbox: every queued message reaches Slack, or fails loudly and is kept.

429 waits for Retry-After; 5xx, timeouts and network errors back off and retry for as long as
it takes; a message Slack refuses is sent again as plain text; a permanent error stops that
message, is logged, counted, reported, and makes the watcher's own health UNKNOWN.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from checks.clock import Clock
from watcher.slack import FIXES, REFUSED_MESSAGE, DeliveryError, fix_for
from watcher.slack_messages import plain
from watcher.state import QUEUED, SENT, OutboxItem, StateStore

log = logging.getLogger(__name__)

# Back-off after a transient failure: 1 s, 2 s, 4 s ... at most a minute between tries.
MAX_BACKOFF = 60.0
# Kept in the state store: the watcher's own health, until a later message gets through.
HEALTH_KEY = "slack_health"


class Transport(Protocol):
    channel_name: str

    def post(
        self, payload: dict[str, Any], thread: tuple[str, str] | None = None
    ) -> tuple[str, str]: ...

    def update(self, channel: str, ts: str, payload: dict[str, Any]) -> None: ...


class DeliveryMetrics(Protocol):
    def notification_sent(self, channel: str) -> None: ...

    def notification_failed(self, channel: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Failure:
    """A message that failed for good: why, and what fixes it."""

    reason: str
    fix: str


@dataclass
class DeliveryReport:
    """What one delivery pass did, and what is left."""

    sent: int = 0
    pending: int = 0
    failed: list[Failure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "pending": self.pending,
            "failed": [{"reason": f.reason, "fix": f.fix} for f in self.failed],
        }


class Delivery:
    """Sends due outbox messages in order; safe to call from several threads."""

    def __init__(
        self,
        store: StateStore,
        transport: Transport | None,
        clock: Clock,
        metrics: DeliveryMetrics | None = None,
        on_permanent_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._clock = clock
        self._metrics = metrics
        self._on_permanent_failure = on_permanent_failure
        self._lock = threading.Lock()
        self._paused_until: datetime | None = None

    def requeue_for_new_settings(self) -> int:
        """Messages that failed for a setting are tried again: a restart is how a fix arrives."""
        return self._store.requeue_failed(FIXES, self._clock.now())

    def deliver(
        self, budget: float | None = None, stop: threading.Event | None = None
    ) -> DeliveryReport:
        """Send what is due now; with a budget, stop after that many seconds."""
        report = DeliveryReport()
        # Another pass under way (the delivery thread, at shutdown) is waited for only as
        # long as the budget allows.
        if not self._lock.acquire(timeout=-1 if budget is None else budget):
            report.pending = self._store.outbox_counts().get(QUEUED, 0)
            return report
        try:
            deadline = None if budget is None else self._clock.monotonic() + budget
            while not (stop is not None and stop.is_set()):
                if deadline is not None and self._clock.monotonic() >= deadline:
                    break
                now = self._clock.now()
                if self._paused_until is not None and now < self._paused_until:
                    break
                item = self._next_deliverable(now)
                if item is None:
                    break
                self._deliver_one(item, now, report)
        finally:
            self._lock.release()
        report.pending = self._store.outbox_counts().get(QUEUED, 0)
        return report

    def health(self) -> Failure | None:
        """The last permanent failure, until a later message gets through."""
        value = self._store.watch_value(HEALTH_KEY)
        if value is None:
            return None
        data = json.loads(value)
        return Failure(str(data["reason"]), str(data["fix"]))

    def next_due(self) -> datetime | None:
        """When there is next something to try, for the delivery loop's sleep."""
        due = self._store.next_attempt()
        if due is not None and self._paused_until is not None:
            return max(due, self._paused_until)
        return due

    def _next_deliverable(self, now: datetime) -> OutboxItem | None:
        for item in self._store.due(now, limit=20):
            if item.parent_id is None:
                return item
            parent = self._store.message(item.parent_id)
            if parent is None or parent.status != QUEUED:
                return item
            # The thread's first message is not out yet: the reply follows it, never leads.
            self._store.mark_retry(
                item.id, max(parent.next_attempt_at, now), "waiting for the thread"
            )
        return None

    def _deliver_one(self, item: OutboxItem, now: datetime, report: DeliveryReport) -> None:
        if self._transport is None:
            self._fail(item, DeliveryError("not_configured", permanent=True), report)
            return
        try:
            done = self._send(item, item.payload)
        except DeliveryError as exc:
            if exc.reason in REFUSED_MESSAGE:
                try:
                    done = self._send(item, plain(item.payload))
                except DeliveryError as again:
                    if again.reason in REFUSED_MESSAGE:
                        # Refused even as short plain text: sending it again cannot help.
                        again = DeliveryError(again.reason, permanent=True)
                    self._failed_attempt(item, again, now, report)
                    return
            else:
                self._failed_attempt(item, exc, now, report)
                return
        except Exception as exc:
            # A failure nobody foresaw is still a retry with back-off, never a dead loop.
            log.exception("notification %s: unexpected failure", item.id)
            self._failed_attempt(item, DeliveryError(type(exc).__name__), now, report)
            return
        if done is None:
            self._store.mark_skipped(item.id, "the original message never reached Slack")
            return
        self._store.mark_sent(item.id, self._clock.now(), *done)
        report.sent += 1
        if self._metrics is not None:
            self._metrics.notification_sent(self._transport.channel_name)
        self._store.set_watch_value(HEALTH_KEY, None)

    def _send(self, item: OutboxItem, payload: dict[str, Any]) -> tuple[str, str] | None:
        assert self._transport is not None
        parent = None if item.parent_id is None else self._store.message(item.parent_id)
        parent_posted = parent is not None and parent.status == SENT and parent.posted_ts
        if item.kind == "update":
            if not parent_posted:
                return None  # nothing to edit: the original never reached Slack
            assert parent is not None and parent.posted_channel and parent.posted_ts
            self._transport.update(parent.posted_channel, parent.posted_ts, payload)
            return parent.posted_channel, parent.posted_ts
        if item.kind == "reply" and parent_posted:
            assert parent is not None and parent.posted_channel and parent.posted_ts
            return self._transport.post(payload, (parent.posted_channel, parent.posted_ts))
        # A post, or a reply whose thread failed: on its own, so it still reaches someone.
        return self._transport.post(payload)

    def _failed_attempt(
        self, item: OutboxItem, error: DeliveryError, now: datetime, report: DeliveryReport
    ) -> None:
        channel = self._transport.channel_name if self._transport else "slack"
        if self._metrics is not None:
            self._metrics.notification_failed(channel, error.reason)
        if error.permanent:
            self._fail(item, error, report)
            return
        if error.reason == "ratelimited":
            wait = error.retry_after if error.retry_after is not None else _backoff(item.attempts)
            # Slack limits the channel, not the message: everything waits.
            self._paused_until = now + timedelta(seconds=wait)
            retry_at = self._paused_until
        else:
            retry_at = now + timedelta(seconds=_backoff(item.attempts))
        log.warning(
            "notification %s to %s not sent (%s), attempt %d; next try at %s",
            item.id,
            channel,
            error.reason,
            item.attempts + 1,
            f"{retry_at:%H:%M:%S}Z",
        )
        self._store.mark_retry(item.id, retry_at, error.reason)

    def _fail(self, item: OutboxItem, error: DeliveryError, report: DeliveryReport) -> None:
        failure = Failure(error.reason, fix_for(error.reason))
        if error.reason == "not_configured" and self._metrics is not None:
            self._metrics.notification_failed("slack", error.reason)
        self._store.mark_failed(item.id, error.reason)
        self._store.set_watch_value(
            HEALTH_KEY, json.dumps({"reason": failure.reason, "fix": failure.fix})
        )
        report.failed.append(failure)
        log.error(
            "notification %s failed for good: %s; fix: %s", item.id, failure.reason, failure.fix
        )
        if self._on_permanent_failure is not None:
            self._on_permanent_failure(failure)


def _backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF, 2 ** min(attempts, 10)))
