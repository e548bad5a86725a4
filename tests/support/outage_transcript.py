"""A simulated database outage through the watcher's real pipeline, as the Slack fake recorded it.

Used by `scripts/outage-transcript` (and its test): the composition root's notifier, a SQLite
state store, the Slack fake (a real HTTP server slack_sdk accepts) and a moved clock. Four
checks fire at once (healthz, pg_connections, the OperationalError log pattern, a Sentry issue),
a WARNING joins, a reminder pings, `watcher ack` is run, then everything resolves. Prints the
channel (top-level posts with their edits, thread replies) and the run's log lines, stamped as
`heroku logs` shows them.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes.slack import TOKEN, FakeSlack, Posted
from tests.support.clock import CUTOVER, FakeClock
from watcher.checking.runner import CheckReport
from watcher.cli.main import main as watcher_main
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.telemetry import logfmt

MENTION = "<@U024BE7LH>"
# What the checks report while the database is down (their real summaries' shape).
DOWN = {
    "healthz": Finding(
        "healthz.unhealthy", State.CRITICAL, "HTTP 503, status=error db=unreachable"
    ),
    "pg_connections": Finding(
        "pg_connections.connections",
        State.CRITICAL,
        "23 of 25 connections (limit 25; warn 15, crit 20); the watcher's own included",
    ),
    "logs": Finding(
        "logs.operational_error",
        State.CRITICAL,
        "operational_error: 14 lines in the last 30 min (first 16:48:40Z)",
    ),
    "sentry": Finding(
        "sentry.4711",
        State.CRITICAL,
        "new issue 4711: OperationalError: connection to server failed (212 events)",
    ),
}
SLOW = Finding("pg_activity.long_query", State.WARNING, "pid 4242 active for 95 s: SELECT ...")


class _Stamped(io.TextIOBase):
    """Log lines as `heroku logs` shows a worker's: the time, the dyno, the line."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                stamp = f"{self.clock.now():%Y-%m-%dT%H:%M:%S}+00:00"
                self.lines.append(f"{stamp} app[worker.1]: {line}")
        return len(text)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _report(check: str, *findings: Finding) -> CheckReport:
    return CheckReport(check, "7.3", Result.from_findings(findings, "fine"), 0.1)


def simulate(slack: FakeSlack, state_dir: Path) -> list[str]:
    """Run the outage; returns the log lines (the channel is in `slack`)."""
    clock = FakeClock(CUTOVER + timedelta(hours=2))
    env = {
        "WATCHER_STATE_URL": f"sqlite:///{state_dir / 'state.db'}",
        "SLACK_BOT_TOKEN": TOKEN,
        "WATCHER_SLACK_API_URL": slack.api_url,
        "WATCHER_SLACK_MENTION": MENTION,
        "WATCHER_CUTOVER_AT": f"{CUTOVER:%Y-%m-%dT%H:%M:%SZ}",
        "WATCHER_APP": "raxx-api-prod",
    }
    log = _Stamped(clock)
    with _environment(env):
        settings = load_settings()
        redactor = Redactor(settings.secrets())
        logfmt.configure(redactor, "INFO", log)
        parts = Parts(settings, clock, redactor, registry=CollectorRegistry())
        try:
            notifier = parts.notifier

            def cycle(reports: list[CheckReport], minutes: float) -> None:
                notifier.observe(reports, clock.now())
                notifier.deliver()
                clock.advance(minutes * 60)

            down = [_report(check, finding) for check, finding in DOWN.items()]
            up = [_report(check) for check in DOWN]
            cycle(down, 2)  # four checks fire at once: one page
            cycle([*down, _report("pg_activity", SLOW)], 28)  # a WARNING joins
            cycle(down, 2)  # 30 min: the reminder pings again
            argv = ["ack", "--by", "alice", "--note", "failing over to the follower"]
            said = io.StringIO()
            with redirect_stdout(said):
                code = watcher_main(argv, clock=clock)
            logfmt.configure(redactor, "INFO", log)  # the command set its own handler
            log.lines.append(f"(a one-off dyno) $ watcher {' '.join(argv)}  -> exit {code}")
            log.lines.append(f"(a one-off dyno) {said.getvalue().strip()}")
            notifier.deliver()
            clock.advance(28 * 60)
            cycle([*down, _report("pg_activity")], 15)  # a reminder, no mention now
            cycle([*down, _report("pg_activity")], 15)
            cycle(up, 5)
            cycle(up, 5)  # two OK observations: every alert resolved, the incident closes
        finally:
            parts.close()
    return log.lines


def channel(slack: FakeSlack) -> list[str]:
    """The channel as the fake recorded it: each post, its edits, its thread."""
    out: list[str] = []
    for post in slack.top_level():
        out.append(f"[{_hm(post)}] POST  {post.text}")
        out += [f"        | {line}" for line in _sections(post.blocks)]
        for n, edit in enumerate(post.edits, 1):
            # One line per edit: its first words, then the incident's list as it reads now.
            listed = [
                line for line in _sections(edit.blocks) if line.startswith(("*Incident", "•"))
            ]
            out.append(f"        chat.update #{n}: {(edit.text or '')[:60]}… || {' '.join(listed)}")
        for reply in slack.replies(post.ts):
            out.append(f"  [{_hm(reply)}] ↳ {reply.text}")
    return out


def _sections(blocks: list[Any] | None) -> list[str]:
    lines: list[str] = []
    for block in blocks or []:
        text = block.get("text", {}).get("text") if block.get("type") == "section" else None
        if text:
            lines += text.splitlines()
    return lines


def _hm(message: Posted) -> str:
    # The fake's ts counts up from its first message; the order is what matters.
    return message.ts


def main() -> int:
    with FakeSlack() as slack, tempfile.TemporaryDirectory() as state_dir:
        lines = simulate(slack, Path(state_dir))
        print("== the Slack channel, as the fake recorded it (top-level, edits, thread) ==")
        print("\n".join(channel(slack)))
        print()
        print(f"== Slack API calls: {json.dumps(_calls(slack))} ==")
        print()
        print("== the log of the run, as `heroku logs` shows it ==")
        print("\n".join(lines))
    return 0


def _calls(slack: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in slack.requests:
        name = request.path.removeprefix("/api/")
        counts[name] = counts.get(name, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
