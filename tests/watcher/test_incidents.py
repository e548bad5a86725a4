"""Incidents, `watcher ack`, `watcher snooze` and `watcher status` (SPEC 4 and 9): the composition
root's notifier against the Slack fake (a real HTTP server slack_sdk accepts), on SQLite and
PostgreSQL state stores, with the injected clock; the commands run in-process on the same store."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes.slack import TOKEN, FakeSlack, Posted
from tests.support.alertmanager import Alertmanager as RealAlertmanager
from tests.support.clock import FakeClock
from tests.support.postgres import PgServer, empty_database
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.checking.runner import CheckReport
from watcher.cli.main import main
from watcher.notify.alertmanager import Alertmanager
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.store.incidents import IncidentChange, IncidentRecord
from watcher.store.state import StateStore
from watcher.timeline.rm11_gate import four_hour_result, gate_verdict

MENTION = "<@U024BE7LH>"
# A database outage as four checks see it at once (SPEC 4: it pages once).
OUTAGE = [
    ("healthz", Finding("healthz.unhealthy", State.CRITICAL, "status=error db=unreachable")),
    (
        "pg_connections",
        Finding("pg_connections.connections", State.CRITICAL, "24 of 25 connections in use"),
    ),
    (
        "logs",
        Finding(
            "logs.operational_error",
            State.CRITICAL,
            "OperationalError: could not connect to server (3 lines)",
        ),
    ),
    ("sentry", Finding("sentry.4711", State.CRITICAL, "OperationalError: server closed")),
]
LONG_QUERY = Finding("pg_activity.long_query", State.WARNING, "pid 4242 active for 95 s")


def report(check: str, *findings: Finding) -> CheckReport:
    return CheckReport(check, "7.3", Result.from_findings(findings, "fine"), 0.1)


def outage() -> list[CheckReport]:
    return [report(check, finding) for check, finding in OUTAGE]


def recovered() -> list[CheckReport]:
    return [report(check) for check, _ in OUTAGE]


class Watcher:
    """The watcher's parts over one store URL; `restart()` is a new process on the same store."""

    def __init__(self, url: str, slack: FakeSlack, clock: FakeClock, mp: pytest.MonkeyPatch):
        self.url, self.slack, self.clock = url, slack, clock
        mp.setenv("WATCHER_STATE_URL", url)
        mp.setenv("SLACK_BOT_TOKEN", TOKEN)
        mp.setenv("WATCHER_SLACK_API_URL", slack.api_url)
        mp.setenv("WATCHER_SLACK_MENTION", MENTION)
        mp.setenv("WATCHER_CUTOVER_AT", f"{clock.now():%Y-%m-%dT%H:%M:%SZ}")
        mp.setenv("USER", "alice")
        self.parts: Parts | None = None
        self.restart()

    def restart(self) -> None:
        if self.parts is not None:
            self.parts.close()
        settings = load_settings()
        self.parts = Parts(
            settings, self.clock, Redactor(settings.secrets()), registry=CollectorRegistry()
        )

    @property
    def store(self):  # type: ignore[no-untyped-def]
        assert self.parts is not None
        return self.parts.store

    def cycle(self, reports: list[CheckReport], minutes: float = 15) -> None:
        """Observe now, deliver, then let `minutes` pass."""
        assert self.parts is not None
        self.parts.notifier.observe(reports, self.clock.now())
        self.deliver()
        self.clock.advance(minutes * 60)

    def deliver(self) -> None:
        assert self.parts is not None
        self.parts.notifier.deliver()

    def cli(self, *argv: str) -> int:
        return main(list(argv), clock=self.clock)

    def close(self) -> None:
        if self.parts is not None:
            self.parts.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with empty_database(server) as database:
        yield database.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def watcher(
    sqlite_url: str, slack: FakeSlack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watcher]:
    w = Watcher(sqlite_url, slack, clock, monkeypatch)
    yield w
    w.close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def changes() -> Iterator[list[logging.LogRecord]]:
    """The alert-change lines the escalation logs (the CLI resets the root logger's handlers)."""
    logger = logging.getLogger("watcher.alerting.escalation")
    handler = _Records()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def text(message: Posted) -> str:
    return message.current_text or ""


