"""Alerts in a real Alertmanager: visible while firing, gone after the resolution."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes.http import FakeServer, Reply, json_reply
from tests.support.alertmanager import Alertmanager as RealAlertmanager
from tests.support.clock import CUTOVER, FakeClock
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.checking.runner import CheckReport
from watcher.notify.alertmanager import Alertmanager
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics


def grants(*findings: Finding) -> CheckReport:
    return CheckReport("grants", "4.6", Result.from_findings(findings, "ok"), 0.1)


def test_an_alert_is_in_alertmanager_while_firing_and_gone_after_resolve(
    tmp_path: Path, alertmanager: RealAlertmanager, http: httpx.Client
) -> None:
    # The session's Alertmanager is shared: this test's alerts carry their own app label.
    app = f"raxx-{uuid.uuid4().hex[:8]}"
    # Alertmanager compares endsAt with its own clock: this watch started 10 minutes ago.
    clock = FakeClock(datetime.now(UTC) - timedelta(minutes=10))
    store = StateStore.sqlite(str(tmp_path / "s.db"))
    escalation = Escalation(store, AlertPolicy())
    sync = Alertmanager(http, alertmanager.url, app, clock)
    drift = Finding("grants.table_privileges", State.CRITICAL, "raptor_app lacks INSERT on users")

    escalation.observe([grants(drift)], clock.now())
    assert sync.sync(store) is None
    (alert,) = alertmanager.alerts(app=app)
    assert alert["labels"] == {
        "alertname": "grants.table_privileges",
        "check": "grants",
        "severity": "critical",
        "app": app,
    }
    assert alert["annotations"]["summary"] == drift.summary
    assert alert["annotations"]["sop"].startswith("RM-10 4.6, 7.3: grant drift")

    for _ in range(2):
        clock.advance(60)
        escalation.observe([grants()], clock.now())
    assert sync.sync(store) is None
    assert alertmanager.alerts(app=app) == []
    assert store.alerts.alertmanager_pending() == []


def test_a_failed_send_is_counted_and_sent_again(tmp_path: Path, http: httpx.Client) -> None:
    clock = FakeClock()
    store = StateStore.sqlite(str(tmp_path / "s.db"))
    Escalation(store, AlertPolicy()).observe(
        [grants(Finding("grants.role_missing", State.CRITICAL, "role raptor_app is gone"))],
        clock.now(),
    )
    registry = CollectorRegistry()
    answers = [Reply(503, "busy"), json_reply({})]
    with FakeServer(lambda request: answers.pop(0)) as server:
        sync = Alertmanager(http, server.url, "raxx-api-prod", clock, Metrics(registry, "t"))
        assert sync.sync(store) == "http_503"
        assert sync.sync(store) is None
        first, second = (r.json() for r in server.requests)
    assert first == second
    assert first[0]["endsAt"] > first[0]["startsAt"]
    failures = registry.get_sample_value(
        "watcher_notification_failures_total", {"channel": "alertmanager", "reason": "http_503"}
    )
    assert failures == 1


@pytest.mark.parametrize("hold_minutes", [20])
def test_a_firing_alert_is_held_only_a_while_without_news(
    tmp_path: Path, http: httpx.Client, hold_minutes: int
) -> None:
    clock = FakeClock()
    store = StateStore.sqlite(str(tmp_path / "s.db"))
    Escalation(store, AlertPolicy()).observe(
        [grants(Finding("grants.role_missing", State.CRITICAL, "gone"))], clock.now()
    )
    with FakeServer(lambda request: json_reply({})) as server:
        Alertmanager(http, server.url, "raxx-api-prod", clock).sync(store)
        (body,) = (r.json() for r in server.requests)
    ends = CUTOVER + timedelta(minutes=hold_minutes)
    assert body[0]["endsAt"] == ends.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
