"""The watcher's own Sentry, against a fake ingest endpoint speaking the envelope protocol."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sentry_sdk

from tests.fakes.http import SilentServer, closed_port
from tests.fakes.sentry_ingest import PROJECT_ID, PUBLIC_KEY, FakeSentryIngest
from watcher.redact import MASK, Redactor
from watcher.telemetry.self_monitoring import SelfMonitoring

SECRET = "xoxb-live/7f3e+slack"
ENCODED = quote(SECRET, safe="")


@pytest.fixture
def ingest() -> Iterator[FakeSentryIngest]:
    server = FakeSentryIngest()
    with server:
        yield server


@pytest.fixture
def started() -> Iterator[list[SelfMonitoring]]:
    """Monitors a test starts are closed after it: the SDK's client is process-global."""
    monitors: list[SelfMonitoring] = []
    yield monitors
    for monitor in monitors:
        monitor.close(timeout=0.5)
    assert not sentry_sdk.get_client().is_active()


def start(dsn: str | None, started: list[SelfMonitoring]) -> SelfMonitoring:
    monitor = SelfMonitoring(dsn, "0.1.0", "production", Redactor([SECRET]))
    started.append(monitor)
    monitor.start()
    return monitor


def fail_with_a_local() -> None:
    # Built at run time, so the source line Sentry sends as context does not hold it.
    session_url = "-".join(["https://logs.example/sessions/unknown", "session", "token", "77"])
    assert session_url
    raise RuntimeError(f"login failed for {SECRET} at https://h/?t={ENCODED}")


def test_an_exception_arrives_with_the_secret_masked(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    monitor = start(ingest.dsn, started)
    try:
        fail_with_a_local()
    except RuntimeError:
        sentry_sdk.capture_exception()
    monitor.flush(timeout=5)
    [event] = ingest.events()
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == f"login failed for {MASK} at https://h/?t={MASK}"
    assert (event["release"], event["environment"]) == ("0.1.0", "production")
    text = ingest.text()
    assert SECRET not in text and ENCODED not in text
    # Frame locals are not sent: they may hold credentials the redactor does not know.
    assert "unknown-session-token-77" not in text
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_no_personal_data_is_sent(ingest: FakeSentryIngest, started: list[SelfMonitoring]) -> None:
    monitor = start(ingest.dsn, started)
    monitor.report_failure("notification failed for good")
    monitor.flush(timeout=5)
    [event] = ingest.events()
    assert "ip_address" not in ingest.text()
    assert "user" not in event or "ip_address" not in event["user"]


def test_report_failure_is_an_error_event_with_tags(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    monitor = start(ingest.dsn, started)
    monitor.report_failure(
        f"notification failed for good: invalid_auth with {SECRET}",
        reason="invalid_auth",
        detail=SECRET,
    )
    monitor.flush(timeout=5)
    [event] = ingest.events()
    assert event["level"] == "error"
    assert event["message"] == f"notification failed for good: invalid_auth with {MASK}"
    assert event["tags"]["reason"] == "invalid_auth"
    assert event["tags"]["detail"] == MASK
    assert SECRET not in ingest.text()


def test_log_lines_are_neither_events_nor_breadcrumbs(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    monitor = start(ingest.dsn, started)
    logging.getLogger("watcher.test").error("delivery failed; trying again")
    monitor.report_failure("the one event")
    monitor.flush(timeout=5)
    [event] = ingest.events()
    assert event["message"] == "the one event"
    assert "delivery failed" not in ingest.text()


def test_a_cycle_is_one_check_in_opened_then_closed(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    monitor = start(ingest.dsn, started)
    monitor.checkin("in_progress", 15)
    monitor.checkin("ok", 15)
    monitor.checkin("in_progress", 15)
    monitor.checkin("error", 15)
    monitor.flush(timeout=5)
    check_ins = ingest.check_ins()
    assert [c["status"] for c in check_ins] == ["in_progress", "ok", "in_progress", "error"]
    assert {c["monitor_slug"] for c in check_ins} == {"cutover-watcher"}
    # The closing check-in carries the id of the one it closes; each cycle has its own.
    ids = [c["check_in_id"] for c in check_ins]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert check_ins[0]["monitor_config"] == {
        "schedule": {"type": "interval", "value": 15, "unit": "minute"},
        "checkin_margin": 5,
        "max_runtime": 10,
    }
    assert (check_ins[0]["environment"], check_ins[0]["release"]) == ("production", "0.1.0")


def test_the_ingest_fake_checks_the_key_and_project(ingest: FakeSentryIngest) -> None:
    assert ingest.dsn == f"http://{PUBLIC_KEY}@{ingest.url.removeprefix('http://')}/{PROJECT_ID}"
    wrong = ingest.dsn.replace(PUBLIC_KEY, "0" * 32)
    monitor = SelfMonitoring(wrong, "0.1.0", "production", Redactor([]))
    monitor.start()
    try:
        monitor.report_failure("refused")
        monitor.flush(timeout=5)
    finally:
        monitor.close(timeout=0.5)
    assert ingest.requests and ingest.items == []


def test_without_a_dsn_nothing_is_sent_and_nothing_fails(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    monitor = start(None, started)
    assert not monitor.enabled
    monitor.checkin("in_progress", 15)
    monitor.checkin("ok", 15)
    monitor.report_failure("nobody hears this")
    monitor.flush(timeout=5)
    assert not sentry_sdk.get_client().is_active()
    assert ingest.requests == []


def test_an_invalid_dsn_turns_monitoring_off_without_showing_it(
    started: list[SelfMonitoring], caplog: pytest.LogCaptureFixture
) -> None:
    monitor = start("not-a-dsn-but-secretish", started)
    assert not monitor.enabled
    assert "SENTRY_DSN" in caplog.text
    assert "secretish" not in caplog.text
    monitor.report_failure("dropped")


@pytest.mark.parametrize("down", ["refused", "silent"])
def test_flush_returns_within_its_timeout_when_sentry_is_down(
    down: str, started: list[SelfMonitoring]
) -> None:
    with SilentServer() as silent:
        port = closed_port() if down == "refused" else silent.port
        monitor = start(f"http://{PUBLIC_KEY}@127.0.0.1:{port}/{PROJECT_ID}", started)
        monitor.report_failure("nobody is listening")
        monitor.checkin("in_progress", 15)
        began = time.monotonic()
        monitor.flush(timeout=0.5)
        took = time.monotonic() - began
        assert took < 1.5
        began = time.monotonic()
        monitor.close(timeout=0.5)
        assert time.monotonic() - began < 1.5


def test_check_ins_pass_through_the_redactor_too(
    ingest: FakeSentryIngest, started: list[SelfMonitoring]
) -> None:
    # Contrived on purpose: a secret in the environment name would ride on every check-in.
    monitor = SelfMonitoring(ingest.dsn, "0.1.0", f"production-{SECRET}", Redactor([SECRET]))
    started.append(monitor)
    monitor.start()
    monitor.checkin("ok", 15)
    monitor.flush(timeout=5)
    [check_in] = ingest.check_ins()
    assert check_in["environment"] == f"production-{MASK}"
    assert SECRET not in ingest.text()
