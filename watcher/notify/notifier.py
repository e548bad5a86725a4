"""Escalation and the outbox's channels wired from the settings, for `once` and `run`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx

from checks.registry import Registry
from checks.sources.clock import Clock
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.alerting.runbook import Runbook
from watcher.checking.runner import CheckReport
from watcher.notify.channels import CHANNELS
from watcher.notify.channels import build as build_channels
from watcher.notify.delivery import Delivery, DeliveryReport, Failure
from watcher.notify.notices import Notice
from watcher.notify.slack_messages import Composer
from watcher.notify.transport import Channel, ChannelContext, Transport
from watcher.settings import Settings
from watcher.store.alerts import FIRING
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


class Notifier:
    """Decides alerts from reports, queues their notices for every channel, delivers the queue."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        clock: Clock,
        http: httpx.Client,
        metrics: Metrics | None = None,
        on_permanent_failure: Callable[[Failure], None] | None = None,
        checks: Registry | None = None,
        channels: Sequence[Channel] = CHANNELS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        policy = AlertPolicy(
            fire_after=settings.fire_after,
            resolve_after=settings.resolve_after,
            reminder_interval=timedelta(seconds=settings.reminder_interval),
            blind_after=settings.blind_after,
        )
        runbook = Runbook(checks or Registry.default())
        self.composer = Composer(settings.app, settings.slack_mention, runbook)
        context = ChannelContext(settings, http, clock, self.composer, metrics)
        self.transports = build_channels(channels, context)
        self.escalation = Escalation(
            store,
            policy,
            checks,
            self.route,
            incident_channels=[t.name for t in self.transports if t.shows_incidents],
        )
        self.delivery = Delivery(store, self.transports, clock, metrics, on_permanent_failure)

    def route(self, notice: Notice) -> list[str]:
        """The channels that are told of `notice`."""
        return [t.name for t in self.transports if t.wants(notice)]

    def transport(self, name: str) -> Transport | None:
        return next((t for t in self.transports if t.name == name), None)

    def observe(self, reports: list[CheckReport], at: datetime) -> None:
        """Decide and queue; delivery is separate, so a slow Slack never delays a check."""
        self.escalation.steer(at)
        self.escalation.observe(reports, at)
        self.escalation.remind(at)
        self._export(at)

    def deliver(
        self, budget: float | None = None, stop: threading.Event | None = None
    ) -> DeliveryReport:
        """Queue what `watcher ack` and `watcher snooze` imply, deliver what is due; then let
        each channel re-assert what its receiver forgets."""
        now = self._clock.now()
        self.escalation.steer(now)
        self._export(now)
        report = self.delivery.deliver(budget, stop)
        for transport in self.transports:
            transport.keep_alive(self._store)
        return report

    def _export(self, at: datetime) -> None:
        if self._metrics is not None:
            self._metrics.alerts(a.id for a in self._store.alerts.find([FIRING]))
            incident = self._store.incidents.open()
            self._metrics.steering(
                incident is not None,
                incident is not None and incident.acknowledged_by is not None,
                len(self._store.snoozes.active(at)),
            )
