"""Pushing to the real Pushgateway, and every way a push fails, as a short reason."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge

from tests.fakes.http import FakeServer, Reply, Request, SilentServer, closed_port
from tests.support.pushgateway import Pushgateway
from watcher.telemetry import pushgateway

PASSWORD = "p@ss/w0rd+gw"
ENCODED = "p%40ss%2Fw0rd%2Bgw"


def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("watcher_healthz_up", "healthz answered", registry=registry).set(1)
    return registry


@pytest.fixture(scope="module")
def gateway() -> Iterator[Pushgateway]:
    with Pushgateway() as server:
        yield server


def test_a_push_lands_under_job_and_app(gateway: Pushgateway) -> None:
    assert pushgateway.push(gateway.url, registry(), "raxx-api-prod", timeout=5) is None
    text = gateway.metrics_text()
    assert 'watcher_healthz_up{app="raxx-api-prod",instance="",job="cutover-watcher"} 1' in text


def test_a_second_push_replaces_the_first(gateway: Pushgateway) -> None:
    metrics = registry()
    gauge = Gauge("watcher_public_tables", "tables", registry=metrics)
    gauge.set(35)
    assert pushgateway.push(f"{gateway.url}/", metrics, "replaced-app", timeout=5) is None
    gauge.set(36)
    assert pushgateway.push(gateway.url, metrics, "replaced-app", timeout=5) is None
    text = gateway.metrics_text()
    assert 'watcher_public_tables{app="replaced-app",instance="",job="cutover-watcher"} 36' in text
    assert (
        'watcher_public_tables{app="replaced-app",instance="",job="cutover-watcher"} 35' not in text
    )


def test_refused_connection_is_network() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert pushgateway.push(url, registry(), "a", timeout=2) == "network"


def test_an_error_status_is_http_status() -> None:
    with FakeServer(lambda request: Reply(500, "boom")) as server:
        assert pushgateway.push(server.url, registry(), "a", timeout=2) == "http_500"
        assert [r.method for r in server.requests] == ["PUT"]


def test_no_answer_is_timeout_within_the_time_given() -> None:
    with SilentServer() as silent:
        started = time.monotonic()
        reason = pushgateway.push(f"http://127.0.0.1:{silent.port}", registry(), "a", 0.3)
        took = time.monotonic() - started
    assert reason == "timeout"
    assert took < 2


def test_userinfo_becomes_basic_auth_and_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    wanted = "Basic " + base64.b64encode(f"pusher:{PASSWORD}".encode()).decode()

    def answer(request: Request) -> Reply:
        ok = request.headers.get("authorization") == wanted
        return Reply(200 if ok else 401)

    caplog.set_level(logging.DEBUG)
    with FakeServer(answer) as server:
        host = server.url.removeprefix("http://")
        good = f"http://pusher:{ENCODED}@{host}/"
        bad = f"http://pusher:{ENCODED}x@{host}"
        assert pushgateway.push(good, registry(), "a", timeout=2) is None
        assert pushgateway.push(bad, registry(), "a", timeout=2) == "http_401"
        paths = [r.path for r in server.requests]
    # The credentials go as a header, never in the request line.
    assert paths == ["/metrics/job/cutover-watcher/app/a"] * 2
    for secret in (PASSWORD, ENCODED):
        assert secret not in caplog.text


def test_userinfo_survives_a_failure_unshown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://pusher:{ENCODED}@127.0.0.1:{closed_port()}"
    reason = pushgateway.push(url, registry(), "a", timeout=2)
    assert reason == "network"
    assert PASSWORD not in caplog.text and ENCODED not in caplog.text


def test_a_malformed_url_is_a_reason_not_an_exception() -> None:
    assert pushgateway.push("http://127.0.0.1:99999", registry(), "a", timeout=1) == "bad_url"
