"""The alert lifecycle of docs/alerts.md: fire, remind, resolve; one alert per finding id.

Every decision is kept in the state store together with the messages it queues, so a restart
neither forgets an open alert nor pages it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from checks.registry import Registry
from checks.result import Finding, State
from watcher.alerting import incidents
from watcher.alerting.runbook import BLIND_SUFFIX as BLIND_SUFFIX
from watcher.checking.runner import CheckReport
from watcher.notify.notices import Notice, NoticeKind
from watcher.store.alerts import (
    FIRING,
    PENDING,
    RESOLVED,
    SNOOZED,
    AlertChange,
    AlertEvent,
    AlertRecord,
)
from watcher.store.incidents import Decision, IncidentChange, IncidentRecord
from watcher.store.outbox import Message
from watcher.store.snoozes import Snooze
from watcher.store.state import StateStore

log = logging.getLogger(__name__)


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
        incident_channels: Sequence[str] = ("slack",),
    ) -> None:
        self._store = store
        self._policy = policy
        self._route = route
        # The channels that show incidents; the others are told of each alert on its own.
        self._incident_channels = frozenset(incident_channels)
        # Transport-type failures (docs/alerts.md), as each check declares them: a blip of the
        # network, not a broken contract, so they fire only when seen again.
        self._is_transport = (checks or Registry.default()).is_transport
        # The follower, the healthz job and the cycle all report; one decides at a time.
        self._lock = threading.Lock()
        # The snoozes in force, read once per observation (a new one counts from the next).
        self._snoozes: list[Snooze] = []

    def observe(self, reports: list[CheckReport], at: datetime) -> None:
        """Take one observation of each reported check."""
        with self._lock:
            self._snoozes = self._store.snoozes.active(at)
            open_alerts = self._store.alerts.find()
            for report in reports:
                self._observe(report, at, [a for a in open_alerts if a.check == report.name])

    def remind(self, at: datetime) -> None:
        """A reply in the open incident's thread every interval (with the mention until it is
        acknowledged); a CRITICAL alert outside any incident (fired before incidents existed)
        is reminded on its own, as it always was."""
        interval = self._policy.reminder_interval.total_seconds()
        with self._lock:
            self._update_incident(at, lambda inc: incidents.reminder(inc, at, interval), "reminded")
            incident = self._store.incidents.open()
            members = {m.alert_id for m in incident.members} if incident else set()
            for alert in self._store.alerts.find([FIRING]):
                if alert.id in members:
                    continue
                last = alert.reminded_at or alert.fired_at or alert.first_seen
                if alert.severity == "CRITICAL" and at - last >= self._policy.reminder_interval:
                    self._change(alert.id, lambda old: self._reminder(old, at))

    def steer(self, at: datetime) -> None:
        """Post what `watcher ack` and `watcher snooze` wrote to the store: the
        acknowledgement, a snooze's start and end; a finding still bad when its snooze ends
        escalates now."""
        with self._lock:
            self._update_incident(
                at, lambda inc: incidents.acknowledgement(inc, at), "acknowledged"
            )
            starts, ends = self._store.snoozes.unannounced(at)
            for snooze in starts:
                notice = Notice(
                    NoticeKind.SNOOZED,
                    check=snooze.target,
                    title=snooze.by,
                    summary=snooze.reason,
                    since=snooze.starts_at,
                    at=snooze.ends_at,
                )
                if self._store.snoozes.announce(
                    snooze.id, False, self._routed([Message("post", notice)]), at
                ):
                    _log_change("snoozed", snooze.target, by=snooze.by, until=_iso(snooze.ends_at))
            if not ends:
                return
            self._snoozes = self._store.snoozes.active(at)
            for snooze in ends:
                notice = Notice(
                    NoticeKind.SNOOZE_ENDED,
                    check=snooze.target,
                    title=snooze.cancelled_by or "",
                    summary=snooze.reason,
                    at=snooze.ended_at,
                )
                if self._store.snoozes.announce(
                    snooze.id, True, self._routed([Message("post", notice)]), at
                ):
                    how = "cancelled" if snooze.cancelled_by else "expired"
                    _log_change("snooze ended", snooze.target, how=how)
            for alert in self._store.alerts.find([SNOOZED]):
                if any(s.covers(alert.id) for s in ends) and self._snooze_for(alert.id) is None:
                    self._change(alert.id, lambda old: self._unsnoozed(old, at))

    def _routed(self, messages: Sequence[Message]) -> list[Message]:
        """Each message once for every channel that takes its notice."""
        return [replace(m, channel=channel) for m in messages for channel in self._route(m.notice)]

    def _update_incident(
        self,
        at: datetime,
        decide: Callable[[IncidentRecord | None], IncidentChange | None],
        what: str,
    ) -> None:
        decided: list[IncidentChange] = []

        def routed(incident: IncidentRecord | None) -> IncidentChange | None:
            decided.clear()
            change = decide(incident)
            if change is None:
                return None
            decided.append(change)
            return replace(change, messages=self._routed(change.messages))

        if self._store.incidents.update(at, routed) and decided:
            incident = decided[0].incident
            fields: dict[str, object] = {"incident": incident.id, "alerts": len(incident.firing)}
            if what == "acknowledged":
                fields["by"] = incident.acknowledged_by
            else:
                fields["mention"] = incident.acknowledged_by is None
            _log_change(what, incident.head_id, **fields)

    def _change(
        self, alert_id: str, decide: Callable[[AlertRecord | None], AlertChange | None]
    ) -> None:
        """Keep the decision, with what it does to the open incident, its notices queued once
        for each channel that takes them."""
        placed: list[tuple[AlertChange, incidents.Placed]] = []

        def routed(old: AlertRecord | None, incident: IncidentRecord | None) -> Decision | None:
            placed.clear()
            change = decide(old)
            if change is None:
                return None
            result = incidents.place(old, change, incident, change.record.last_seen)
            placed.append((change, result))
            decision = result.decision
            messages = self._routed(decision.alert.messages)
            if result.outcome:
                # The incident as channels that show incidents see it (first: its post is
                # the alert's thread), then the alert on its own for the others.
                shown = [m for m in messages if m.channel in self._incident_channels]
                own = self._routed(change.messages)
                messages = shown + [m for m in own if m.channel not in self._incident_channels]
            return replace(decision, alert=replace(decision.alert, messages=messages))

        self._store.incidents.change(alert_id, routed)
        if placed:
            change, result = placed[0]
            opened = self._store.incidents.open() if result.outcome == "opened" else None
            _log_decision(change, result, None if opened is None else opened.id)

    def _snooze_for(self, finding_id: str) -> Snooze | None:
        return next((s for s in self._snoozes if s.covers(finding_id)), None)

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
        if record.status in (PENDING, SNOOZED) and confirmed:
            snooze = self._snooze_for(finding.id)
            if snooze is not None:
                # Observed, recorded and counted for the gate; escalated when the snooze ends.
                return self._snoozed(old, replace(record, severity=severity), snooze, at)
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

    def _snoozed(
        self, old: AlertRecord, record: AlertRecord, snooze: Snooze, at: datetime
    ) -> AlertChange:
        kept = replace(record, status=SNOOZED)
        if old.status == SNOOZED and old.severity == record.severity:
            return AlertChange(kept)
        # Once per snoozed spell (and again if it got worse): the gate counts it.
        return AlertChange(
            kept, (), [AlertEvent(record.id, "snoozed", record.severity, record.summary, at)]
        )

    def _unsnoozed(self, old: AlertRecord | None, at: datetime) -> AlertChange | None:
        """Its snooze ended and it was still bad when last seen: it escalates now."""
        if old is None or old.status != SNOOZED:
            return None
        return self._fire(replace(old, last_seen=max(old.last_seen, at)), at)

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
        if old.status in (PENDING, SNOOZED):
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


def _iso(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%SZ}"


def _log_change(what: str, alert_id: str, **fields: object) -> None:
    """One line per alert change (docs/daemon.md): what, which alert, never the matched text."""
    log.info("alert %s", what, extra={"fields": {"alert": alert_id, "change": what, **fields}})


def _log_decision(change: AlertChange, placed: incidents.Placed, opened: int | None) -> None:
    record = change.record
    kinds = {e.event for e in change.events}
    incident = placed.decision.incident
    number = None if incident is None else incident.id
    if placed.outcome == "opened":
        _log_change("fired", record.id, severity=record.severity, incident=opened, opened=True)
    elif placed.outcome == "joined":
        _log_change("joined an incident", record.id, severity=record.severity, incident=number)
    elif placed.outcome in ("left", "closed"):
        closed = placed.outcome == "closed"
        _log_change("resolved", record.id, incident=number, incident_closed=closed)
    elif kinds & {"fired", "warned", "blind"}:
        _log_change("fired", record.id, severity=record.severity)
    elif "snoozed" in kinds:
        _log_change("snoozed", record.id, severity=record.severity)
    elif "resolved" in kinds:
        _log_change("resolved", record.id)
    elif "reminded" in kinds:
        _log_change("reminded", record.id)
