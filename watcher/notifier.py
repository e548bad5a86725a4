"""Escalation, Slack delivery and Alertmanager wired from the settings, for `once` and `run`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from checks.clock import Clock
from checks.registry import Registry
from watcher.alertmanager import Alertmanager
from watcher.alerts import AlertPolicy, Escalation
from watcher.delivery import Delivery, DeliveryReport, Failure
from watcher.metrics import Metrics
from watcher.runbook import Runbook
from watcher.runner import CheckReport
from watcher.settings import Settings
from watcher.slack import SlackTransport
from watcher.slack_messages import Composer
from watcher.state import FIRING, StateStore

log = logging.getLogger(__name__)

# Firing alerts are sent to Alertmanager again this often (it forgets them after `endsAt`).
ALERTMANAGER_RESEND_SECONDS = 60.0


class Notifier:
    """Decides alerts from reports, queues their messages and delivers the queue."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        clock: Clock,
        http: httpx.Client,
        metrics: Metrics | None = None,
        on_permanent_failure: Callable[[Failure], None] | None = None,
        checks: Registry | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._alertmanager_due = True
        self._alertmanager_next = 0.0
        policy = AlertPolicy(
            fire_after=settings.fire_after,
            resolve_after=settings.resolve_after,
            reminder_interval=timedelta(seconds=settings.reminder_interval),
            blind_after=settings.blind_after,
        )
        runbook = Runbook(checks or Registry.default())
        self.composer = Composer(settings.app, settings.slack_mention, runbook)
        self.escalation = Escalation(store, policy, self.composer)
        transport = None
        if settings.slack_bot_token is not None:
            transport = SlackTransport(
                settings.slack_bot_token.get_secret_value(),
                settings.slack_api_url,
                settings.slack_channel,
                # Slack's latency, not the checks' timeout: a post that Slack is slow to
                # answer is usually posted, and a timeout leaves its outcome unknown.
                timeout=settings.slack_timeout,
            )
        self.delivery = Delivery(store, transport, clock, metrics, on_permanent_failure)
        self.alertmanager = (
            None
            if settings.alertmanager_url is None
            else Alertmanager(
                http,
                settings.alertmanager_url,
                settings.app,
                clock,
                metrics,
                timeout=settings.check_timeout,
                runbook=runbook,
            )
        )

    def observe(self, reports: list[CheckReport], at: datetime) -> None:
        """Decide and queue; delivery is separate, so a slow Slack never delays a check."""
        self.escalation.observe(reports, at)
        self.escalation.remind(at)
        self._alertmanager_due = True
        self._export()

    def deliver(
        self, budget: float | None = None, stop: threading.Event | None = None
    ) -> DeliveryReport:
        """Deliver what is due, and bring Alertmanager up to date after news or a while."""
        report = self.delivery.deliver(budget, stop)
        if self.alertmanager is not None and (
            self._alertmanager_due or self._clock.monotonic() >= self._alertmanager_next
        ):
            failed = self.alertmanager.sync(self._store)
            self._alertmanager_due = failed is not None
            self._alertmanager_next = self._clock.monotonic() + ALERTMANAGER_RESEND_SECONDS
        return report

    def _export(self) -> None:
        if self._metrics is not None:
            self._metrics.alerts(a.id for a in self._store.alerts([FIRING]))
