"""A watcher steered by people: the composition root's notifier over one state store, against the
Slack fake, with the injected clock; `watcher ack`, `snooze` and `status` run in-process on the
same store. Shared by the incident tests and the steering commands' tests."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes.slack import TOKEN, FakeSlack, Posted
from tests.support.clock import FakeClock
from watcher.checking.runner import CheckReport
from watcher.cli.main import main
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import load_settings

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


def text(message: Posted) -> str:
    return message.current_text or ""


def blocks_text(message: Posted) -> str:
    return json.dumps(message.current_blocks)


class Records(logging.Handler):
    """The alert-change lines the escalation logs (the CLI resets the root logger's handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def recording_changes() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("watcher.alerting.escalation")
    handler = Records()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)