def blocks_text(message: Posted) -> str:
    return json.dumps(message.current_blocks)


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


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["ack"], "nothing to acknowledge: no incident is open"),
        (["snooze", "nope", "--for", "1h", "--reason", "x"], "'nope' names no check"),
        (["snooze", "healthz.nope", "--for", "1h", "--reason", "x"], "names no finding kind"),
        (["snooze", "healthz", "--for", "5h", "--reason", "x"], "longer than WATCHER_SNOOZE_MAX"),
        (["snooze", "healthz", "--for", "soon", "--reason", "x"], "is not a duration"),
        (["snooze", "healthz", "--reason", "x"], "--for DURATION is missing"),
        (["snooze", "healthz", "--for", "1h", "--reason", "  "], "--reason is empty"),
        (["snooze", "--cancel", "healthz"], "no snooze of 'healthz' is in force"),
        (["snooze", "--list", "healthz"], "give one of TARGET"),
        (["snooze", "healthz", "--for"], "expected one argument"),
        (["ack", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_3_with_one_line(
    watcher: Watcher,
    argv: list[str],
    problem: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watcher.cycle([report("tables")])  # the store exists
    capsys.readouterr()
    with pytest.raises(SystemExit) if argv[-1] == "--for" else _no_raise() as raised:
        code = watcher.cli(*argv)
    if raised is not None:
        code = raised.value.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and problem in err, err


def test_ack_names_the_open_ids_when_the_id_is_unknown_or_ambiguous(
    watcher: Watcher, capsys: pytest.CaptureFixture[str]
) -> None:
    watcher.cycle(outage())
    capsys.readouterr()
    assert watcher.cli("ack", "pg_") == 0  # a unique prefix
    assert watcher.cli("ack", "x") == 3
    err = capsys.readouterr().err
    assert "unknown alert id 'x'; open: healthz.unhealthy, pg_connections.connections" in err


def test_status_json_shape(watcher: Watcher, capsys: pytest.CaptureFixture[str]) -> None:
    watcher.cycle(outage(), minutes=1)
    assert watcher.cli("snooze", "pg_activity", "--for", "1h", "--reason", "vacuum") == 0
    watcher.parts.watch().beat()  # type: ignore[union-attr]
    capsys.readouterr()
    assert watcher.cli("status", "--json") == 2
    data = json.loads(capsys.readouterr().out)
    assert {
        "t0",
        "phase",
        "gate",
        "incident",
        "snoozes",
        "checks",
        "outbox",
        "daemon_seen_at",
    } <= set(data)
    assert data["t0"] == "2026-05-16T14:48:42Z" and data["phase"] == "active"
    assert data["gate"]["open"] is False and data["gate"]["reasons"]
    assert data["incident"]["acknowledged_by"] is None
    assert [a["id"] for a in data["incident"]["alerts"]] == [f.id for _, f in OUTAGE]
    assert {a["state"] for a in data["incident"]["alerts"]} == {"CRITICAL"}
    assert data["snoozes"] == [
        {
            "target": "pg_activity",
            "until": "2026-05-16T15:49:42Z",
            "reason": "vacuum",
            "by": "alice",
        }
    ]
    assert data["outbox"] == {"pending": 0, "failed": []}
    assert data["daemon_seen_at"] == "2026-05-16T14:49:42Z" and data["daemon_running"] is True
    watcher.clock.advance(3 * 900)
    assert watcher.cli("status") == 2
    table = capsys.readouterr().out
    assert "NOT acknowledged" in table and "daemon: NOT running" in table


def test_status_never_creates_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATCHER_STATE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["status", "--json"], clock=FakeClock()) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "state store has not been created" in captured.err
    assert not (tmp_path / "none.db").exists()


def test_the_metrics_show_the_incident_and_the_snoozes(watcher: Watcher) -> None:
    assert watcher.parts is not None
    registry = watcher.parts.registry
    names = ("watcher_incident_open", "watcher_incident_acknowledged", "watcher_snoozes_active")
    assert [registry.get_sample_value(n) for n in names] == [0, 0, 0]  # from the first scrape
    watcher.cycle(outage(), minutes=1)
    assert watcher.cli("ack") == 0
    assert watcher.cli("snooze", "logs.", "--for", "1h", "--reason", "restart") == 0
    watcher.deliver()
    assert [registry.get_sample_value(n) for n in names] == [1, 1, 1]


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


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
