"""healthz against a real HTTP server on 127.0.0.1: every outcome has its own finding id."""

from __future__ import annotations

import httpx
import pytest

from checks import healthz
from checks.clock import SystemClock
from checks.healthz import HealthzOptions
from checks.result import Result, State
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.http import Reply, Request, closed_port, json_reply
from tests.support.clock import FakeClock


def probe(
    server: FakeHealthz, http: httpx.Client, clock: FakeClock, timeout: float = 8.0
) -> Result:
    return healthz.check(http, HealthzOptions(server.healthz_url, timeout=timeout), clock)


def finding_ids(result: Result) -> list[str]:
    return [f.id for f in result.findings]


def test_postgresql_and_ok_is_ok(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    result = probe(healthz_server, http, clock)
    assert result.state == State.OK
    assert result.findings == ()
    assert "db=postgresql" in result.summary and "1.4.2" in result.summary
    assert result.metrics["up"] == 1.0 and result.metrics["status_code"] == 200
    assert healthz_server.requests[0].headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("reply", "finding", "words"),
    [
        (healthy(db="sqlite"), "healthz.db_sqlite", "db=sqlite"),
        (healthy(db="SQLite"), "healthz.db_sqlite", "db=sqlite"),
        (healthy(db="mysql"), "healthz.db_unexpected", "db='mysql'"),
        (json_reply({"status": "ok", "version": "1"}), "healthz.db_unexpected", "db=missing"),
        (healthy(status="degraded"), "healthz.unhealthy", "status='degraded'"),
        (maintenance(), "healthz.maintenance", "maintenance mode"),
        (json_reply({"error": "boom"}, 500), "healthz.http_status", "HTTP 500"),
        (
            Reply(503, "upstream down", {"Content-Type": "text/plain"}),
            "healthz.http_status",
            "HTTP 503",
        ),
        (Reply(302, b"", {"Location": "/login"}), "healthz.http_status", "HTTP 302"),
        (
            Reply(200, "<html>hello</html>", {"Content-Type": "text/html"}),
            "healthz.bad_body",
            "not JSON (text/html",
        ),
        (
            Reply(200, '{"status": "ok", "db"', {"Content-Type": "application/json"}),
            "healthz.bad_body",
            "not JSON",
        ),
        (json_reply(["ok", "postgresql"]), "healthz.bad_body", "not an object"),
        (
            json_reply({"status": "ok", "db": "postgresql", "pad": "x" * 100_000}),
            "healthz.bad_body",
            "body over",
        ),
    ],
)
def test_each_failure_is_critical_with_its_own_finding(
    healthz_server: FakeHealthz,
    http: httpx.Client,
    clock: FakeClock,
    reply: Reply,
    finding: str,
    words: str,
) -> None:
    healthz_server.reply = reply
    result = probe(healthz_server, http, clock)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == [finding]
    assert words in result.summary
    assert result.metrics["up"] == 0.0


def test_sqlite_and_not_ok_report_both(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    healthz_server.reply = healthy(db="sqlite", status="degraded")
    result = probe(healthz_server, http, clock)
    assert sorted(finding_ids(result)) == ["healthz.db_sqlite", "healthz.unhealthy"]


def test_slow_answer_is_warning(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    def slow(request: Request) -> Reply:
        clock.advance(2.5)  # the server takes 2.5 s on the injected clock
        return healthy()

    healthz_server.respond = slow
    result = probe(healthz_server, http, clock)
    assert result.state == State.WARNING
    assert finding_ids(result) == ["healthz.slow"]
    assert "2.5 s" in result.summary
    assert result.metrics["latency_seconds"] == pytest.approx(2.5)


def test_slow_and_sqlite_is_critical_and_names_both(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    def slow_sqlite(request: Request) -> Reply:
        clock.advance(3)
        return healthy(db="sqlite")

    healthz_server.respond = slow_sqlite
    result = probe(healthz_server, http, clock)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == ["healthz.db_sqlite", "healthz.slow"]
    assert result.summary.index("sqlite") < result.summary.index("slow")


def test_no_answer_within_timeout_is_critical_timeout(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    healthz_server.reply = Reply(200, healthy().body, delay=5)
    result = probe(healthz_server, http, clock, timeout=0.3)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == ["healthz.timeout"]
    assert result.summary == "no complete answer within 0.3 s"


def test_answer_trickled_past_the_timeout_is_critical_timeout(
    healthz_server: FakeHealthz, http: httpx.Client
) -> None:
    body = b'{"status": "ok", "db": "postgresql"}'
    healthz_server.reply = Reply(200, chunks=[bytes([b]) for b in body], chunk_delay=0.1)
    real = SystemClock()  # the server really trickles: a byte every 0.1 s
    started = real.monotonic()
    result = healthz.check(http, HealthzOptions(healthz_server.healthz_url, timeout=1.0), real)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == ["healthz.timeout"]
    assert real.monotonic() - started < 2


def test_postgresql_in_any_case_is_ok(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    healthz_server.reply = healthy(db="PostgreSQL")
    assert probe(healthz_server, http, clock).state == State.OK


def test_connection_refused_is_critical_unreachable(http: httpx.Client, clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{closed_port()}/healthz"
    result = healthz.check(http, HealthzOptions(url, timeout=2), clock)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == ["healthz.unreachable"]
    assert "connection refused" in result.summary
    assert "127.0.0.1" not in result.summary


def test_connection_dropped_without_answer_is_critical_unreachable(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    healthz_server.reply = Reply(drop=True)
    result = probe(healthz_server, http, clock)
    assert result.state == State.CRITICAL
    assert finding_ids(result) == ["healthz.unreachable"]
    assert "closed the connection" in result.summary


def test_untrusted_body_values_are_cut_short(
    healthz_server: FakeHealthz, http: httpx.Client, clock: FakeClock
) -> None:
    healthz_server.reply = healthy(db="<!channel> " + "x" * 500)
    result = probe(healthz_server, http, clock)
    assert finding_ids(result) == ["healthz.db_unexpected"]
    assert len(result.summary) < 120
