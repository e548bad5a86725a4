"""`watcher rehearse`: a labelled drill through the outbox and the real transports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from checks import healthz
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.http import Reply
from tests.fakes.slack import Call, FakeSlack
from tests.support.alertmanager import Alertmanager
from tests.support.clock import FakeClock
from watcher.alerting.rehearsal import rehearsed
from watcher.cli.rehearse import rehearse
from watcher.notify.slack_messages import REHEARSAL_NOTE, Composer
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.report.episodes import alerts_and_blind
from watcher.settings import Settings, load_settings
from watcher.store.state import StateStore
from watcher.timeline.section8 import record_markdown

MENTION = f"<@{slack_fake.ON_CALL}>"


@pytest.fixture
def settings(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    for name, value in {
        "SLACK_BOT_TOKEN": slack_fake.TOKEN,
        "WATCHER_SLACK_API_URL": slack.api_url,
        "WATCHER_SLACK_MENTION": MENTION,
        "WATCHER_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
    }.items():
        monkeypatch.setenv(name, value)
    yield load_settings()


def drill(
    settings: Settings, clock: FakeClock, incident: str | None = None, seconds: float = 60
) -> int:
    return rehearse(settings, clock, Redactor(settings.secrets()), incident, seconds)


def test_every_step_is_delivered_labelled_and_seconds_apart_in_all(
    settings: Settings, slack: FakeSlack, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drill(settings, clock, seconds=60) == 0
    (post,) = slack.top_level()
    assert (post.text or "").startswith(f"[REHEARSAL] {MENTION} CRITICAL raxx-api-prod rehearsal")
    assert REHEARSAL_NOTE in (post.text or "")
    assert post.blocks is not None and post.blocks[0]["text"]["text"].startswith(
        f":performing_arts: *REHEARSAL* {MENTION}"
    )
    reminder, resolved = slack.replies(post.ts)
    assert (reminder.text or "").startswith("[REHEARSAL] still CRITICAL after 0 min")
    assert (resolved.text or "").startswith("[REHEARSAL] :white_check_mark: resolved:")
    assert (post.current_text or "").startswith("[REHEARSAL] RESOLVED (was CRITICAL)")
    assert clock.slept[:2] == [30.0, 30.0] and sum(clock.slept) == 60
    out = capsys.readouterr().out
    assert "1/3 posted REHEARSAL rehearsal.drill (CRITICAL) to slack" in out
    assert "every step was delivered" in out


@pytest.mark.parametrize(
    ("incident", "alert_id"),
    [
        ("sqlite", "logs.sqlite"),
        ("grant-drift", "logs.permission_denied"),
        ("crash", "logs.crash"),
        ("healthz-sqlite", "healthz.db_sqlite"),
        ("pg-unavailable", "pg_info.status"),
    ],
)
def test_an_incident_posts_what_that_incident_would(
    settings: Settings, slack: FakeSlack, clock: FakeClock, incident: str, alert_id: str
) -> None:
    alert = rehearsed(incident, settings.app_role, clock)
    assert drill(settings, clock, incident, seconds=2) == 0
    (post,) = slack.top_level()
    assert alert.alert_id == alert_id and alert.severity == "CRITICAL"
    # The composer's own message for that finding, with the label and nothing else changed.
    real = Composer(settings.app, MENTION).fire(
        alert.alert_id, alert.check, "CRITICAL", alert.summary
    )
    assert post.text == f"[REHEARSAL] {real['text']} ({REHEARSAL_NOTE})"
    assert len(slack.replies(post.ts)) == 2


def test_healthz_sqlite_says_what_the_healthz_check_says(
    settings: Settings, clock: FakeClock, healthz_server: FakeHealthz
) -> None:
    healthz_server.reply = healthz_server.reply.__class__(
        200,
        {"status": "ok", "db": "sqlite", "version": "1.4.2"},
        {"Content-Type": "application/json"},
    )
    options = healthz.HealthzOptions(healthz_server.healthz_url)
    with httpx.Client() as client:
        real = healthz.check(client, options, clock)
    (finding,) = real.findings
    assert rehearsed("healthz-sqlite", settings.app_role, clock).summary == finding.summary


def test_when_slack_refuses_it_exits_3_with_the_reason_and_the_fix(
    settings: Settings, slack: FakeSlack, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    def not_invited(call: Call) -> Reply | None:
        return FakeSlack.error("not_in_channel") if call.method == "chat.postMessage" else None

    slack.fail_when = not_invited
    assert drill(settings, clock) == 3
    err = capsys.readouterr().err
    assert "the top-level post was not delivered: not_in_channel" in err
    assert "fix: invite the bot to WATCHER_SLACK_CHANNEL" in err
    assert clock.slept == []  # stopped at the first step


def test_a_slack_outage_that_outlasts_the_patience_exits_3(
    settings: Settings, slack: FakeSlack, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.outage = True
    assert drill(settings, clock) == 3
    assert "not delivered within 20 s (http_503)" in capsys.readouterr().err


def test_the_watch_never_sees_a_rehearsal(settings: Settings, clock: FakeClock) -> None:
    t0 = clock.now()
    store = StateStore.from_url(settings.state_url.get_secret_value())
    before = record_markdown(store, t0, settings.app, t0)
    store.close()
    assert drill(settings, clock) == 0
    parts = Parts(settings, clock, Redactor(settings.secrets()))
    try:
        # The RM-11 gate and the record read alerts: none was kept for the drill.
        assert (
            record_markdown(parts.store, t0, settings.app, clock.now() - (clock.now() - t0))
            == before
        )
        assert parts.store.alerts.find(["pending", "firing", "resolved"]) == []
        # The report's alert list.
        assert alerts_and_blind(parts.store, t0, clock.now()) == ([], [])
        parts.notifier.observe([], clock.now())
        firing = parts.registry.get_sample_value(
            "watcher_alerts_firing", {"alert": "rehearsal.drill"}
        )
        assert firing is None
        sent = [i for i in parts.store.outbox.messages() if i.notice and i.notice.rehearsal]
        assert len(sent) == 4 and all(i.alert_id is None for i in sent)
    finally:
        parts.close()


def test_alertmanager_gets_a_rehearsal_labelled_alert_fired_then_resolved(
    settings: Settings,
    slack: FakeSlack,
    alertmanager: Alertmanager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHER_ALERTMANAGER_URL", alertmanager.url)
    seen: list[list[dict[str, object]]] = []

    class Watching(FakeClock):
        def sleep(self, seconds: float) -> None:
            seen.append(alertmanager.alerts(rehearsal="true", alertname="logs.sqlite"))
            super().sleep(seconds)

    # Alertmanager keeps time by the wall clock: the drill ends (resolves) before now.
    clock = Watching(datetime.now(UTC) - timedelta(seconds=30))
    assert drill(load_settings(), clock, "sqlite", seconds=2) == 0
    firing = seen[0]
    assert len(firing) == 1
    assert firing[0]["labels"] == {
        "alertname": "logs.sqlite",
        "check": "logs",
        "severity": "critical",
        "app": "raxx-api-prod",
        "rehearsal": "true",
    }
    assert alertmanager.alerts(rehearsal="true", alertname="logs.sqlite") == []


def test_without_a_slack_token_it_says_which_setting_to_set(
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert drill(load_settings(), clock) == 3
    assert "not_configured; fix: set SLACK_BOT_TOKEN" in capsys.readouterr().err
