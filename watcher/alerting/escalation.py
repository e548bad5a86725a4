"""The alert lifecycle of docs/alerts.md: fire, remind, resolve; one alert per finding id.

Every decision is kept in the state store together with the messages it queues, so a restart
neither forgets an open alert nor pages it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from checks.registry import Registry
from checks.result import Finding, State
from watcher.alerting.runbook import BLIND_SUFFIX as BLIND_SUFFIX
from watcher.checking.runner import CheckReport
from watcher.notify.notices import Notice, NoticeKind
from watcher.store.alerts import FIRING, PENDING, RESOLVED, AlertChange, AlertEvent, AlertRecord
from watcher.store.outbox import Message
from watcher.store.state import StateStore


@dataclass(frozen=True)
class AlertPolicy:
    """The thresholds of docs/alerts.md; each is a setting."""

    fire_after: int = 2
    resolve_after: int = 2
    reminder_interval: timedelta = timedelta(minutes=30)
    blind_after: int = 3


class Escalation:
    """Turns check reports into alert decisions and queued notifications."""

    def __init__(
        self,
        store: StateStore,
        policy: AlertPolicy,
        checks: Registry | None = None,
        route: Callable[[Notice], Sequence[str]] = lambda notice: ("slack",),
    ) -> None:
        self._store = store
        self._policy = policy
        self._route = route
        # Transport-type failures (docs/alerts.md), as each check declares them: a blip of the
        # network, not a broken contract, so they fire only when seen again.
        self._is_transport = (checks or Registry.default()).is_transport
        # The follower, the healthz job and the cycle all report; one decides at a time.
        self._lock = threading.Lock()

    def observe(self, reports: list[CheckReport], at: datetime) -> None:
        """Take one observation of each reported check."""
        with self._lock:
            open_alerts = self._store.alerts.find()
            for report in reports:
                self._observe(report, at, [a for a in open_alerts if a.check == report.name])

    def remind(self, at: datetime) -> None:
        """A reply in the thread of every CRITICAL alert not mentioned for the interval."""
        with self._lock:
            for alert in self._store.alerts.find([FIRING]):
                last = alert.reminded_at or alert.fired_at or alert.first_seen
                if alert.severity == "CRITICAL" and at - last >= self._policy.reminder_interval:
                    self._change(alert.id, lambda old: self._reminder(old, at))

    def _change(
        self, alert_id: str, decide: Callable[[AlertRecord | None], AlertChange | None]
    ) -> None:
        """Keep the decision, its notices queued once for each channel that takes them."""

        def routed(old: AlertRecord | None) -> AlertChange | None:
            change = decide(old)
            if change is None:
                return None
            messages = [
                replace(m, channel=channel)
                for m in change.messages
                for channel in self._route(m.notice)
            ]
            return replace(change, messages=messages)

        self._store.alerts.change(alert_id, routed)

    def _observe(self, report: CheckReport, at: datetime, open_alerts: list[AlertRecord]) -> None:
        blind_id = report.name + BLIND_SUFFIX
        if report.result.state is State.UNKNOWN:
            self._change(blind_id, lambda old: self._unknown(old, report, at))
        elif any(a.id == blind_id for a in open_alerts):
            self._change(blind_id, lambda old: self._seeing(old, at))
        bad = [f for f in report.result.findings if f.state in (State.CRITICAL, State.WARNING)]
        # Transport failures count per check, not per id: a healthz that times out, then
        # answers 503, then times out again has failed three times in a row.
        streak = self._transport_streak(
            report.name, any(self._is_transport(f.id) for f in bad), report.result.state
        )
        seen: set[str] = set()
        for finding in bad:
            if finding.id not in seen:
                seen.add(finding.id)
                self._change(finding.id, self._decide_bad(report.name, finding, at, streak))
        unjudged = report.result.unjudged
        if report.result.state is State.UNKNOWN:
            if unjudged is None:
                # A check that could not look says nothing about whether a finding went away.
                return
            # It judged all but these: its other alerts may resolve.
            seen.update(unjudged)
        for alert in open_alerts:
            if alert.id not in seen and alert.id != blind_id:
                self._change(alert.id, lambda old: self._ok(old, at))

    def _decide_bad(
        self, check: str, finding: Finding, at: datetime, transport_streak: int
    ) -> Callable[[AlertRecord | None], AlertChange]:
        return lambda old: self._bad(old, check, finding, at, transport_streak)

    def _transport_streak(self, check: str, failing: bool, state: State) -> int:
        """Consecutive observations of `check` with a transport failure, this one included."""
        before = self._store.facts.transport_streak(check)
        if state is State.UNKNOWN and not failing:
            return before  # the check could not look: the streak neither grows nor breaks
        streak = before + 1 if failing else 0
        if streak != before:
            self._store.facts.keep_transport_streak(check, streak)
        return streak

    def _bad(
        self,
        old: AlertRecord | None,
        check: str,
        finding: Finding,
        at: datetime,
        transport_streak: int,
    ) -> AlertChange:
        severity = finding.state.name
        if old is None or old.status == RESOLVED:
            old = AlertRecord(finding.id, check, severity, PENDING, finding.summary, at, at)
        record = replace(
            old,
            summary=finding.summary,
            last_seen=at,
            bad_streak=old.bad_streak + 1,
            ok_streak=0,
        )
        if self._is_transport(finding.id):
            confirmed = transport_streak >= self._policy.fire_after
        else:
            confirmed = True
        if record.status == PENDING and confirmed:
            return self._fire(replace(record, severity=severity), at)
        if record.status == FIRING and old.severity == "WARNING" and severity == "CRITICAL":
            # Worse than when it was posted: a new message, this time with the mention; the
            # old one is edited to point at it, so no post is left looking live.
            fired = self._fire(replace(record, severity=severity), at)
            superseded = Message(
                "update",
                Notice(NoticeKind.SUPERSEDED, old.id, old.check, old.severity, old.summary),
                parent_id=old.message_id,
            )
            return AlertChange(fired.record, [superseded, *fired.messages], fired.events)
        return AlertChange(record)

    def _fire(self, record: AlertRecord, at: datetime) -> AlertChange:
        fired = replace(
            record,
            status=FIRING,
            fired_at=at,
            reminded_at=at,
            resolved_at=None,
            alertmanager_done=True,
        )
        notice = Notice(NoticeKind.FIRED, record.id, record.check, record.severity, record.summary)
        event = "fired" if record.severity == "CRITICAL" else "warned"
        return AlertChange(
            fired,
            [Message("post", notice)],
            [AlertEvent(record.id, event, record.severity, record.summary, at)],
        )

    def _ok(self, old: AlertRecord | None, at: datetime) -> AlertChange | None:
        if old is None or old.status == RESOLVED:
            return None
        record = replace(old, ok_streak=old.ok_streak + 1, bad_streak=0)
        # A log pattern's finding already waits 30 min without a match before it goes away.
        needed = 1 if record.check == "logs" else self._policy.resolve_after
        if record.ok_streak < needed:
            return AlertChange(record)
        resolved = replace(record, status=RESOLVED, resolved_at=at, last_seen=at)
        if old.status == PENDING:
            # Never confirmed, never posted: nothing to take back.
            return AlertChange(resolved)
        since = old.fired_at or old.first_seen
        messages = [
            Message(
                "update",
                Notice(
                    NoticeKind.RESOLVED_ORIGINAL,
                    old.id,
                    old.check,
                    old.severity,
                    old.summary,
                    at=at,
                ),
            )
        ]
        if old.severity == "CRITICAL":
            resolved_reply = Notice(NoticeKind.RESOLVED, old.id, old.check, since=since, at=at)
            messages.insert(0, Message("reply", resolved_reply))
        return AlertChange(
            replace(resolved, alertmanager_done=False),
            messages,
            [AlertEvent(old.id, "resolved", old.severity, old.summary, at)],
        )

    def _unknown(self, old: AlertRecord | None, report: CheckReport, at: datetime) -> AlertChange:
        reason = report.result.summary
        if old is None or old.status == RESOLVED:
            old = AlertRecord(
                report.name + BLIND_SUFFIX, report.name, "UNKNOWN", PENDING, reason, at, at
            )
        record = replace(
            old, summary=reason, last_seen=at, bad_streak=old.bad_streak + 1, ok_streak=0
        )
        if record.status != PENDING or record.bad_streak < self._policy.blind_after:
            return AlertChange(record)
        return AlertChange(
            replace(record, status=FIRING, fired_at=at, reminded_at=at),
            [Message("post", Notice(NoticeKind.BLIND, record.id, report.name, summary=reason))],
            [AlertEvent(record.id, "blind", "UNKNOWN", reason, at)],
        )

    def _seeing(self, old: AlertRecord | None, at: datetime) -> AlertChange | None:
        if old is None or old.status == RESOLVED:
            return None
        resolved = replace(old, status=RESOLVED, resolved_at=at, last_seen=at, bad_streak=0)
        if old.status == PENDING:
            return AlertChange(resolved)
        since = old.fired_at or old.first_seen
        return AlertChange(
            resolved,
            [
                Message(
                    "reply", Notice(NoticeKind.SEEING_AGAIN, old.id, old.check, since=since, at=at)
                )
            ],
            [AlertEvent(old.id, "resolved", "UNKNOWN", old.summary, at)],
        )

    def _reminder(self, old: AlertRecord | None, at: datetime) -> AlertChange | None:
        if old is None or old.status != FIRING:
            return None
        since = old.fired_at or old.first_seen
        return AlertChange(
            replace(old, reminded_at=at),
            [
                Message(
                    "reply",
                    Notice(
                        NoticeKind.REMINDER,
                        old.id,
                        old.check,
                        old.severity,
                        old.summary,
                        since=since,
                        at=at,
                    ),
                )
            ],
            [AlertEvent(old.id, "reminded", old.severity, old.summary, at)],
        )
