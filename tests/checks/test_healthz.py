"""healthz against a real HTTP server on 127.0.0.1: every outcome has its own finding id."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from checks import healthz
from checks.healthz import HealthzOptions
from checks.result import Result, State
from checks.sources.clock import SystemClock
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
    # The URL it tried, so a wrong WATCHER_HEALTHZ_URL shows (issue 19).
    assert result.summary == f"unreachable: connection refused (GET {url})"


def test_unreachable_names_the_url_without_credentials_or_query(
    http: httpx.Client, clock: FakeClock
) -> None:
    port = closed_port()
    url = f"http://watch:s3cret-pw@127.0.0.1:{port}/healthz?token=q-secret"
    result = healthz.check(http, HealthzOptions(url, timeout=2), clock)
    assert result.summary == (
        f"unreachable: connection refused (GET http://127.0.0.1:{port}/healthz)"
    )


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


# Property-based (issue 7): whatever a 200 carries, the check answers with a defined finding
# and never raises. One server per test (the fixtures); each example sets the body it sends.

FINDINGS = {"healthz.bad_body", "healthz.unhealthy", "healthz.db_sqlite", "healthz.db_unexpected"}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# The values that decide the state, in the spellings the app might send, and anything else.
DBS = st.sampled_from(["postgresql", "PostgreSQL", "sqlite", "SQLite", "mysql", ""]) | JSON
STATUSES = st.sampled_from(["ok", "OK", "degraded"]) | JSON
# Mostly both deciding keys (so many examples are healthy), sometimes either is missing.
OBJECTS = st.fixed_dictionaries(
    {"status": STATUSES, "db": DBS}, optional={"version": JSON, "pad": JSON}
) | st.fixed_dictionaries({}, optional={"status": STATUSES, "db": DBS, "version": JSON})
# Nesting past the parser's recursion limit, and nesting it reads (kept clear of the limit:
# where exactly it lies depends on the stack depth of the caller).
DEEP = st.integers(5_000, 40_000) | st.integers(1, 200)
BODIES = st.one_of(
    st.binary(max_size=400),
    JSON.map(lambda v: json.dumps(v).encode()),
    OBJECTS.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    OBJECTS.map(lambda v: json.dumps(v).encode()),
    DEEP.map(lambda n: b"[" * n + b"]" * n),
    DEEP.map(
        lambda n: b'{"status": "ok", "db": "postgresql", "version": %s}' % (b"[" * n + b"]" * n)
    ),
)


def as_json(body: bytes) -> object:
    """The body's JSON, or None for a body no parser reads (not JSON, or nested too deep)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, content_type=st.sampled_from(["application/json", "text/html", ""]))
@example(body=b"[" * 5_000, content_type="application/json")
@example(body=b'{"status": "ok", "db": "PostgreSQL"}', content_type="application/json")
@example(body=b'{"status": "ok", "db": "SQLite"}', content_type="application/json")
def test_property_any_200_body_is_a_defined_finding(
    healthz_server: FakeHealthz,
    http: httpx.Client,
    clock: FakeClock,
    body: bytes,
    content_type: str,
) -> None:
    healthz_server.reply = Reply(200, body, {"Content-Type": content_type} if content_type else {})
    result = probe(healthz_server, http, clock)
    ids = set(finding_ids(result))
    assert ids <= FINDINGS
    assert all(f.state == State.CRITICAL for f in result.findings)
    assert result.state == (State.CRITICAL if ids else State.OK)
    assert result.metrics["up"] == (0.0 if ids else 1.0)
    # Values echoed from the body are cut and cleaned: one printable line, never the body.
    assert result.summary.isprintable() and len(result.summary) < 300
    payload = as_json(body)
    if not isinstance(payload, dict):
        assert ids == {"healthz.bad_body"}
        return
    db = payload.get("db")
    engine = db.lower() if isinstance(db, str) else None
    assert ("healthz.db_sqlite" in ids) == (engine == "sqlite")
    healthy = payload.get("status") == "ok" and engine == "postgresql"
    assert (result.state == State.OK) == healthy
