"""Optional: every alert also goes to an Alertmanager (`POST /api/v2/alerts`).

Alertmanager forgets an alert that is not sent again before its `endsAt`, so firing alerts are
re-sent on every pass; a resolution is sent with `endsAt` until Alertmanager has taken it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx

from checks.clock import Clock
from watcher.delivery import DeliveryMetrics
from watcher.runbook import Runbook
from watcher.state import AlertRecord, StateStore

log = logging.getLogger(__name__)

CHANNEL = "alertmanager"
# How long a firing alert stays active in Alertmanager without being re-sent: long enough to
# outlast a cycle, short enough that a watcher that died does not leave it firing all day.
DEFAULT_HOLD = timedelta(minutes=20)


class Alertmanager:
    """Sends the state store's alerts to one Alertmanager."""

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
        self._http = http
        self._endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._app = app
        self._clock = clock
        self._metrics = metrics
        self._hold = hold
        self._timeout = timeout
        self._runbook = runbook or Runbook()

    def sync(self, store: StateStore) -> str | None:
        """Send firing alerts and unsent resolutions; returns the failure reason, if any."""
        alerts = store.alertmanager_pending()
        if not alerts:
            return None
        now = self._clock.now()
        body = [self._alert(a, now) for a in alerts]
        reason = self._post(body)
        if reason is not None:
            log.warning(
                "alertmanager: %d alert(s) not sent (%s); sent again next pass", len(body), reason
            )
            if self._metrics is not None:
                self._metrics.notification_failed(CHANNEL, reason)
            return reason
        if self._metrics is not None:
            self._metrics.notification_sent(CHANNEL)
        resolved = {
            a.id: a.resolved_at
            for a in alerts
            if a.resolved_at is not None and not a.alertmanager_done
        }
        store.alertmanager_done(list(resolved), resolved)
        return None

    def _alert(self, alert: AlertRecord, now: datetime) -> dict[str, Any]:
        tips = self._runbook.advice(alert.id)
        resolved = alert.status == "resolved" and alert.resolved_at is not None
        ends = alert.resolved_at if resolved and alert.resolved_at else now + self._hold
        return {
            "labels": {
                "alertname": alert.id,
                "check": alert.check,
                "severity": alert.severity.lower(),
                "app": self._app,
            },
            "annotations": {
                "summary": alert.summary[:1000],
                "sop": f"RM-10 {tips.sop}: {tips.next_step}",
            },
            "startsAt": _iso(alert.fired_at or alert.first_seen),
            "endsAt": _iso(ends),
        }

    def _post(self, body: list[dict[str, Any]]) -> str | None:
        try:
            response = self._http.post(self._endpoint, json=body, timeout=self._timeout)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "network"
        if response.status_code >= 300:
            return f"http_{response.status_code}"
        return None


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
