"""Incidents (SPEC 4): one page per root cause, reminders until acknowledged, snoozes; against
the Slack fake and a real Alertmanager, on SQLite and PostgreSQL state stores, with the injected
clock (tests/support/steering.py)."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from checks.result import Finding, State
from tests.fakes.slack import FakeSlack
from tests.support.alertmanager import Alertmanager as RealAlertmanager
from tests.support.clock import FakeClock
from tests.support.steering import (
    LONG_QUERY,
    MENTION,
    OUTAGE,
    Watcher,
    blocks_text,
    outage,
    recovered,
    report,
    text,
)
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.checking.runner import CheckReport
from watcher.notify.alertmanager import Alertmanager
from watcher.store.incidents import IncidentChange, IncidentRecord
from watcher.store.state import StateStore
from watcher.timeline.rm11_gate import four_hour_result, gate_verdict


def test_a_database_outage_pages_once(watcher: Watcher, slack: FakeSlack) -> None:
    watcher.cycle(outage())
    (page,) = slack.top_level()
    assert text(page).startswith(MENTION)
    replies = slack.replies(page.ts)
    assert len(replies) == 3
    assert all(MENTION not in text(r) and "joined the incident" in text(r) for r in replies)
    # The top-level message lists every alert of the incident by id with its state.
    listed = blocks_text(page)
    for _, finding in OUTAGE:
        assert f"`{finding.id}` :red_circle: CRITICAL" in listed
    assert sum(text(m).count(MENTION) for m in slack.messages) == 1


def test_a_warning_joins_the_open_incident(watcher: Watcher, slack: FakeSlack) -> None:
    watcher.cycle([report("healthz", OUTAGE[0][1])])
    watcher.cycle([report("healthz", OUTAGE[0][1]), report("pg_activity", LONG_QUERY)], minutes=1)
    (page,) = slack.top_level()
    (joined,) = slack.replies(page.ts)
    assert "joined the incident" in text(joined) and "WARNING" in text(joined)
    assert MENTION not in text(joined)
    assert "`pg_activity.long_query` :large_yellow_circle: WARNING" in blocks_text(page)


def test_a_warning_alone_opens_no_incident(watcher: Watcher, slack: FakeSlack) -> None:
    watcher.cycle([report("pg_activity", LONG_QUERY)])
    (post,) = slack.top_level()
    assert MENTION not in text(post)
    assert watcher.store.incidents.open() is None


def test_the_incident_closes_and_the_next_critical_opens_another(
    watcher: Watcher, slack: FakeSlack
) -> None:
    watcher.cycle(outage(), minutes=5)
    watcher.cycle(recovered(), minutes=5)
    watcher.cycle(recovered(), minutes=5)
    (page,) = slack.top_level()
    last = slack.replies(page.ts)[-1]
    assert "the incident is closed: all 4 alert(s) resolved" in text(last)
    assert text(page).startswith("RESOLVED (was CRITICAL)")
    assert blocks_text(page).count(":white_check_mark: RESOLVED") == 4
    assert watcher.store.incidents.open() is None
    watcher.cycle([report("healthz", OUTAGE[0][1])])
    first, second = slack.top_level()
    assert first is page and text(second).startswith(MENTION)
    assert slack.replies(second.ts) == []


def test_reminders_ping_until_acknowledged(
    watcher: Watcher, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    watcher.cycle(outage(), minutes=30)
    watcher.cycle(outage(), minutes=30)
    (page,) = slack.top_level()
    reminder = slack.replies(page.ts)[-1]
    assert text(reminder).startswith(f"{MENTION} still CRITICAL after 30 min")
    assert watcher.cli("ack", "sentry", "--note", "restarting the pool") == 0
    assert "acknowledged incident" in capsys.readouterr().out
    # `ack` wrote the store only: nothing reached Slack until the watcher delivered.
    before = len(slack.messages)
    assert len(slack.calls("chat.postMessage")) == before
    watcher.deliver()
    ack = slack.replies(page.ts)[-1]
    assert text(ack).startswith(":ok_hand: acknowledged by alice: `restarting the pool`")
    assert "Acknowledged by alice" in blocks_text(page)
    watcher.cycle(outage(), minutes=30)
    reminder = slack.replies(page.ts)[-1]
    assert "still CRITICAL after 60 min" in text(reminder) and MENTION not in text(reminder)
    # A new CRITICAL after the acknowledgement pings once.
    grants = Finding("grants.table_privileges", State.CRITICAL, "raptor_app lacks INSERT on users")
    watcher.cycle([*outage(), report("grants", grants)], minutes=1)
    new, reminder = slack.replies(page.ts)[-2:]
    assert text(new).startswith(f"{MENTION} new since the acknowledgement")
    assert "grants.table_privileges" in text(new) and MENTION not in text(reminder)


def test_ack_and_snooze_across_a_restart(
    store_url: str,
    slack: FakeSlack,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = Watcher(store_url, slack, clock, monkeypatch)
    try:
        w.cycle(outage(), minutes=1)
        assert w.cli("ack", "--by", "bob") == 0
        assert w.cli("snooze", "logs.", "--for", "30m", "--reason", "heroku restart (4.8)") == 0
        w.restart()  # the daemon restarts before it delivered either
        w.deliver()
        (page, snoozed) = slack.top_level()
        assert any("acknowledged by bob" in text(r) for r in slack.replies(page.ts))
        assert text(snoozed).startswith(":zzz: `logs.` snoozed by alice until 15:19Z")
        assert MENTION not in text(snoozed)
        w.restart()
        w.deliver()  # announced once, whatever restarts
        assert len(slack.top_level()) == 2
        # After the restart, a new alert joins the same incident and pings once (acknowledged).
        grants = Finding("grants.role_missing", State.CRITICAL, "role raptor_app is gone")
        w.cycle([*outage(), report("grants", grants)], minutes=1)
        assert len(slack.top_level()) == 2
        joined = slack.replies(page.ts)[-1]
        assert text(joined).startswith(f"{MENTION} new since the acknowledgement")
        capsys.readouterr()
        assert w.cli("snooze", "--list") == 0
        listed = capsys.readouterr().out
        assert "logs." in listed and "heroku restart (4.8)" in listed and "alice" in listed
    finally:
        w.close()


def test_a_snoozed_finding_is_recorded_not_escalated_and_escalates_when_the_snooze_ends(
    watcher: Watcher, slack: FakeSlack, changes: list[logging.LogRecord]
) -> None:
    watcher.cycle([report("healthz")], minutes=1)  # the watch has begun: the store exists
    assert watcher.cli("snooze", "healthz", "--for", "20m", "--reason", "planned restart") == 0
    watcher.deliver()
    (announced,) = slack.top_level()
    assert ":zzz: `healthz` snoozed" in text(announced)
    assert "planned restart" in text(announced) and MENTION not in text(announced)
    down = report("healthz", Finding("healthz.unreachable", State.CRITICAL, "connection refused"))
    for _ in range(3):
        watcher.cycle([down], minutes=5)
    assert len(slack.top_level()) == 1  # observed and recorded, paged no one
    (alert,) = watcher.store.alerts.find()
    assert alert.status == "snoozed"
    assert [e.event for e in watcher.store.alerts.events()] == ["snoozed"]
    watcher.clock.advance(5 * 60)  # the snooze ends
    watcher.deliver()
    _, ended, page = slack.top_level()
    assert text(ended).startswith(":alarm_clock: the snooze of `healthz` ended")
    assert text(page).startswith(MENTION) and "healthz.unreachable" in blocks_text(page)
    said = [(r.getMessage(), r.fields["alert"]) for r in changes]  # type: ignore[attr-defined]
    assert said == [
        ("alert snoozed", "healthz"),
        ("alert snoozed", "healthz.unreachable"),
        ("alert snooze ended", "healthz"),
        ("alert fired", "healthz.unreachable"),
    ]


def test_cancel_ends_a_snooze_now(watcher: Watcher, slack: FakeSlack) -> None:
    watcher.cycle([report("healthz")], minutes=1)
    assert watcher.cli("snooze", "healthz", "--for", "2h", "--reason", "rollback rehearsal") == 0
    watcher.deliver()
    assert watcher.cli("snooze", "--cancel", "healthz", "--by", "carol") == 0
    watcher.deliver()
    _, ended = slack.top_level()
    assert "cancelled by carol" in text(ended)
    assert watcher.store.snoozes.active(watcher.clock.now()) == []


def test_alertmanager_labels_an_acknowledged_incident_and_never_hears_of_a_snoozed_finding(
    tmp_path: Path, alertmanager: RealAlertmanager, http: httpx.Client
) -> None:
    # The session's Alertmanager is shared: this test's alerts carry their own app label, and
    # it compares endsAt with its own clock (this watch started 10 minutes ago).
    app = f"raxx-{uuid.uuid4().hex[:8]}"
    clock = FakeClock(datetime.now(UTC) - timedelta(minutes=10))
    store = StateStore.sqlite(str(tmp_path / "s.db"))
    escalation = Escalation(store, AlertPolicy())
    sync = Alertmanager(http, alertmanager.url, app, clock)
    store.snoozes.add("logs.", clock.now(), clock.now() + timedelta(hours=1), "restart", "bob")
    escalation.observe([*outage()[:2], outage()[2]], clock.now())
    assert sync.sync(store) is None
    names = sorted(a["labels"]["alertname"] for a in alertmanager.alerts(app=app))
    assert names == ["healthz.unhealthy", "pg_connections.connections"]  # logs.* snoozed
    assert all("acknowledged" not in a["labels"] for a in alertmanager.alerts(app=app))

    def acknowledge(current: IncidentRecord | None) -> IncidentChange | None:
        assert current is not None
        return IncidentChange(replace(current, acknowledged_by="alice", ack_announced=False))

    store.incidents.update(clock.now(), acknowledge)
    escalation.steer(clock.now())
    assert sync.sync(store) is None
    labels = [a["labels"] for a in alertmanager.alerts(app=app)]
    assert len(labels) == 2 and all(label["acknowledged"] == "true" for label in labels)
    store.close()


def test_findings_seen_while_snoozed_count_for_the_gate_with_the_reason(
    watcher: Watcher, slack: FakeSlack
) -> None:
    watcher.cycle([report("healthz")], minutes=1)
    assert watcher.cli("snooze", "healthz", "--for", "1h", "--reason", "heroku restart") == 0
    down = report("healthz", Finding("healthz.unhealthy", State.CRITICAL, "status=error"))
    watcher.cycle([down], minutes=1)
    watcher.cycle([report("healthz")], minutes=1)
    watcher.cycle([report("healthz")], minutes=1)
    t0 = watcher.clock.now() - timedelta(minutes=4)
    lines = four_hour_result(watcher.store, t0, show=str)
    assert lines[0].startswith("issues found: 1 alert(s)")
    assert lines[1].endswith("status=error (seen while snoozed: heroku restart (by alice))"), lines
    verdict = gate_verdict(watcher.store, t0, watcher.clock.now(), show=str)
    assert not verdict.open
    assert "seen while snoozed: heroku restart (by alice)" in verdict.reasons[0]
    (announced,) = slack.top_level()  # the snooze's announcement; no page
    assert text(announced).startswith(":zzz:")


def test_two_watchers_on_one_store_open_one_incident(
    store_url: str, slack: FakeSlack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon and `once --notify` side by side: each decides in one transaction."""
    first = Watcher(store_url, slack, clock, monkeypatch)
    second = Watcher(store_url, slack, clock, monkeypatch)
    try:
        assert first.parts is not None and second.parts is not None
        first.parts.notifier.observe([report("tables")], clock.now())  # the schema exists
        start = threading.Barrier(2)

        def observe(w: Watcher, reports: list[CheckReport]) -> None:
            assert w.parts is not None
            start.wait()
            w.parts.notifier.observe(reports, clock.now())

        threads = [
            threading.Thread(target=observe, args=(first, outage()[:2])),
            threading.Thread(target=observe, args=(second, outage()[2:])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        first.deliver()
        second.deliver()
        (page,) = slack.top_level()
        assert len(slack.replies(page.ts)) == 3
        incident = first.store.incidents.open()
        assert incident is not None and len(incident.members) == 4
    finally:
        first.close()
        second.close()
