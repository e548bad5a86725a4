"""What the watcher tells people, before any channel has rendered it: a notice.

Alerts and the timeline queue notices in the outbox; each channel renders its own message
from one at send time (Slack's Block Kit in `watcher/slack_messages.py`). A notice is kept as
JSON, so a restart sends what was decided before it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class NoticeKind(StrEnum):
    """What happened; the channel decides how it reads."""

    FIRED = "fired"  # a new alert: CRITICAL with the mention, WARNING without
    SUPERSEDED = "superseded"  # a WARNING whose finding turned CRITICAL: the old post edited
    REMINDER = "reminder"  # still firing
    RESOLVED = "resolved"  # the reply that says it is clear
    RESOLVED_ORIGINAL = "resolved_original"  # the original post, as it reads once resolved
    BLIND = "blind"  # a check UNKNOWN several cycles in a row
    SEEING_AGAIN = "seeing_again"  # that check sees again
    NOTE = "note"  # a timeline post: a title and lines
    TEXT = "text"  # one line of plain text
    # Incidents (docs/incidents.md): the top-level message of an incident, as it reads now:
    # its first
    # alert, and `lines` ("<alert id> <state>") every alert of it; `at` once it is closed.
    INCIDENT = "incident"
    JOINED = "joined"  # an alert joins the open incident: a reply in its thread
    ACKNOWLEDGED = "acknowledged"  # `watcher ack`: who (`title`) and the note (`summary`)
    SNOOZED = "snoozed"  # `watcher snooze`: `check` is the target, until `at`, by `title`
    SNOOZE_ENDED = "snooze_ended"  # a snooze ended at `at` (cancelled by `title`, if so)


@dataclass(frozen=True)
class Notice:
    """One thing to tell, with what every channel needs to say it its own way."""

    kind: NoticeKind
    alert_id: str = ""
    check: str = ""
    severity: str = ""
    summary: str = ""
    since: datetime | None = None
    at: datetime | None = None
    title: str = ""
    lines: tuple[str, ...] = ()
    # Ping the on-call (an incident's reminder until acknowledged; a new CRITICAL after it).
    mention: bool = False
    # A `watcher rehearse` drill: labelled REHEARSAL everywhere, never an alert of the watch.
    rehearsal: bool = False

    @classmethod
    def text(cls, text: str) -> Notice:
        return cls(NoticeKind.TEXT, title=text)

    @classmethod
    def note(cls, title: str, lines: list[str]) -> Notice:
        return cls(NoticeKind.NOTE, title=title, lines=tuple(lines))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["lines"] = list(self.lines)
        for name in ("since", "at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        times = {
            name: None if data.get(name) is None else datetime.fromisoformat(data[name])
            for name in ("since", "at")
        }
        return cls(
            NoticeKind(data["kind"]),
            alert_id=str(data.get("alert_id", "")),
            check=str(data.get("check", "")),
            severity=str(data.get("severity", "")),
            summary=str(data.get("summary", "")),
            title=str(data.get("title", "")),
            lines=tuple(str(line) for line in data.get("lines", ())),
            mention=bool(data.get("mention", False)),
            rehearsal=bool(data.get("rehearsal", False)),
            **times,
        )
