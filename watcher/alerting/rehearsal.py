"""What a rehearsal posts: a stand-in alert, or exactly what a named incident would post.

`--incident` findings come from canned inputs through the real checks: log lines through the
catalogue's matcher and the `logs` check, a `/healthz` answer through the `healthz` check (over
httpx's in-process transport), a Data API answer through `pg_info`. The notices are the ones
the alert lifecycle queues, marked `rehearsal`; no alert is kept for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import httpx

from checks import healthz, logs, pg_info
from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_tally import LogTally
from checks.logparse.log_window import Coverage
from checks.result import Finding, State
from checks.sources.clock import Clock
from checks.sources.connection_limit import ConnectionThresholds
from watcher.notify.notices import Notice, NoticeKind

DRILL = "rehearsal.drill"


@dataclass(frozen=True)
class Rehearsed:
    """The alert a rehearsal stands for: its id, check, severity and summary."""

    alert_id: str
    check: str
    severity: str
    summary: str

    def fired(self) -> Notice:
        return Notice(
            NoticeKind.FIRED, self.alert_id, self.check, self.severity, self.summary, rehearsal=True
        )

    def reminder(self, since: datetime, at: datetime) -> Notice:
        return Notice(
            NoticeKind.REMINDER,
            self.alert_id,
            self.check,
            self.severity,
            self.summary,
            since=since,
            at=at,
            rehearsal=True,
        )

    def resolved(self, since: datetime, at: datetime) -> Notice:
        return Notice(
            NoticeKind.RESOLVED, self.alert_id, self.check, since=since, at=at, rehearsal=True
        )

    def resolved_original(self, at: datetime) -> Notice:
        return Notice(
            NoticeKind.RESOLVED_ORIGINAL,
            self.alert_id,
            self.check,
            self.severity,
            self.summary,
            at=at,
            rehearsal=True,
        )


# The lines each log incident leaves in the app's log (shapes as Heroku writes them).
LOG_LINES = {
    "sqlite": ("app[web.1]: sqlite3.OperationalError: database is locked",),
    "grant-drift": (
        "app[web.1]: psycopg2.errors.InsufficientPrivilege:"
        " permission denied for table historical_bars",
    ),
    "crash": (
        "heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT"
        " within 60 seconds of launch",
        "heroku[web.1]: State changed from starting to crashed",
    ),
}
_PATTERN = {"sqlite": "sqlite", "grant-drift": "permission_denied", "crash": "crash"}


def rehearsed(incident: str | None, app_role: str, clock: Clock) -> Rehearsed:
    """The alert to rehearse: the stand-in drill, or the named incident's own finding."""
    if incident is None:
        return Rehearsed(
            DRILL,
            "rehearsal",
            "CRITICAL",
            "a rehearsal of the escalation path: nothing is wrong, no one needs to act",
        )
    if incident in LOG_LINES:
        finding = _log_finding(incident, app_role, clock.now())
        return Rehearsed(finding.id, logs.NAME, finding.state.name, finding.summary)
    if incident == "healthz-sqlite":
        finding = _healthz_finding(clock)
        return Rehearsed(finding.id, healthz.NAME, finding.state.name, finding.summary)
    if incident == "pg-unavailable":
        finding = _pg_info_finding()
        return Rehearsed(finding.id, pg_info.NAME, finding.state.name, finding.summary)
    raise ValueError(f"no such incident to rehearse: {incident}")


def _log_finding(incident: str, app_role: str, now: datetime) -> Finding:
    matcher = LogMatcher(catalogue(app_role))
    tally = LogTally()
    lines = [parse(f"{now.isoformat()} {text}") for text in LOG_LINES[incident]]
    for line in lines:
        for match in matcher.match(line, now):
            tally.count_match(match, now)
    tally.count_lines(len(lines), now, now)
    result = logs.evaluate(tally, matcher, now, Coverage(f"{len(lines)} canned line(s)"))
    return _one(result.findings, f"{logs.NAME}.{_PATTERN[incident]}")


def _healthz_finding(clock: Clock) -> Finding:
    body = json.dumps({"status": "ok", "db": "sqlite", "version": "1.4.2"}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    options = healthz.HealthzOptions("https://rehearsal.invalid/healthz")
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        result = healthz.evaluate(healthz.probe(client, options, clock), options)
    return _one(result.findings, f"{healthz.NAME}.db_sqlite")


def _pg_info_finding() -> Finding:
    answer = {
        "info": [
            {"name": "Plan", "values": ["Standard 0"]},
            {"name": "Status", "values": ["Unavailable"]},
            {"name": "Connections", "values": ["0/120"]},
        ]
    }
    result = pg_info.evaluate(answer, ConnectionThresholds(), None)
    return _one(result.findings, f"{pg_info.NAME}.status")


def _one(findings: tuple[Finding, ...], wanted: str) -> Finding:
    found = [f for f in findings if f.id == wanted and f.state is not State.OK]
    if not found:
        raise AssertionError(f"the canned input no longer makes {wanted}: {findings}")
    return found[0]
