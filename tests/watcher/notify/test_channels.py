"""A new channel is one module and one line: a webhook channel declared here, in a few lines,
gets every alert through the same outbox as Slack, its failed attempts and lost messages
counted apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes import slack as slack_fake
from tests.fakes.http import FakeServer, Reply, Request, json_reply
from tests.fakes.slack import FakeSlack
from tests.support.clock import FakeClock
from watcher.checking.runner import CheckReport
from watcher.notify.channels import CHANNELS
from watcher.notify.notices import Notice, NoticeKind
from watcher.notify.notifier import Notifier
from watcher.notify.transport import Channel, ChannelContext, HttpTransport, Landed
from watcher.settings import load_settings
from watcher.store.outbox import OutboxItem
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics

# -- the new channel: what a module in watcher/ would hold ----------------------------------


class Webhook(HttpTransport):
    name = "webhook"

    def __init__(self, context: ChannelContext, url: str) -> None:
        super().__init__(context.http, timeout=5)
        self.url = url

    def wants(self, notice: Notice) -> bool:
        return notice.kind in (NoticeKind.FIRED, NoticeKind.RESOLVED_ORIGINAL)

    def send(self, item: OutboxItem, parent: OutboxItem | None, store: StateStore) -> Landed:
        notice = item.notice
        assert notice is not None
        body = {"alert": notice.alert_id, "what": notice.kind.value, "summary": notice.summary}
        self.post_json(self.url, body)
        return self.name, str(item.id)


def webhook_channel(url: str) -> Channel:
    # The one line, in watcher/channels.py: `webhook.CHANNEL,`
    return Channel("webhook", lambda context: Webhook(context, url))


# -- a watch with it ------------------------------------------------------------------------

DRIFT = Finding("grants.table_privileges", State.CRITICAL, "raptor_app lacks INSERT on users")


def grants(*findings: Finding) -> CheckReport:
    return CheckReport("grants", "4.6", Result.from_findings(findings, "ok"), 0.1)


class Rig:
    def __init__(self, path: Path, url: str, clock: FakeClock) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        self.store = StateStore.sqlite(str(path))
        self.http = httpx.Client()
        self.notifier = Notifier(
            load_settings(),
            self.store,
            clock,
            self.http,
            Metrics(self.registry, "t"),
            channels=(*CHANNELS, webhook_channel(url)),
        )

    def cycle(self, report: CheckReport) -> None:
        self.notifier.observe([report], self.clock.now())
        self.notifier.deliver()
        self.clock.advance(60)

    def counted(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def rig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: FakeSlack, clock: FakeClock
) -> Iterator[tuple[Rig, list[Reply]]]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack_fake.TOKEN)
    monkeypatch.setenv("WATCHER_SLACK_API_URL", slack.api_url)
    answers: list[Reply] = []

    def answer(request: Request) -> Reply:
        return answers.pop(0) if answers else json_reply({"ok": True})

    with FakeServer(answer) as server:
        built = Rig(tmp_path / "s.db", server.url + "/hook", clock)
        built.server = server  # type: ignore[attr-defined]
        yield built, answers
        built.http.close()
        built.store.close()


def test_the_new_channel_gets_fired_and_resolved_alerts_beside_slack(
    rig: tuple[Rig, list[Reply]], slack: FakeSlack
) -> None:
    watch, _ = rig
    watch.cycle(grants(DRIFT))
    watch.cycle(grants())
    watch.cycle(grants())
    server: FakeServer = watch.server  # type: ignore[attr-defined]
    bodies = [r.json() for r in server.requests]
    assert [(b["alert"], b["what"]) for b in bodies] == [
        ("grants.table_privileges", "fired"),
        ("grants.table_privileges", "resolved_original"),
    ]
    (posted,) = slack.top_level()
    assert posted.current_text is not None and posted.current_text.startswith("RESOLVED")
    assert watch.counted("watcher_notifications_total", channel="webhook") == 2


def test_a_failed_attempt_is_retried_and_counted_as_an_attempt(
    rig: tuple[Rig, list[Reply]],
) -> None:
    watch, answers = rig
    answers.append(Reply(503, "busy"))
    watch.cycle(grants(DRIFT))
    reason = {"channel": "webhook", "reason": "http_503"}
    assert watch.counted("watcher_notification_failures_total", **reason) == 1
    watch.clock.advance(60)
    watch.notifier.deliver()
    assert watch.counted("watcher_notifications_total", channel="webhook") == 1
    assert watch.notifier.delivery.health() is None


def test_a_message_the_channel_refuses_is_lost_for_good_and_says_how_to_fix_it(
    rig: tuple[Rig, list[Reply]],
) -> None:
    watch, answers = rig
    answers.append(Reply(404, "no such hook"))
    watch.notifier.observe([grants(DRIFT)], watch.clock.now())
    report = watch.notifier.deliver()
    assert [f.reason for f in report.failed] == ["http_404"]
    assert "webhook" in report.failed[0].fix
    failed = watch.notifier.delivery.health()
    assert failed is not None and failed.reason == "http_404"
    assert [m.channel for m in watch.store.outbox.messages("failed")] == ["webhook"]
