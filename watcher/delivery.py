"""Delivers the outbox: every queued message reaches Slack, or fails loudly and is kept.

429 waits for Retry-After; 5xx, timeouts and network errors back off and retry for as long as
it takes; a message Slack refuses is sent again as plain text; a permanent error stops that
message, is logged, counted, reported, and makes the watcher's own health UNKNOWN.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from checks.clock import Clock
from watcher.slack import (
    FIXES,
    LOOKUP_SCOPES,
    REFUSED_MESSAGE,
    DeliveryError,
    LookupUnavailable,
    Tag,
    fix_for,
)
from watcher.slack_messages import plain
from watcher.state import QUEUED, SENT, OutboxItem, StateStore, StateStoreError

log = logging.getLogger(__name__)

# Back-off after a transient failure: 1 s, 2 s, 4 s ... at most a minute between tries.
MAX_BACKOFF = 60.0
# Kept in the state store: the watcher's own health, until a later message gets through.
HEALTH_KEY = "slack_health"
# Identifies this store's messages in Slack (message metadata), apart from another watch's.
STORE_KEY = "outbox_store_id"
# A claimed message is this process's for this long: far beyond a send (WATCHER_SLACK_TIMEOUT,
# at most 120 s) and a look-up; a claim whose holder died (kill -9) expires, and the message
# is taken over (the same process takes its own claims back at once).
LEASE_SECONDS = 300.0


class Transport(Protocol):
    channel_name: str

    def post(
        self,
        payload: dict[str, Any],
        thread: tuple[str, str] | None = None,
        tag: Tag | None = None,
    ) -> tuple[str, str]: ...

    def update(self, channel: str, ts: str, payload: dict[str, Any]) -> None: ...

    def find(
        self,
        tag: Tag,
        thread: tuple[str, str] | None = None,
        channel_id: str | None = None,
    ) -> tuple[str, str] | None: ...


class DeliveryMetrics(Protocol):
    def notification_sent(self, channel: str) -> None: ...

    def notification_failed(self, channel: str, reason: str) -> None: ...

    def notification_failed_for_good(self, channel: str, reason: str) -> None: ...

    def notifications_pending(self, pending: int) -> None: ...


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
        # This process's name on the claims it holds.
        self._owner = uuid.uuid4().hex
        self._store_id: str | None = None
        self._lookup_warned = False
        # The watcher's own health is read from memory: it must be known while the store is
        # down. Loaded from the store once (a failure kept by the last run).
        self._health: Failure | None = None
        self._health_loaded = False

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
                    # Slack asked for a pause (429 Retry-After): a run with a budget waits it
                    # out when it ends within the budget, rather than leaving a page pending
                    # until the next run (15 minutes from cron for one second asked).
                    if not self._wait_out_pause(now, deadline, stop):
                        break
                    continue
                item = self._next_deliverable(now)
                if item is None:
                    break
                self._deliver_one(item, now, report)
        finally:
            self._lock.release()
        report.pending = self._store.outbox_counts().get(QUEUED, 0)
        if self._metrics is not None:
            self._metrics.notifications_pending(report.pending)
        return report

    def _wait_out_pause(
        self, now: datetime, deadline: float | None, stop: threading.Event | None
    ) -> bool:
        """Wait until the pause ends if that fits the budget; False if it does not (or stopped)."""
        assert self._paused_until is not None
        wait = (self._paused_until - now).total_seconds()
        if deadline is None or self._clock.monotonic() + wait >= deadline:
            return False
        log.info("Slack asked to wait %.1f s; waiting within this run's budget", wait)
        if stop is not None:
            return not self._clock.wait(stop, wait)
        self._clock.sleep(wait)
        return True

    def health(self) -> Failure | None:
        """The last permanent failure, until a later message gets through (never raises)."""
        if not self._health_loaded:
            try:
                value = self._store.watch_value(HEALTH_KEY)
            except StateStoreError:
                return self._health
            self._health_loaded = True
            if value is not None and self._health is None:
                data = json.loads(value)
                self._health = Failure(str(data["reason"]), str(data["fix"]))
        return self._health

    def next_due(self) -> datetime | None:
        """When there is next something to try, for the delivery loop's sleep."""
        due = self._store.next_attempt()
        if due is not None and self._paused_until is not None:
            return max(due, self._paused_until)
        return due

    def _next_deliverable(self, now: datetime) -> OutboxItem | None:
        # Claimed, so that another watcher on the same store never sends it too.
        lease = now + timedelta(seconds=LEASE_SECONDS)
        return self._store.claim_next(now, lease, self._owner)

    def _tag(self, item: OutboxItem) -> Tag:
        if self._store_id is None:
            self._store_id = self._store.keep_watch_value(STORE_KEY, uuid.uuid4().hex[:16])
        return Tag(item.id, self._store_id)

    def _already_posted(self, tag: Tag, thread: tuple[str, str] | None) -> tuple[str, str] | None:
        """Look for a post whose earlier attempt may have reached Slack; None: post it."""
        assert self._transport is not None
        try:
            return self._transport.find(tag, thread, channel_id=self._store.posted_channel())
        except DeliveryError as exc:
            # The look-up failed (a 503, a timeout): the post's outcome is still unknown.
            raise replace(exc, maybe_sent=True) from None
        except LookupUnavailable as exc:
            if not self._lookup_warned:
                self._lookup_warned = True
                log.warning(
                    "cannot look in Slack for messages whose send timed out (%s): they are"
                    " sent again, and may show twice; the token needs %s",
                    exc,
                    LOOKUP_SCOPES,
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
        if self._health is not None or not self._health_loaded:
            self._store.set_watch_value(HEALTH_KEY, None)
            self._health, self._health_loaded = None, True

    def _send(self, item: OutboxItem, payload: dict[str, Any]) -> tuple[str, str] | None:
        assert self._transport is not None
        parent = None if item.parent_id is None else self._store.message(item.parent_id)
        parent_posted = parent is not None and parent.status == SENT and parent.posted_ts
        if item.kind == "update":
            if not parent_posted:
                return None  # nothing to edit: the original never reached Slack
            assert parent is not None and parent.posted_channel and parent.posted_ts
            # An edit sent twice shows once: no need to look first.
            self._transport.update(parent.posted_channel, parent.posted_ts, payload)
            return parent.posted_channel, parent.posted_ts
        thread = None
        if item.kind == "reply" and parent_posted:
            assert parent is not None and parent.posted_channel and parent.posted_ts
            thread = (parent.posted_channel, parent.posted_ts)
        # A post, or a reply whose thread failed: on its own, so it still reaches someone.
        tag = self._tag(item)
        if item.in_flight:
            # An earlier attempt may have reached Slack: post only if it is not there.
            found = self._already_posted(tag, thread)
            if found is not None:
                log.info(
                    "notification %s was posted by an earlier attempt; not posting again",
                    item.id,
                )
                return found
        return self._transport.post(payload, thread, tag)

    def _failed_attempt(
        self, item: OutboxItem, error: DeliveryError, now: datetime, report: DeliveryReport
    ) -> None:
        channel = self._transport.channel_name if self._transport else "slack"
        if self._metrics is not None:
            self._metrics.notification_failed(channel, error.reason)
        if error.permanent:
            self._fail(item, error, report)
            return
        # Back-off runs from the end of the attempt: a timeout is not followed by a retry at once.
        now = max(now, self._clock.now())
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
        self._store.mark_retry(item.id, retry_at, error.reason, uncertain=error.maybe_sent)

    def _fail(self, item: OutboxItem, error: DeliveryError, report: DeliveryReport) -> None:
        failure = Failure(error.reason, fix_for(error.reason))
        channel = self._transport.channel_name if self._transport else "slack"
        if self._metrics is not None:
            if error.reason == "not_configured":
                self._metrics.notification_failed(channel, error.reason)
            self._metrics.notification_failed_for_good(channel, error.reason)
        self._health, self._health_loaded = failure, True
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
