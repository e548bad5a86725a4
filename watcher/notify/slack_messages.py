"""The Slack messages of an alert's life: Block Kit plus a plain-text fallback.

Everything that came from outside (log lines, Sentry titles, healthz bodies: all summaries)
goes through `quote()`: escaped so it cannot mention anyone or link, and inside a code span so
it cannot format.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from watcher.alerting.runbook import Runbook
from watcher.notify.notices import Notice, NoticeKind

# Slack's text limit is 40,000 characters, a section's 3,000; a summary stays well under both.
MAX_QUOTED = 1500
# Shown in place of a backtick, which would end the code span early.
_BACKTICK_STAND_IN = "\u02cb"


def escape(text: str) -> str:
    """Slack's control characters as entities: `<!channel>` and `<@U1>` become plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str, limit: int = MAX_QUOTED) -> str:
    """Untrusted text as one inert line: escaped, in a code span, shortened to `limit`."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1] + "\u2026"
    return "`" + escape(line.replace("`", _BACKTICK_STAND_IN)) + "`"


@dataclass(frozen=True)
class Composer:
    """Builds messages for one app, channel and on-call mention."""

    app: str
    mention: str | None = None
    runbook: Runbook = field(default_factory=Runbook)

    def render(self, notice: Notice) -> dict[str, Any]:
        """The Slack message for a notice, as it reads now (with today's mention)."""
        if notice.rehearsal:
            return rehearsal_label(self.render(replace(notice, rehearsal=False)), notice.kind)
        n, kind = notice, notice.kind
        at = n.at or datetime.min
        since = n.since or at
        if kind is NoticeKind.FIRED:
            return self.fire(n.alert_id, n.check, n.severity, n.summary)
        if kind is NoticeKind.SUPERSEDED:
            return self.superseded(n.alert_id, n.check, n.summary)
        if kind is NoticeKind.REMINDER:
            if n.lines:
                return self.incident_reminder(n.severity, list(n.lines), since, at, n.mention)
            return self.reminder(n.severity, n.summary, since, at)
        if kind is NoticeKind.RESOLVED:
            resolved = self.resolved_reply(n.alert_id, since, at)
            if n.lines:
                return self.closed_reply(n.alert_id, len(n.lines), n.since or at, at)
            return resolved
        if kind is NoticeKind.INCIDENT:
            return self.incident(n)
        if kind is NoticeKind.JOINED:
            return self.joined(n.alert_id, n.check, n.severity, n.summary, n.mention)
        if kind is NoticeKind.ACKNOWLEDGED:
            return self.acknowledged(n.title, n.summary)
        if kind is NoticeKind.SNOOZED:
            return self.snoozed(n.check, n.title, n.summary, since, at)
        if kind is NoticeKind.SNOOZE_ENDED:
            return self.snooze_ended(n.check, n.title, n.summary, at)
        if kind is NoticeKind.RESOLVED_ORIGINAL:
            return self.resolved_original(n.alert_id, n.check, n.severity, n.summary, at)
        if kind is NoticeKind.BLIND:
            return self.blind(n.check, n.summary)
        if kind is NoticeKind.SEEING_AGAIN:
            return self.seeing_again(n.check, since, at)
        if kind is NoticeKind.NOTE:
            return self.note(n.title, list(n.lines))
        return _message(n.title, [_section(n.title)])

    def fire(self, alert_id: str, check: str, severity: str, summary: str) -> dict[str, Any]:
        """A new alert: CRITICAL with the mention, WARNING without."""
        tips = self.runbook.advice(alert_id)
        ping = f"{self.mention} " if self.mention and severity == "CRITICAL" else ""
        icon = ":rotating_light:" if severity == "CRITICAL" else ":warning:"
        head = f"{icon} *{severity}* {self.app} · check `{check}` · `{alert_id}`"
        step = f"Runbook RM-10 {tips.sop}. Next: {tips.next_step}"
        return _message(
            f"{ping}{severity} {self.app} {check}: {quote(summary)} (RM-10 {tips.sop}: "
            f"{tips.next_step})",
            [
                _section(f"{ping}{head}"),
                _section(quote(summary)),
                _context(step),
            ],
        )

    def incident(self, n: Notice) -> dict[str, Any]:
        """An incident's top-level message: its first alert as `fire` shows it (the mention
        while it is open), then every alert of it by id with its state."""
        members = [line.rsplit(" ", 1) for line in n.lines]
        listed = "\n".join(
            f"• `{escape(alert_id)}` {_STATE_ICON.get(state, '')}{state}"
            for alert_id, state in members
        )
        more = len(members) - 1
        extra = f" (+{more} more alert{'s' if more > 1 else ''} in the thread)" if more > 0 else ""
        since = n.since or datetime.min
        ack = f"Acknowledged by {escape(n.title)}." if n.title else "Not acknowledged yet."
        if n.at is None:
            fired = self.fire(n.alert_id, n.check, n.severity, n.summary)
            head = f"*Incident* since {since:%H:%M}Z · {len(members)} alert(s) · {ack}"
            blocks = [*fired["blocks"], _section(f"{head}\n{listed}")]
            return _message(fired["text"] + extra, blocks)
        resolved = self.resolved_original(n.alert_id, n.check, n.severity, n.summary, n.at)
        head = (
            f"*Incident closed* at {n.at:%H:%M}Z after {_duration(since, n.at)}"
            f" · {len(members)} alert(s), all resolved"
            + (f" · acknowledged by {escape(n.title)}" if n.title else "")
        )
        return _message(
            resolved["text"] + extra, [*resolved["blocks"], _section(f"{head}\n{listed}")]
        )

    def joined(
        self, alert_id: str, check: str, severity: str, summary: str, mention: bool
    ) -> dict[str, Any]:
        """An alert that joins the open incident: a reply in its thread, no mention unless it
        is a new CRITICAL after the acknowledgement (pinged once)."""
        tips = self.runbook.advice(alert_id)
        ping = f"{self.mention} new since the acknowledgement: " if mention and self.mention else ""
        icon = ":rotating_light:" if severity == "CRITICAL" else ":warning:"
        text = (
            f"{ping}{icon} joined the incident: *{severity}* `{escape(alert_id)}` · check"
            f" `{check}`: {quote(summary)} (RM-10 {tips.sop}: {tips.next_step})"
        )
        return _message(text, [_section(text)])

    def incident_reminder(
        self, severity: str, firing: list[str], since: datetime, now: datetime, mention: bool
    ) -> dict[str, Any]:
        """A reply in the incident's thread while it is open; pings until acknowledged."""
        ping = f"{self.mention} " if mention and self.mention else ""
        ids = ", ".join(f"`{escape(alert_id)}`" for alert_id in firing)
        text = (
            f"{ping}still {severity} after {_duration(since, now)} (since {since:%H:%M}Z):"
            f" {len(firing)} alert(s) firing: {ids}"
        )
        return _message(text, [_section(text)])

    def closed_reply(
        self, alert_id: str, alerts: int, since: datetime, now: datetime
    ) -> dict[str, Any]:
        """The last alert of an incident resolved: the incident is closed."""
        text = (
            f":white_check_mark: resolved: `{escape(alert_id)}` is clear; the incident is closed:"
            f" all {alerts} alert(s) resolved after {_duration(since, now)}"
        )
        return _message(text, [_section(text)])

    def acknowledged(self, by: str, note: str) -> dict[str, Any]:
        said = f": {quote(note)}" if note else ""
        text = (
            f":ok_hand: acknowledged by {escape(by)}{said}. Reminders go on in this thread"
            " without the mention; a new CRITICAL alert pings once."
        )
        return _message(text, [_section(text)])

    def snoozed(
        self, target: str, by: str, reason: str, since: datetime, until: datetime
    ) -> dict[str, Any]:
        """A snooze announced: who, what, until when, why (no mention)."""
        text = (
            f":zzz: `{escape(target)}` snoozed by {escape(by)} until {until:%H:%M}Z"
            f" ({_duration(since, until)}): {quote(reason)}. Its findings are still observed,"
            " recorded and counted for the RM-11 gate, but page no one until then."
        )
        return _message(text, [_section(text)])

    def snooze_ended(
        self, target: str, cancelled_by: str, reason: str, at: datetime
    ) -> dict[str, Any]:
        how = f"cancelled by {escape(cancelled_by)}" if cancelled_by else "expired"
        text = (
            f":alarm_clock: the snooze of `{escape(target)}` ended at {at:%H:%M}Z ({how};"
            f" it was for {quote(reason)}). Its findings escalate again; what is still"
            " CRITICAL escalates now."
        )
        return _message(text, [_section(text)])

    def blind(self, check: str, reason: str) -> dict[str, Any]:
        """A check UNKNOWN several cycles in a row: the watch cannot see that source."""
        text = f":see_no_evil: the watch is blind on `{check}` ({self.app})"
        return _message(
            f"the watch is blind on {check} ({self.app}): {quote(reason)}",
            [
                _section(text),
                _section(quote(reason)),
                _context(f"Next: {self.runbook.advice('x.blind').next_step}"),
            ],
        )

    def reminder(
        self, severity: str, summary: str, since: datetime, now: datetime
    ) -> dict[str, Any]:
        """A reply in the thread while the alert still fires."""
        text = (
            f"still {severity} after {_duration(since, now)} (since {since:%H:%M}Z):"
            f" {quote(summary)}"
        )
        return _message(text, [_section(text)])

    def resolved_reply(self, alert_id: str, since: datetime, now: datetime) -> dict[str, Any]:
        text = f":white_check_mark: resolved: `{alert_id}` is clear after {_duration(since, now)}"
        return _message(text, [_section(text)])

    def resolved_original(
        self, alert_id: str, check: str, severity: str, summary: str, now: datetime
    ) -> dict[str, Any]:
        """The original message as it reads once the alert is resolved (no mention again)."""
        head = (
            f":white_check_mark: *RESOLVED* at {now:%H:%M}Z (was {severity}) {self.app}"
            f" · check `{check}` · `{alert_id}`"
        )
        return _message(
            f"RESOLVED (was {severity}) {self.app} {check}: {quote(summary)}",
            [_section(head), _section(quote(summary))],
        )

    def superseded(self, alert_id: str, check: str, summary: str) -> dict[str, Any]:
        """A WARNING post once its finding turned CRITICAL: the newer message is the live one."""
        head = f"*WARNING, now CRITICAL* (see the newer message) {self.app} · check `{check}`"
        return _message(
            f"WARNING, now CRITICAL (see the newer message) {self.app} {check}: {quote(summary)}",
            [_section(f"{head} · `{alert_id}`"), _section(quote(summary))],
        )

    def seeing_again(self, check: str, since: datetime, now: datetime) -> dict[str, Any]:
        text = f":eyes: the watch sees `{check}` again, after {_duration(since, now)} blind"
        return _message(text, [_section(text)])

    def note(self, title: str, lines: list[str]) -> dict[str, Any]:
        """A timeline post (4-hour result, dashboard marks): our own words, one line each."""
        body = "\n".join(f"• {line}" for line in lines)
        return _message(f"{title}\n{body}", [_section(f"*{title}*"), _section(body or "—")])


_STATE_ICON = {
    "CRITICAL": ":red_circle: ",
    "WARNING": ":large_yellow_circle: ",
    "RESOLVED": ":white_check_mark: ",
}
REHEARSAL = "REHEARSAL"
# How to tell a rehearsal from the real thing, said on its top-level post.
REHEARSAL_NOTE = (
    "This is a REHEARSAL started with `watcher rehearse`: nothing is wrong and no one needs"
    " to act. Real alerts never carry the REHEARSAL label; this thread resolves by itself."
)


def rehearsal_label(message: dict[str, Any], kind: NoticeKind) -> dict[str, Any]:
    """A message of a rehearsal: REHEARSAL first in its text and its first block."""
    text = f"[{REHEARSAL}] {message.get('text', '')}"
    blocks = [dict(block) for block in message.get("blocks") or []]
    if blocks and blocks[0].get("type") == "section":
        first = blocks[0]["text"]
        blocks[0] = {
            **blocks[0],
            "text": {**first, "text": f":performing_arts: *{REHEARSAL}* " + first["text"]},
        }
    if kind in (NoticeKind.FIRED, NoticeKind.RESOLVED_ORIGINAL):
        blocks.append(_context(REHEARSAL_NOTE))
        text += f" ({REHEARSAL_NOTE})"
    return _message(text, blocks)


def plain(payload: dict[str, Any], limit: int = 3000) -> dict[str, Any]:
    """The fallback for a message Slack refused (`msg_too_long`, `invalid_blocks`): text only."""
    text = str(payload.get("text", ""))
    return {"text": text if len(text) <= limit else text[: limit - 1] + "\u2026"}


def _message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": text, "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _duration(since: datetime, now: datetime) -> str:
    minutes = max(0, round((now - since).total_seconds() / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
