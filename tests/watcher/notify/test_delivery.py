"""The outbox against a real HTTP server speaking Slack's Web API: nothing lost, nothing twice."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.http import CUT, Reply, closed_port
from tests.fakes.slack import TOKEN, FakeSlack
from tests.support.clock import FakeClock
from tests.support.postgres import PgServer, empty_database
from watcher.notify.delivery import Delivery, Failure
from watcher.notify.notices import Notice
from watcher.notify.slack import SlackTransport, Tag
from watcher.notify.slack_messages import Composer
from watcher.redact import Redactor
from watcher.store.outbox import Message
from watcher.store.state import StateStore
from watcher.telemetry.logfmt import LogfmtFormatter
from watcher.telemetry.metrics import Metrics


class Outbox:
    """A store, its delivery and what it reported, rebuilt by `restart()` like a new process."""

    def __init__(self, path: Path, url: str, clock: FakeClock, token: str = TOKEN) -> None:
        self.path, self.url, self.clock, self.token = path, url, clock, token
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry, "test")
        self.reported: list[Failure] = []
        self.restart()

    def restart(self, token: str | None = None) -> None:
        self.token = token or self.token
        self.store = StateStore.sqlite(str(self.path))
        transport = SlackTransport(
            self.token, self.url, "#ops-alerts", timeout=2, composer=Composer("raxx-api-prod")
        )
        self.transport = transport
        self.delivery = Delivery(
            self.store, [transport], self.clock, self.metrics, self.reported.append
        )

    def queue(self, *texts: str) -> list[int]:
        return self.store.outbox.enqueue(
            [Message("post", Notice.text(t)) for t in texts], self.clock.now()
        )

    def failures(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "watcher_notification_failures_total", {"channel": "slack", "reason": reason}
        )
        return value or 0.0


@pytest.fixture
def outbox(tmp_path: Path, slack: FakeSlack, clock: FakeClock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "state.db", slack.api_url, clock)
    yield box
    box.store.close()


def texts(slack: FakeSlack) -> list[str | None]:
    return [m.text for m in slack.messages]


def test_a_429_waits_for_retry_after_and_holds_back_every_message(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.fail_next(FakeSlack.ratelimited(retry_after=7))
    outbox.queue("first", "second")
    report = outbox.delivery.deliver()
    assert (report.sent, report.pending) == (0, 2)
    clock.advance(6)
    assert outbox.delivery.deliver().sent == 0
    clock.advance(1)
    assert outbox.delivery.deliver().sent == 2
    assert texts(slack) == ["first", "second"]
    assert outbox.failures("ratelimited") == 1


def test_a_429_that_fits_the_budget_is_waited_out_and_retried_in_the_same_run(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    # `once --notify` (from cron): Slack's 429 with Retry-After: 1 is waited out, not left
    # pending for the next run; the wait moves the test clock, nothing sleeps.
    slack.fail_next(FakeSlack.ratelimited(retry_after=1))
    outbox.queue("CRITICAL page")
    started = clock.monotonic()
    report = outbox.delivery.deliver(budget=10)
    assert (report.sent, report.pending, report.failed) == (1, 0, [])
    assert texts(slack) == ["CRITICAL page"]
    assert clock.slept == [1.0]
    assert clock.monotonic() - started == 1.0
    assert len(slack.calls("chat.postMessage")) == 2
    # One failed attempt, no message failed for good, nothing left: nothing to page about.
    assert outbox.failures("ratelimited") == 1
    assert outbox.registry.get_sample_value(
        "watcher_notifications_failed_total", {"channel": "slack", "reason": "ratelimited"}
    ) in (None, 0)
    assert outbox.registry.get_sample_value("watcher_notifications_pending") == 0


def test_a_429_longer_than_the_budget_stays_pending(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.fail_next(FakeSlack.ratelimited(retry_after=30))
    outbox.queue("CRITICAL page")
    report = outbox.delivery.deliver(budget=10)
    assert (report.sent, report.pending) == (0, 1)
    assert clock.slept == []  # never waits past the budget


def test_a_429_without_retry_after_backs_off(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.fail_next(Reply(429, {"ok": False, "error": "ratelimited"}))
    outbox.queue("first")
    assert outbox.delivery.deliver().pending == 1
    clock.advance(2)
    assert outbox.delivery.deliver().sent == 1


def test_a_ten_minute_outage_loses_nothing_and_sends_nothing_twice(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.outage = True
    outbox.queue("fire 1")
    for minute in range(10):
        outbox.queue(f"during {minute}")
        for _ in range(6):
            outbox.delivery.deliver()
            clock.advance(10)
    assert slack.messages == []
    assert outbox.failures("http_503") > 10
    slack.outage = False
    clock.advance(60)
    outbox.delivery.deliver()
    assert texts(slack) == ["fire 1"] + [f"during {m}" for m in range(10)]
    outbox.delivery.deliver()
    assert len(slack.messages) == 11
    assert outbox.store.outbox.counts() == {"sent": 11}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, {"ok": False}), "http_500"),
        (Reply(200, b"<html>not json</html>", {"Content-Type": "text/html"}), "bad_response"),
        (Reply(200, {"ok": False, "error": "internal_error"}), "internal_error"),
        (Reply(drop=True), "network"),
        (Reply(delay=3.5), "timeout"),
    ],
)
def test_transient_failures_are_retried(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock, reply: Reply, reason: str
) -> None:
    slack.fail_next(reply)
    outbox.queue("fire")
    report = outbox.delivery.deliver()
    assert (report.sent, report.pending, report.failed) == (0, 1, [])
    assert outbox.failures(reason) == 1
    clock.advance(2)
    assert outbox.delivery.deliver().sent == 1
    assert texts(slack)[-1] == "fire"


def test_a_refused_connection_is_retried(
    tmp_path: Path, clock: FakeClock, slack: FakeSlack
) -> None:
    box = Outbox(tmp_path / "s.db", f"http://127.0.0.1:{closed_port()}/api/", clock)
    box.queue("fire")
    assert box.delivery.deliver().pending == 1
    assert box.failures("network") == 1
    box.url = slack.api_url
    box.restart()
    clock.advance(2)
    assert box.delivery.deliver().sent == 1


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("channel_not_found", "WATCHER_SLACK_CHANNEL"),
        ("not_in_channel", "invite the bot"),
        ("is_archived", "unarchive"),
    ],
)
def test_permanent_errors_stop_that_message_loudly(
    outbox: Outbox,
    slack: FakeSlack,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    error: str,
    fix: str,
) -> None:
    slack.fail_next(FakeSlack.error(error))
    outbox.queue("fire", "next")
    with caplog.at_level(logging.ERROR):
        report = outbox.delivery.deliver()
    assert [f.reason for f in report.failed] == [error]
    assert fix in report.failed[0].fix
    assert report.sent == 1  # the next message is not held back by this one
    assert outbox.failures(error) == 1
    assert outbox.reported == report.failed
    (line,) = logfmt_lines(caplog)
    assert line.startswith(
        'at=error logger=watcher.notify.delivery msg="message failed for good" channel=slack'
        f" kind=post alert=null attempt=1 message=1 reason={error} fix="
    )
    assert fix in line
    clock.advance(3600)
    assert outbox.delivery.deliver().sent == 0  # never retried in this process
    assert texts(slack) == ["next"]


def logfmt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The captured records as `watcher run` prints them."""
    formatter = LogfmtFormatter(Redactor([]))
    return [formatter.format(r) for r in caplog.records if r.name.startswith("watcher.")]


