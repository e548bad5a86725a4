"""The test servers themselves work here: the Slack fake and the real Prometheus family."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app, push_to_gateway
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.http import Reply
from tests.fakes.slack import CHANNEL_ID, TOKEN, FakeSlack
from tests.support.alertmanager import Alertmanager
from tests.support.prometheus import Prometheus, ScrapeTarget, promtool_check_rules
from tests.support.pushgateway import Pushgateway

METRICS_TOKEN = "metrics-fake-token-5e2d"


def client(slack: FakeSlack, token: str = TOKEN) -> WebClient:
    # No retry handlers: each test sees exactly one answer per call.
    return WebClient(token=token, base_url=slack.api_url, timeout=5, retry_handlers=[])


def test_slack_records_a_post_a_thread_reply_and_an_update(slack: FakeSlack) -> None:
    web = client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*healthz* db=sqlite"}}]
    posted = web.chat_postMessage(channel="#ops-alerts", text="healthz CRITICAL", blocks=blocks)
    assert posted["ok"] and posted["channel"] == CHANNEL_ID
    reply = web.chat_postMessage(channel=CHANNEL_ID, text="still firing", thread_ts=posted["ts"])
    assert float(reply["ts"]) > float(posted["ts"])
    web.chat_update(channel=posted["channel"], ts=posted["ts"], text="RESOLVED healthz")

    [top] = slack.top_level()
    assert (top.text, top.blocks, top.current_text) == (
        "healthz CRITICAL",
        blocks,
        "RESOLVED healthz",
    )
    assert [m.text for m in slack.replies(top.ts)] == ["still firing"]
    assert web.auth_test()["user_id"]


def test_slack_update_of_an_unknown_message_and_a_wrong_token_fail(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client(slack).chat_update(channel=CHANNEL_ID, ts="1.000100", text="x")
    assert unknown.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as wrong:
        client(slack, "xoxb-wrong").chat_postMessage(channel="#ops-alerts", text="x")
    assert wrong.value.response.status_code == 200
    assert wrong.value.response["error"] == "invalid_auth"
    assert slack.messages == []


def test_slack_failures_are_answered_in_turn_and_record_nothing(slack: FakeSlack) -> None:
    web = client(slack)
    slack.fail_next(FakeSlack.ratelimited(retry_after=3), Reply(500, "boom"))
    with pytest.raises(SlackApiError) as limited:
        web.chat_postMessage(channel="#ops-alerts", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "3"
    assert limited.value.response["error"] == "ratelimited"
    with pytest.raises(SlackApiError) as failed:
        web.chat_postMessage(channel="#ops-alerts", text="x")
    assert failed.value.response.status_code == 500

    slack.fail_when = FakeSlack.reject_long_text()
    with pytest.raises(SlackApiError) as long:
        web.chat_postMessage(channel="#ops-alerts", text="x" * 40_001)
    assert long.value.response["error"] == "msg_too_long"
    slack.outage = True
    with pytest.raises(SlackApiError) as down:
        web.chat_postMessage(channel="#ops-alerts", text="x")
    assert down.value.response.status_code == 503
    assert slack.messages == []

    slack.outage = False
    web.chat_postMessage(channel="ops-alerts", text="x" * 40_000)
    slack.wait_for(lambda: len(slack.top_level()) == 1, timeout=1)


def test_alertmanager_accepts_and_lists_an_alert(alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "WatcherCheckCritical", "check": "healthz", "test": "am-list"},
        "annotations": {"summary": "db=sqlite"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    posted = httpx.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=5)
    assert posted.status_code == 200
    [listed] = alertmanager.alerts(test="am-list")
    assert listed["labels"]["check"] == "healthz"
    assert listed["annotations"] == {"summary": "db=sqlite"}


@pytest.fixture
def metrics_server() -> Iterator[str]:
    """A prometheus_client WSGI app on 127.0.0.1 that wants METRICS_TOKEN; yields host:port."""
    registry = CollectorRegistry()
    Gauge("watcher_healthz_up", "healthz answered", registry=registry).set(1)
    metrics = make_wsgi_app(registry)

    def guarded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {METRICS_TOKEN}":
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"unauthorized\n"]
        answer: Iterable[bytes] = metrics(environ, start_response)
        return answer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server: WSGIServer = make_server("127.0.0.1", 0, guarded, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_prometheus_scrapes_with_a_bearer_token(metrics_server: str) -> None:
    target = ScrapeTarget(metrics_server, bearer_token=METRICS_TOKEN)
    with Prometheus([target]) as prometheus:
        prometheus.wait_for_target_up(timeout=20)
        [sample] = prometheus.wait_for_result("watcher_healthz_up", timeout=20)
    assert sample["metric"]["job"] == "watcher"
    assert sample["value"][1] == "1"


def test_promtool_checks_rules(tmp_path: Any) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "groups:\n- name: watcher\n  rules:\n  - alert: WatcherDown\n    expr: up == 0\n"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: watcher\n  rules:\n  - alert: Broken\n    expr: up ==\n")
    assert promtool_check_rules([good]).returncode == 0
    assert promtool_check_rules([bad]).returncode != 0


def test_pushgateway_accepts_a_push() -> None:
    registry = CollectorRegistry()
    Counter("watcher_notifications", "sent", ["channel"], registry=registry).labels("slack").inc()
    with Pushgateway() as gateway:
        push_to_gateway(gateway.address, job="cutover-watcher", registry=registry, timeout=5)
        text = gateway.metrics_text()
    assert (
        'watcher_notifications_total{channel="slack",instance="",job="cutover-watcher"} 1' in text
    )
