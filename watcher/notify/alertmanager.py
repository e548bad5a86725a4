"""Optional: every alert also goes to an Alertmanager (`POST /api/v2/alerts`): a channel.

A fired or resolved alert is queued for this channel like any notice; sending one posts every
firing alert and every resolution Alertmanager has not taken, so it always has the whole
picture. Alertmanager forgets an alert that is not sent again before its `endsAt`, so firing
alerts are also re-sent every minute (`keep_alive`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx

from checks.sources.clock import Clock
from watcher.alerting.runbook import Runbook
from watcher.notify.delivery import DeliveryMetrics
from watcher.notify.notices import Notice, NoticeKind
from watcher.notify.transport import Channel, ChannelContext, HttpTransport, Landed, TransportError
from watcher.store.alerts import AlertRecord
from watcher.store.outbox import OutboxItem
from watcher.store.state import StateStore

log = logging.getLogger(__name__)

NAME = "alertmanager"
# How long a firing alert stays active in Alertmanager without being re-sent: long enough to
# outlast a cycle, short enough that a watcher that died does not leave it firing all day.
DEFAULT_HOLD = timedelta(minutes=20)


# Firing alerts are sent to Alertmanager again this often (it forgets them after `endsAt`).
RESEND_SECONDS = 60.0
# The alerts Alertmanager hears of: paging and warning ones, never "the watch is blind"; and
# an incident's acknowledgement (the `acknowledged` label). Snoozed findings fire no alert:
# they are never sent.
_TOLD = (NoticeKind.FIRED, NoticeKind.RESOLVED_ORIGINAL, NoticeKind.ACKNOWLEDGED)


class Alertmanager(HttpTransport):
    """Sends the state store's alerts to one Alertmanager."""

    name = NAME

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        app: str,
        clock: Clock,
        metrics: DeliveryMetrics | None = None,
        hold: timedelta = DEFAULT_HOLD,
        timeout: float = 10.0,
        runbook: Runbook | None = None,
    ) -> None:
        super().__init__(http, timeout)
        self._endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._app = app
        self._clock = clock
        self._metrics = metrics
        self._hold = hold
        self._runbook = runbook or Runbook()
        self._next_resend = 0.0

    def wants(self, notice: Notice) -> bool:
        return notice.kind in _TOLD and notice.severity in ("CRITICAL", "WARNING")

    def send(self, item: OutboxItem, parent: OutboxItem | None, store: StateStore) -> Landed:
        """Bring Alertmanager up to date with the store's alerts (what this row announced too).

        Every failure is retried: an Alertmanager that refuses today may take it tomorrow,
        and Slack, not Alertmanager, is the channel whose loss makes the watch UNKNOWN.
        """
        try:
            notice = item.notice
            if notice is not None and notice.rehearsal:
                self._post_rehearsal(notice)
            else:
                self._post_pending(store)
        except TransportError as exc:
            raise TransportError(exc.reason, retry_after=exc.retry_after) from None
        self._next_resend = self._clock.monotonic() + RESEND_SECONDS
        return NAME, ""

    def keep_alive(self, store: StateStore) -> None:
        """Re-send what fires before Alertmanager forgets it; failures are counted and retried."""
        if self._clock.monotonic() < self._next_resend:
            return
        self._next_resend = self._clock.monotonic() + RESEND_SECONDS
        self.sync(store)

    def sync(self, store: StateStore) -> str | None:
        """Send firing alerts and unsent resolutions; returns the failure reason, if any."""
        try:
            sent = self._post_pending(store)
        except TransportError as exc:
            log.warning("alertmanager: alerts not sent (%s); sent again next pass", exc.reason)
            if self._metrics is not None:
                self._metrics.notification_failed(NAME, exc.reason)
            return exc.reason
        if sent and self._metrics is not None:
            self._metrics.notification_sent(NAME)
        return None

    def _post_pending(self, store: StateStore) -> bool:
        """POST what Alertmanager must hear of; False when there was nothing."""
        alerts = store.alerts.alertmanager_pending()
        if not alerts:
            return False
        now = self._clock.now()
        incident = store.incidents.open()
        acknowledged = (
            {m.alert_id for m in incident.firing}
            if incident is not None and incident.acknowledged_by is not None
            else set()
        )
        body = [self._alert(a, now, a.id in acknowledged) for a in alerts]
        # Labels are an alert's identity: the one without `acknowledged` ends now, or it
        # would stay active beside the acknowledged one until its hold ran out.
        body += [
            {**self._alert(a, now, False), "endsAt": _iso(now)}
            for a in alerts
            if a.id in acknowledged and a.status == "firing"
        ]
        try:
            self.post_json(self._endpoint, body)
        except TransportError as exc:
            if exc.reason != "ratelimited":
                raise
            # Counted by its status, as every other answer of Alertmanager's is.
            raise TransportError("http_429", retry_after=exc.retry_after) from None
        resolved = {
            a.id: a.resolved_at
            for a in alerts
            if a.resolved_at is not None and not a.alertmanager_done
        }
        store.alerts.alertmanager_done(list(resolved), resolved)
        return True

    def _post_rehearsal(self, notice: Notice) -> None:
        """A `watcher rehearse` alert, labelled `rehearsal="true"`: never one of the store's."""
        now = self._clock.now()
        resolved = notice.kind is NoticeKind.RESOLVED_ORIGINAL
        alert = {
            "labels": {
                "alertname": notice.alert_id,
                "check": notice.check,
                "severity": notice.severity.lower(),
                "app": self._app,
                "rehearsal": "true",
            },
            "annotations": {
                "summary": f"REHEARSAL (watcher rehearse): {notice.summary}"[:1000],
            },
            "startsAt": _iso(notice.since or now),
            "endsAt": _iso(notice.at or now) if resolved else _iso(now + self._hold),
        }
        try:
            self.post_json(self._endpoint, [alert])
        except TransportError as exc:
            if exc.reason != "ratelimited":
                raise
            raise TransportError("http_429", retry_after=exc.retry_after) from None

    def _alert(self, alert: AlertRecord, now: datetime, acknowledged: bool) -> dict[str, Any]:
        tips = self._runbook.advice(alert.id)
        resolved = alert.status == "resolved" and alert.resolved_at is not None
        ends = alert.resolved_at if resolved and alert.resolved_at else now + self._hold
        labels = {
            "alertname": alert.id,
            "check": alert.check,
            "severity": alert.severity.lower(),
            "app": self._app,
        }
        if acknowledged:
            # Someone has it (`watcher ack`): routes and inhibitions can tell.
            labels["acknowledged"] = "true"
        return {
            "labels": labels,
            "annotations": {
                "summary": alert.summary[:1000],
                "sop": f"RM-10 {tips.sop}: {tips.next_step}",
            },
            "startsAt": _iso(alert.fired_at or alert.first_seen),
            "endsAt": _iso(ends),
        }


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(context: ChannelContext) -> Alertmanager | None:
    """Only with WATCHER_ALERTMANAGER_URL."""
    settings = context.settings
    if settings.alertmanager_url is None:
        return None
    return Alertmanager(
        context.http,
        settings.alertmanager_url,
        settings.app,
        context.clock,
        context.metrics,
        timeout=settings.check_timeout,
        runbook=context.composer.runbook,
    )


CHANNEL = Channel(NAME, build)