def test_each_attempt_is_one_log_line_without_the_text(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next(Reply(status=503))
    outbox.queue("healthz says db=sqlite: the page text")
    with caplog.at_level(logging.INFO, logger="watcher.notify.delivery"):
        outbox.delivery.deliver()
        clock.advance(2)
        outbox.delivery.deliver()
    retry, delivered = logfmt_lines(caplog)
    assert retry.startswith(
        'at=warning logger=watcher.notify.delivery msg="message not delivered; retrying"'
        " channel=slack kind=post alert=null attempt=1 message=1 reason="
    )
    assert " retry_at=" in retry
    assert delivered == (
        'at=info logger=watcher.notify.delivery msg="message delivered" channel=slack kind=post'
        " alert=null attempt=2 message=1"
    )
    assert "page text" not in retry + delivered


def test_a_message_failed_for_good_is_counted_apart_from_attempts(
    outbox: Outbox, slack: FakeSlack
) -> None:
    slack.fail_next(FakeSlack.error("channel_not_found"))
    outbox.queue("CRITICAL page", "WARNING")
    report = outbox.delivery.deliver()
    assert [f.reason for f in report.failed] == ["channel_not_found"]
    labels = {"channel": "slack", "reason": "channel_not_found"}
    assert outbox.registry.get_sample_value("watcher_notifications_failed_total", labels) == 1
    assert outbox.failures("channel_not_found") == 1


def test_health_is_unknown_until_a_message_gets_through(outbox: Outbox, slack: FakeSlack) -> None:
    slack.fail_next(FakeSlack.error("channel_not_found"))
    outbox.queue("fire")
    outbox.delivery.deliver()
    health = outbox.delivery.health()
    assert health is not None and health.reason == "channel_not_found"
    outbox.queue("later")
    outbox.delivery.deliver()
    assert outbox.delivery.health() is None


def test_a_fixed_token_delivers_the_failed_message_after_a_restart(
    outbox: Outbox, slack: FakeSlack
) -> None:
    outbox.restart(token="xoxb-wrong")
    outbox.queue("fire")
    assert [f.reason for f in outbox.delivery.deliver().failed] == ["invalid_auth"]
    outbox.restart(token=TOKEN)
    assert outbox.delivery.requeue_for_new_settings() == 1
    assert outbox.delivery.deliver().sent == 1
    assert texts(slack) == ["fire"]


def test_invalid_blocks_are_sent_again_as_plain_text(outbox: Outbox, slack: FakeSlack) -> None:
    slack.fail_when = FakeSlack.reject_blocks()
    outbox.store.outbox.enqueue([Message("post", Notice.text("fire"))], outbox.clock.now())
    assert outbox.delivery.deliver().sent == 1
    (posted,) = slack.messages
    assert (posted.blocks, posted.text) == (None, "fire")


def test_a_message_too_long_is_sent_again_shortened(outbox: Outbox, slack: FakeSlack) -> None:
    slack.fail_when = FakeSlack.reject_long_text()
    outbox.queue("y" * 45_000)
    assert outbox.delivery.deliver().sent == 1
    (posted,) = slack.messages
    assert posted.text is not None and len(posted.text) == 3000 and posted.text.endswith("\u2026")


def test_a_pending_message_is_delivered_after_a_restart_once(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.outage = True
    outbox.queue("fire")
    outbox.delivery.deliver()
    outbox.store.close()
    slack.outage = False
    outbox.restart()
    clock.advance(5)
    outbox.delivery.deliver()
    outbox.restart()
    clock.advance(60)
    outbox.delivery.deliver()
    assert texts(slack) == ["fire"]


def test_a_reply_waits_for_its_thread(outbox: Outbox, slack: FakeSlack, clock: FakeClock) -> None:
    (post,) = outbox.queue("fire")
    outbox.store.outbox.enqueue(
        [Message("reply", Notice.text("still"), parent_id=post)], clock.now()
    )
    slack.fail_next(Reply(503, {"ok": False}))
    outbox.delivery.deliver()
    assert slack.messages == []
    clock.advance(2)
    outbox.delivery.deliver()
    fire, reply = slack.messages
    assert reply.thread_ts == fire.ts


def test_a_reply_whose_thread_failed_is_posted_on_its_own(outbox: Outbox, slack: FakeSlack) -> None:
    (post,) = outbox.queue("fire")
    outbox.store.outbox.enqueue(
        [
            Message("reply", Notice.text("resolved"), parent_id=post),
            Message("update", Notice.text("RESOLVED"), parent_id=post),
        ],
        outbox.clock.now(),
    )
    slack.fail_next(FakeSlack.error("msg_blocked_by_policy"))
    report = outbox.delivery.deliver()
    assert [f.reason for f in report.failed] == ["msg_blocked_by_policy"]
    (reply,) = slack.messages
    assert (reply.text, reply.thread_ts) == ("resolved", None)
    assert outbox.store.outbox.counts() == {"failed": 1, "sent": 1, "skipped": 1}


def test_without_a_token_every_message_fails_with_the_fix(tmp_path: Path, clock: FakeClock) -> None:
    store = StateStore.sqlite(str(tmp_path / "s.db"))
    store.outbox.enqueue([Message("post", Notice.text("fire"))], clock.now())
    no_token = SlackTransport(None, "http://127.0.0.1:9/", "#ops-alerts", 2, Composer("x"))
    report = Delivery(store, [no_token], clock).deliver()
    assert [(f.reason, "SLACK_BOT_TOKEN" in f.fix) for f in report.failed] == [
        ("not_configured", True)
    ]


def test_a_message_refused_even_as_plain_text_fails_for_good(
    outbox: Outbox, slack: FakeSlack
) -> None:
    slack.fail_when = lambda call: FakeSlack.error("msg_too_long")
    outbox.queue("fire")
    report = outbox.delivery.deliver()
    assert [f.reason for f in report.failed] == ["msg_too_long"]


def test_a_pass_with_a_budget_does_not_wait_for_another_pass(
    outbox: Outbox, slack: FakeSlack
) -> None:
    outbox.queue(*(f"m{i}" for i in range(6)))
    slack.delay = 0.5
    busy = threading.Thread(target=outbox.delivery.deliver)
    busy.start()
    time.sleep(0.2)
    started = time.monotonic()
    report = outbox.delivery.deliver(budget=0.5)
    assert time.monotonic() - started < 1.5
    assert report.pending > 0
    busy.join(10)
    assert len(slack.messages) == 6


def test_an_answer_cut_short_is_a_retry(outbox: Outbox, slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next(Reply(200, chunks=[b'{"ok": tr', CUT]))
    outbox.queue("fire")
    report = outbox.delivery.deliver()
    assert (report.sent, report.pending, report.failed) == (0, 1, [])
    clock.advance(2)
    assert outbox.delivery.deliver().sent == 1


# -- issue 12: claims, unknown outcomes, a slow Slack -----------------------------------------


def test_a_slack_answering_after_8_seconds_is_paged_once(
    tmp_path: Path, slack: FakeSlack, clock: FakeClock
) -> None:
    # The transport the watcher builds: its timeout is Slack's latency, not the check timeout.
    from watcher.notify.notifier import Notifier
    from watcher.settings import load_settings

    settings = load_settings(
        slack_bot_token=TOKEN,
        slack_api_url=slack.api_url,
        check_timeout=3,
        state_url=f"sqlite:///{tmp_path}/state.db",
    )
    store = StateStore.sqlite(str(tmp_path / "state.db"))
    delivery = Notifier(settings, store, clock, httpx.Client()).delivery
    store.outbox.enqueue([Message("post", Notice.text("CRITICAL page"))], clock.now())
    slack.delay = 8.0  # a bounded real wait: the one slow answer
    started = time.monotonic()
    report = delivery.deliver()
    assert time.monotonic() - started >= 8
    slack.delay = 0.0
    for _ in range(6):  # what used to be six retries in 40 s
        clock.advance(10)
        delivery.deliver()
    assert report.sent == 1 and texts(slack) == ["CRITICAL page"]


def test_a_post_that_timed_out_is_looked_for_before_it_is_posted_again(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    (message_id,) = outbox.queue("CRITICAL page")
    slack.delay = 1.5  # past the transport's 1 s (rounded) timeout below; Slack posts it anyway
    outbox.transport._client.timeout = 1  # type: ignore[union-attr]
    report = outbox.delivery.deliver()
    assert report.sent == 0 and texts(slack) == ["CRITICAL page"]
    assert outbox.store.outbox.message(message_id).in_flight  # type: ignore[union-attr]
    slack.delay = 0.0
    clock.advance(60)
    assert outbox.delivery.deliver().sent == 1
    # Found by its metadata in the channel's history: marked sent, not posted again.
    assert texts(slack) == ["CRITICAL page"]
    assert len(slack.calls("conversations.history")) == 1
    sent = outbox.store.outbox.message(message_id)
    assert sent is not None and sent.posted_ts == slack.messages[0].ts
    meta = slack.messages[0].metadata
    assert meta is not None and meta["event_type"] == "cutover_watcher_message"
    assert meta["event_payload"]["outbox_id"] == message_id


def test_a_crash_between_slacks_answer_and_the_mark_does_not_post_twice(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    (message_id,) = outbox.queue("CRITICAL page")
    # The process claims the message, Slack posts it, and the process dies before the mark.
    item = outbox.store.outbox.claim_next(clock.now(), clock.now() + timedelta(seconds=300), "dead")
    assert item is not None
    transport = outbox.transport
    transport.post(transport.render(item), None, Tag(item.id, transport._store_id(outbox.store)))
    outbox.restart()  # a new process: the claim is someone else's until it expires
    assert outbox.delivery.deliver().sent == 0
    clock.advance(301)
    assert outbox.delivery.deliver().sent == 1
    assert texts(slack) == ["CRITICAL page"]
    assert outbox.store.outbox.message(message_id).status == "sent"  # type: ignore[union-attr]


def test_without_a_history_scope_an_unknown_outcome_is_posted_again_with_a_warning(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack.scopes = {"chat:write"}
    outbox.queue("CRITICAL page")
    slack.delay = 1.5
    outbox.transport._client.timeout = 1  # type: ignore[union-attr]
    outbox.delivery.deliver()
    slack.delay = 0.0
    clock.advance(60)
    with caplog.at_level(logging.WARNING):
        assert outbox.delivery.deliver().sent == 1
    # Today's behaviour: at least once, so maybe twice; and the log says what to grant.
    assert texts(slack) == ["CRITICAL page", "CRITICAL page"]
    assert "channels:history" in caplog.text and "groups:history" in caplog.text


def test_back_off_runs_from_the_end_of_the_attempt(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    (message_id,) = outbox.queue("page")
    # An attempt that takes 30 s on the clock (a slow failure), then fails.
    slack.fail_when = lambda call: (clock.advance(30), FakeSlack.unavailable())[1]
    started = clock.now()
    outbox.delivery.deliver()
    retry_at = outbox.store.outbox.message(message_id).next_attempt_at  # type: ignore[union-attr]
    assert retry_at == started + timedelta(seconds=31)  # 30 s attempt + 1 s back-off


def test_two_deliveries_on_one_postgres_store_send_each_message_once(
    pg_server: PgServer, slack: FakeSlack
) -> None:
    with empty_database(pg_server) as database:
        stores = [StateStore.from_url(database.url) for _ in range(2)]
        try:
            clock = FakeClock()
            stores[0].outbox.enqueue(
                [Message("post", Notice.text(f"m{i}")) for i in range(20)], clock.now()
            )
            deliveries = [
                Delivery(
                    s,
                    [SlackTransport(TOKEN, slack.api_url, "#ops-alerts", 2, Composer("raxx"))],
                    clock,
                )
                for s in stores
            ]
            threads = [threading.Thread(target=d.deliver) for d in deliveries]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(texts(slack)) == sorted(f"m{i}" for i in range(20))  # type: ignore[type-var]
            assert stores[0].outbox.counts() == {"sent": 20}
        finally:
            for store in stores:
                store.close()


def test_a_look_up_that_fails_keeps_the_outcome_unknown(
    outbox: Outbox, slack: FakeSlack, clock: FakeClock
) -> None:
    (message_id,) = outbox.queue("CRITICAL page")
    slack.delay = 1.5
    outbox.transport._client.timeout = 1  # type: ignore[union-attr]
    outbox.delivery.deliver()
    slack.delay = 0.0
    slack.fail_next(FakeSlack.unavailable())  # the look-up itself meets a 503
    clock.advance(60)
    assert outbox.delivery.deliver().sent == 0
    assert outbox.store.outbox.message(message_id).in_flight  # type: ignore[union-attr]
    clock.advance(60)
    assert outbox.delivery.deliver().sent == 1
    assert texts(slack) == ["CRITICAL page"]


def test_a_posted_message_keeps_slacks_permalink(outbox: Outbox, slack: FakeSlack) -> None:
    (message_id,) = outbox.queue("first")
    outbox.delivery.deliver()
    (posted,) = slack.messages
    kept = outbox.store.outbox.message(message_id)
    assert kept is not None
    assert kept.permalink == (
        f"https://raxx.slack.com/archives/{posted.channel}/p{posted.ts.replace('.', '')}"
    )
    (asked,) = slack.calls("chat.getPermalink")
    # slack_sdk's WebClient posts every method as a form, whatever its documented verb.
    assert parse_qs(asked.body.decode())["message_ts"] == [posted.ts]


@pytest.mark.parametrize(
    "answer",
    [
        FakeSlack.error("message_not_found"),
        FakeSlack.ratelimited(),
        FakeSlack.unavailable(),
        Reply(200, chunks=[b'{"ok": tr', CUT]),
    ],
)
def test_no_permalink_leaves_the_message_delivered_once(
    outbox: Outbox, slack: FakeSlack, answer: Reply
) -> None:
    (message_id,) = outbox.queue("first")
    # The post succeeds; the permalink lookup right after it gets the failure.
    slack.fail_when = lambda call: answer if call.method == "chat.getPermalink" else None
    report = outbox.delivery.deliver()
    assert (report.sent, report.pending, report.failed) == (1, 0, [])
    kept = outbox.store.outbox.message(message_id)
    assert kept is not None and kept.status == "sent" and kept.permalink is None
    assert texts(slack) == ["first"]
    assert outbox.failures("ratelimited") == 0  # a lookup is no notification failure
