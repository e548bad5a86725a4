"""Delivers the outbox: every queued message reaches its channel, or fails loudly and is kept.

Each row goes to the transport of its channel (`watcher/transport.py`). 429 waits for
Retry-After (the whole channel waits); 5xx, timeouts and network errors back off and retry for
as long as it takes; a permanent error stops that message, is logged, counted, reported, and
makes the watcher's own health UNKNOWN. A row is claimed (a lease) before it is sent, so any
number of processes share one outbox and each message goes out once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from checks.sources.clock import Clock
from watcher.notify.transport import SKIPPED, Transport, TransportError
from watcher.store.outbox import QUEUED, OutboxItem
from watcher.store.state import StateStore, StateStoreError
from watcher.store.watch_facts import DeliveryFailure

log = logging.getLogger(__name__)

# Back-off after a transient failure: 1 s, 2 s, 4 s ... at most a minute between tries.
MAX_BACKOFF = 60.0
# A claimed message is this process's for this long: far beyond a send (WATCHER_SLACK_TIMEOUT,
# at most 120 s) and a look-up; a claim whose holder died (kill -9) expires, and the message
# is taken over (the same process takes its own claims back at once).
LEASE_SECONDS = 300.0
# A row whose channel is not configured (its transport was not built).
NOT_CONFIGURED = "not_configured"


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
    """Sends due outbox messages in order, each by its channel; safe to call from threads."""

    def __init__(
        self,
        store: StateStore,
        transports: Sequence[Transport],
        clock: Clock,
        metrics: DeliveryMetrics | None = None,
        on_permanent_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        self._store = store
        self._transports = {t.name: t for t in transports}
        self._clock = clock
        self._metrics = metrics
        self._on_permanent_failure = on_permanent_failure
        self._lock = threading.Lock()
        # A rate limit holds its channel (Slack limits the channel, not the message).
        self._paused_until: dict[str, datetime] = {}
        # This process's name on the claims it holds.
        self._owner = uuid.uuid4().hex
        # The watcher's own health is read from memory: it must be known while the store is
        # down. Loaded from the store once (a failure kept by the last run).
        self._health: Failure | None = None
        self._health_loaded = False

    def requeue_for_new_settings(self) -> int:
        """Messages that failed for a setting are tried again: a restart is how a fix arrives."""
        fixable = {reason for t in self._transports.values() for reason in t.fixable}
        return self._store.outbox.requeue_failed(fixable | {NOT_CONFIGURED}, self._clock.now())

    def deliver(
        self, budget: float | None = None, stop: threading.Event | None = None
    ) -> DeliveryReport:
        """Send what is due now; with a budget, stop after that many seconds."""
        report = DeliveryReport()
        # Another pass under way (the delivery thread, at shutdown) is waited for only as
        # long as the budget allows.
        if not self._lock.acquire(timeout=-1 if budget is None else budget):
            report.pending = self._store.outbox.counts().get(QUEUED, 0)
            return report
        try:
            deadline = None if budget is None else self._clock.monotonic() + budget
            while not (stop is not None and stop.is_set()):
                if deadline is not None and self._clock.monotonic() >= deadline:
                    break
                now = self._clock.now()
                item = self._next_deliverable(now)
                if item is None:
                    # A channel asked for a pause (429 Retry-After): a run with a budget waits
                    # it out when it ends within the budget, rather than leaving a page pending
                    # until the next run (15 minutes from cron for one second asked).
                    if not self._wait_out_pause(now, deadline, stop):
                        break
                    continue
                self._deliver_one(item, now, report)
        finally:
            self._lock.release()
        report.pending = self._store.outbox.counts().get(QUEUED, 0)
        if self._metrics is not None:
            self._metrics.notifications_pending(report.pending)
        return report

    def _wait_out_pause(
        self, now: datetime, deadline: float | None, stop: threading.Event | None
    ) -> bool:
        """Wait until a pause ends if that fits the budget; False if it does not (or stopped)."""
        pauses = [until for until in self._paused_until.values() if now < until]
        if not pauses or self._store.outbox.next_attempt() is None:
            return False
        wait = (min(pauses) - now).total_seconds()
        if deadline is None or self._clock.monotonic() + wait >= deadline:
            return False
        log.info("a channel asked to wait %.1f s; waiting within this run's budget", wait)
        if stop is not None:
            return not self._clock.wait(stop, wait)
        self._clock.sleep(wait)
        return True

    def health(self) -> Failure | None:
        """The last permanent failure, until a later message gets through (never raises)."""
        if not self._health_loaded:
            try:
                kept = self._store.facts.delivery_failure()
            except StateStoreError:
                return self._health
            self._health_loaded = True
            if kept is not None and self._health is None:
                self._health = Failure(kept.reason, kept.fix)
        return self._health

    def next_due(self) -> datetime | None:
        """When there is next something to try, for the delivery loop's sleep."""
        due = self._store.outbox.next_attempt()
        if due is not None and self._paused_until:
            return max(due, min(self._paused_until.values()))
        return due

    def _next_deliverable(self, now: datetime) -> OutboxItem | None:
        # Claimed, so that another watcher on the same store never sends it too.
        lease = now + timedelta(seconds=LEASE_SECONDS)
        paused = [channel for channel, until in self._paused_until.items() if now < until]
        return self._store.outbox.claim_next(now, lease, self._owner, paused)

    def _deliver_one(self, item: OutboxItem, now: datetime, report: DeliveryReport) -> None:
        transport = self._transports.get(item.channel)
        try:
            if transport is None:
                raise TransportError(NOT_CONFIGURED, permanent=True)
            parent = None
            if item.parent_id is not None:
                parent = self._store.outbox.message(item.parent_id)
            landed = transport.send(item, parent, self._store)
        except TransportError as exc:
            self._failed_attempt(item, exc, now, report)
            return
        except Exception as exc:
            # A failure nobody foresaw is still a retry with back-off, never a dead loop.
            log.exception("notification %s: unexpected failure", item.id)
            self._failed_attempt(item, TransportError(type(exc).__name__), now, report)
            return
        if landed == SKIPPED:
            never = "the original message never reached its channel"
            self._store.outbox.set_skipped(item.id, never)
            return
        self._store.outbox.set_sent(item.id, self._clock.now(), *landed)
        assert transport is not None  # a missing channel raised above
        transport.after_sent(item, landed, self._store)
        report.sent += 1
        log.info("message delivered", extra={"fields": _fields(item)})
        if self._metrics is not None:
            self._metrics.notification_sent(item.channel)
        if self._health is not None or not self._health_loaded:
            self._store.facts.keep_delivery_failure(None)
            self._health, self._health_loaded = None, True

    def _failed_attempt(
        self, item: OutboxItem, error: TransportError, now: datetime, report: DeliveryReport
    ) -> None:
        channel = item.channel
        if self._metrics is not None:
            self._metrics.notification_failed(channel, error.reason)
        if error.permanent:
            self._fail(item, error, report)
            return
        # Back-off runs from the end of the attempt: a timeout is not followed by a retry at once.
        now = max(now, self._clock.now())
        if error.reason == "ratelimited":
            wait = error.retry_after if error.retry_after is not None else _backoff(item.attempts)
            retry_at = now + timedelta(seconds=wait)
            self._paused_until[channel] = retry_at
        else:
            retry_at = now + timedelta(seconds=_backoff(item.attempts))
        log.warning(
            "message not delivered; retrying",
            extra={
                "fields": {
                    **_fields(item),
                    "reason": error.reason,
                    "retry_at": f"{retry_at:%H:%M:%S}Z",
                }
            },
        )
        self._store.outbox.set_retry(item.id, retry_at, error.reason, uncertain=error.maybe_sent)

    def _fail(self, item: OutboxItem, error: TransportError, report: DeliveryReport) -> None:
        transport = self._transports.get(item.channel)
        if transport is not None:
            fix = transport.fix_for(error.reason)
        else:
            fix = f"configure the {item.channel} channel, or its messages reach no one"
        failure = Failure(error.reason, fix)
        if self._metrics is not None:
            # Counted apart from failed attempts: this message reached no one.
            self._metrics.notification_failed_for_good(item.channel, error.reason)
        self._health, self._health_loaded = failure, True
        self._store.outbox.set_failed(item.id, error.reason)
        self._store.facts.keep_delivery_failure(DeliveryFailure(failure.reason, failure.fix))
        report.failed.append(failure)
        log.error(
            "message failed for good",
            extra={"fields": {**_fields(item), "reason": failure.reason, "fix": failure.fix}},
        )
        if self._on_permanent_failure is not None:
            self._on_permanent_failure(failure)


def _fields(item: OutboxItem) -> dict[str, object]:
    """What a log line says about a message: never its text (it may quote a log line)."""
    return {
        "channel": item.channel,
        "kind": item.kind,
        "alert": item.alert_id,
        "attempt": item.attempts + 1,
        "message": item.id,
    }


def _backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF, 2 ** min(attempts, 10)))
