"""`/metrics` over real HTTP on 127.0.0.1, with and without the bearer token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from watcher.telemetry.metrics_server import MetricsServer

TOKEN = "metrics-tok-5a7c9e"


def registry_with_a_gauge() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("watcher_healthz_up", "healthz answered", registry=registry).set(1)
    return registry


@pytest.fixture
def guarded() -> Iterator[str]:
    """A server that wants TOKEN; yields its base URL."""
    server = MetricsServer(registry_with_a_gauge(), 0, TOKEN, host="127.0.0.1")
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def open_server() -> Iterator[str]:
    server = MetricsServer(registry_with_a_gauge(), 0, None, host="127.0.0.1")
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def get(url: str, **headers: str | bytes) -> httpx.Response:
    # As bytes: a test sends header values httpx would refuse to encode as text.
    raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
    return httpx.get(url, headers=raw, timeout=5, trust_env=False)


def shows_no_secret(answer: httpx.Response) -> bool:
    return TOKEN not in answer.text and all(TOKEN not in v for v in answer.headers.values())


def test_without_the_token_401_and_no_metrics(guarded: str) -> None:
    answer = get(f"{guarded}/metrics")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "watcher_" not in answer.text
    assert shows_no_secret(answer)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token-000",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer",
        "Bearer caf\u00e9".encode(),
    ],
)
def test_a_wrong_token_is_401(guarded: str, authorization: str | bytes) -> None:
    answer = get(f"{guarded}/metrics", Authorization=authorization)
    assert answer.status_code == 401
    assert "watcher_" not in answer.text
    assert shows_no_secret(answer)


def test_the_right_token_gets_the_metrics(guarded: str) -> None:
    answer = get(f"{guarded}/metrics", Authorization=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert "watcher_healthz_up 1.0" in answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert shows_no_secret(answer)
    # The scheme is case-insensitive (RFC 6750 follows RFC 7235).
    assert get(f"{guarded}/metrics", Authorization=f"bearer {TOKEN}").status_code == 200


def test_without_a_token_metrics_are_open(open_server: str) -> None:
    answer = get(f"{open_server}/metrics")
    assert answer.status_code == 200
    assert "watcher_healthz_up 1.0" in answer.text


def test_other_paths_are_404_and_health_needs_no_token(guarded: str) -> None:
    for path in ("/", "/metrics/", "/metricsx", "/favicon.ico", "/-/ready"):
        answer = get(f"{guarded}{path}", Authorization=f"Bearer {TOKEN}")
        assert (path, answer.status_code) == (path, 404)
        assert "watcher_" not in answer.text
    health = get(f"{guarded}/-/healthy")
    assert (health.status_code, health.text) == (200, "ok\n")


def test_requests_are_never_logged_to_stderr(
    guarded: str, capfd: pytest.CaptureFixture[str]
) -> None:
    get(f"{guarded}/metrics", Authorization=f"Bearer {TOKEN}")
    get(f"{guarded}/metrics")
    get(f"{guarded}/nothing")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_stop_releases_the_port() -> None:
    server = MetricsServer(registry_with_a_gauge(), 0, None, host="127.0.0.1")
    server.start()
    port = server.port
    assert port != 0
    assert get(f"http://127.0.0.1:{port}/metrics").status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        get(f"http://127.0.0.1:{port}/metrics")
    server.stop()  # a second stop is harmless


def test_a_taken_port_fails_start() -> None:
    first = MetricsServer(registry_with_a_gauge(), 0, None, host="127.0.0.1")
    first.start()
    try:
        with pytest.raises(OSError):
            MetricsServer(registry_with_a_gauge(), first.port, None, host="127.0.0.1").start()
    finally:
        first.stop()


def test_a_non_ascii_token_is_compared_as_utf8_bytes() -> None:
    token = "t\u00f6k-\u00e9-31415"
    server = MetricsServer(registry_with_a_gauge(), 0, token, host="127.0.0.1")
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        assert get(url, Authorization=f"Bearer {token}".encode()).status_code == 200
        assert get(url, Authorization=b"Bearer tok-e-31415").status_code == 401
    finally:
        server.stop()


PAGE = '<!DOCTYPE html><html lang="en"><title>report</title><p>the watch</p></html>'


@pytest.fixture
def with_page() -> Iterator[str]:
    """A server with the report page at `/`, behind TOKEN."""
    server = MetricsServer(registry_with_a_gauge(), 0, TOKEN, host="127.0.0.1", page=lambda: PAGE)
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def test_the_report_page_is_served_at_the_root_with_the_token(with_page: str) -> None:
    answer = get(f"{with_page}/", Authorization=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert answer.text == PAGE
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["cache-control"] == "no-store"


def test_the_report_page_needs_the_token(with_page: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = get(f"{with_page}/", **headers)
        assert answer.status_code == 401
        assert "the watch" not in answer.text
        assert shows_no_secret(answer)


def test_without_a_page_the_root_is_not_found(guarded: str) -> None:
    assert get(f"{guarded}/", Authorization=f"Bearer {TOKEN}").status_code == 404


def test_a_page_that_cannot_be_built_is_a_503_that_says_nothing_more() -> None:
    def broken() -> str:
        raise RuntimeError("state store postgresql://watcher:hunter2@db/x: connection refused")

    server = MetricsServer(registry_with_a_gauge(), 0, None, host="127.0.0.1", page=broken)
    server.start()
    try:
        answer = get(f"http://127.0.0.1:{server.port}/")
        metrics = get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.stop()
    assert answer.status_code == 503
    assert "hunter2" not in answer.text and "postgresql" not in answer.text
    assert metrics.status_code == 200  # the scrape goes on
