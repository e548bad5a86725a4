"""One page per root cause (docs/incidents.md): where an alert's decision goes once incidents exist.

`place()` takes what the alert lifecycle decided for one alert (fire, resolve) and the open
incident, and says what is posted instead: the first CRITICAL opens an incident (its top-level
post, with the mention); every alert that fires while one is open joins it (a reply in its
thread, no mention) and the top-level message is edited to list every alert with its state;
the incident closes when all its alerts resolved. A WARNING with no incident open posts on its
own, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from watcher.notify.notices import Notice, NoticeKind
from watcher.store.alerts import AlertChange, AlertEvent, AlertRecord
from watcher.store.incidents import Decision, IncidentChange, IncidentRecord, Member
from watcher.store.outbox import Message


@dataclass(frozen=True)
class Placed:
    """A decision as incidents shape it, and what happened, for the log."""

    decision: Decision
    # "opened", "joined", "left" (resolved, the incident goes on), "closed", or "" (no incident).
    outcome: str = ""


def place(
    old: AlertRecord | None, change: AlertChange, incident: IncidentRecord | None, at: datetime
) -> Placed:
    """The alert's change with incidents applied."""
    kinds = {m.notice.kind for m in change.messages}
    record = change.record
    if NoticeKind.FIRED in kinds:
        return _fired(change, incident, at)
    if NoticeKind.RESOLVED_ORIGINAL in kinds and incident is not None:
        member = incident.member(record.id)
        if member is not None and member.firing:
            return _resolved(change, incident, member, at)
    return Placed(Decision(change))


def incident_notice(incident: IncidentRecord) -> Notice:
    """The top-level message of `incident` as it reads now."""
    return Notice(
        NoticeKind.INCIDENT,
        incident.head_id,
        incident.head_check,
        incident.severity,
        incident.head_summary,
        since=incident.opened_at,
        at=incident.closed_at,
        title=incident.acknowledged_by or "",
        lines=tuple(f"{m.alert_id} {m.state}" for m in incident.members),
    )


def reminder(
    incident: IncidentRecord | None, at: datetime, interval_s: float
) -> IncidentChange | None:
    """A reply in the thread of an open incident with a CRITICAL alert firing, every interval;
    with the mention until someone acknowledges it."""
    if incident is None or incident.closed_at is not None:
        return None
    firing = incident.firing
    if not any(m.severity == "CRITICAL" for m in firing):
        return None
    if (at - incident.reminded_at).total_seconds() < interval_s:
        return None
    notice = Notice(
        NoticeKind.REMINDER,
        incident.head_id,
        incident.head_check,
        "CRITICAL",
        since=incident.opened_at,
        at=at,
        lines=tuple(m.alert_id for m in firing),
        mention=incident.acknowledged_by is None,
    )
    events = [AlertEvent(m.alert_id, "reminded", m.severity, "", at) for m in firing]
    return IncidentChange(
        replace(incident, reminded_at=at),
        [Message("reply", notice, in_incident=True)],
        events,
    )


def acknowledgement(incident: IncidentRecord | None, at: datetime) -> IncidentChange | None:
    """The reply and the edit an acknowledgement written by `watcher ack` implies."""
    if incident is None or incident.ack_announced or incident.acknowledged_by is None:
        return None
    kept = replace(incident, ack_announced=True)
    notice = Notice(
        NoticeKind.ACKNOWLEDGED,
        incident.head_id,
        severity=incident.severity,
        title=incident.acknowledged_by,
        summary=incident.ack_note or "",
        at=at,
    )
    events = [
        AlertEvent(m.alert_id, "acknowledged", m.severity, incident.acknowledged_by, at)
        for m in incident.firing
    ]
    return IncidentChange(
        kept,
        [
            Message("reply", notice, in_incident=True),
            Message("update", incident_notice(kept), in_incident=True),
        ],
        events,
    )


def _fired(change: AlertChange, incident: IncidentRecord | None, at: datetime) -> Placed:
    record = change.record
    severity = record.severity
    member = Member(record.id, severity, True, at)
    if incident is None:
        if severity != "CRITICAL":
            return Placed(Decision(change))  # a WARNING on its own: one post, no mention
        opened = IncidentRecord(
            None, at, at, record.id, record.check, record.summary, members=(member,)
        )
        messages = [m for m in change.messages if m.notice.kind is NoticeKind.SUPERSEDED]
        messages.append(Message("post", incident_notice(opened), in_incident=True))
        return Placed(Decision(replace(change, messages=messages), opened), "opened")
    known = incident.member(record.id)
    joined = incident.with_member(member)
    # A member's old post is the incident's: nothing of its own to mark as superseded.
    messages = [
        m for m in change.messages if m.notice.kind is NoticeKind.SUPERSEDED and known is None
    ]
    # After the acknowledgement, a new CRITICAL pings once.
    repage = incident.acknowledged_by is not None and severity == "CRITICAL"
    joined_notice = Notice(
        NoticeKind.JOINED, record.id, record.check, severity, record.summary, at=at, mention=repage
    )
    messages += [
        Message("reply", joined_notice, in_incident=True),
        Message("update", incident_notice(joined), in_incident=True),
    ]
    kept = replace(record, message_id=incident.message_id)
    events = list(change.events)
    events.append(AlertEvent(record.id, "joined", severity, record.summary, at))
    return Placed(Decision(AlertChange(kept, messages, events), joined), "joined")


def _resolved(
    change: AlertChange, incident: IncidentRecord, member: Member, at: datetime
) -> Placed:
    record = change.record
    left = incident.with_member(replace(member, firing=False, resolved_at=at))
    closing = not left.firing
    if closing:
        left = replace(left, closed_at=at)
    since = record.fired_at or member.since
    reply = Notice(
        NoticeKind.RESOLVED,
        record.id,
        record.check,
        member.severity,
        since=left.opened_at if closing else since,
        at=at,
        lines=tuple(m.alert_id for m in left.members) if closing else (),
    )
    messages = [
        Message("reply", reply, in_incident=True),
        Message("update", incident_notice(left), in_incident=True),
    ]
    return Placed(
        Decision(replace(change, messages=messages), left), "closed" if closing else "left"
    )
