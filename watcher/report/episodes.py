"""Alerts, blind windows, incidents and snoozes from the store's alert events and outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from watcher.alerting.runbook import BLIND_SUFFIX
from watcher.report.model import AlertItem, BlindWindow, Incident, Snooze
from watcher.store.alerts import AlertEvent
from watcher.store.outbox import OutboxItem
from watcher.store.state import StateStore
from watcher.timeline import rm11_gate

# History is kept as epoch floats: a bound just past a time keeps a row taken at it.
_INCLUSIVE = timedelta(milliseconds=1)
_ALERTING = frozenset({"fired", "warned"})
_RANK = {"WARNING": 1, "CRITICAL": 2}


def alerts_and_blind(
    store: StateStore, start: datetime, end: datetime
) -> tuple[list[AlertItem], list[BlindWindow]]:
    """Each firing from its fired (or warned) event to its resolved one; the blind windows the
    marks list (`rm11_gate.blind_windows`), a check's from its first UNKNOWN observation."""
    posts = _posts_by_alert(store)
    pages = incidents(store)
    open_alerts: dict[str, AlertItem] = {}
    alerts: list[AlertItem] = []
    fired_count: dict[str, int] = {}
    for event in store.alerts.events(until=end + _INCLUSIVE):
        if event.alert_id.endswith(BLIND_SUFFIX) or event.event == "blind":
            continue
        _alert_event(event, open_alerts, alerts, fired_count, posts, pages)
    alerts += open_alerts.values()
    # The same windows the marks list, from the watch's start: one that began before the
    # report's start may still have been open during it.
    blind = [
        BlindWindow(w.what, _blind_since(store, w.what, w.start), w.end, w.summary)
        for w in rm11_gate.blind_windows(store, None, end + _INCLUSIVE)
    ]
    keep_alerts = [a for a in alerts if a.resolved_at is None or a.resolved_at >= start]
    keep_blind = [b for b in blind if b.end is None or b.end >= start]
    return (
        sorted(keep_alerts, key=lambda a: (a.fired_at, a.id)),
        sorted(keep_blind, key=lambda b: (b.start, b.what)),
    )


def _alert_event(
    event: AlertEvent,
    open_alerts: dict[str, AlertItem],
    done: list[AlertItem],
    fired_count: dict[str, int],
    posts: dict[str, list[OutboxItem]],
    pages: tuple[Incident, ...] = (),
) -> None:
    current = open_alerts.get(event.alert_id)
    if event.event in _ALERTING:
        # Each fired or warned event posted one message: the nth post of this alert; an
        # alert that joined an incident is in the thread of the incident's post.
        nth = fired_count.get(event.alert_id, 0)
        fired_count[event.alert_id] = nth + 1
        sent = posts.get(event.alert_id, [])
        permalink = sent[nth].permalink if nth < len(sent) else None
        if permalink is None:
            permalink = _incident_link(pages, event)
        if current is None:
            open_alerts[event.alert_id] = AlertItem(
                event.alert_id, event.severity, event.at, None, event.summary, permalink=permalink
            )
        elif _RANK.get(event.severity, 0) >= _RANK.get(current.severity, 0):
            # Worse than when first posted: the new post (with the mention) is the one to follow.
            open_alerts[event.alert_id] = _with(
                current, severity=event.severity, permalink=permalink or current.permalink
            )
    elif current is None:
        return
    elif event.event == "reminded":
        open_alerts[event.alert_id] = _with(current, reminders=current.reminders + 1)
    elif event.event == "acknowledged":
        open_alerts[event.alert_id] = _with(
            current, acknowledged_at=event.at, acknowledged_by=event.summary or None
        )
    elif event.event == "resolved":
        done.append(_with(current, resolved_at=event.at))
        del open_alerts[event.alert_id]


def _blind_since(store: StateStore, check: str, declared: datetime) -> datetime:
    """When the check went UNKNOWN: "blind" is declared only after a few cycles of it."""
    since = declared
    for row in reversed(store.history.observations(check, until=declared + _INCLUSIVE)):
        if row.state != "UNKNOWN":
            break
        since = row.at
    return since


def _incident_link(pages: tuple[Incident, ...], event: AlertEvent) -> str | None:
    """The link of the incident `event`'s alert was part of at the time."""
    for page in pages:
        closed = page.closed_at is None or event.at <= page.closed_at
        if event.alert_id in page.alerts and page.opened_at <= event.at and closed:
            return page.permalink
    return None


def _with(item: AlertItem, **changes: object) -> AlertItem:
    return replace(item, **changes)  # type: ignore[arg-type]


def _posts_by_alert(store: StateStore) -> dict[str, list[OutboxItem]]:
    """Each alert's top-level posts, oldest first."""
    posts: dict[str, list[OutboxItem]] = {}
    for item in store.outbox.messages():
        if item.kind == "post" and item.alert_id is not None:
            posts.setdefault(item.alert_id, []).append(item)
    return posts


def incidents(store: StateStore) -> tuple[Incident, ...]:
    """Incidents as the store keeps them, oldest first, with their top-level post's link."""
    found = []
    for kept in reversed(store.incidents.latest(limit=1000)):
        post = None if kept.message_id is None else store.outbox.message(kept.message_id)
        found.append(
            Incident(
                str(kept.id),
                kept.opened_at,
                kept.closed_at,
                tuple(m.alert_id for m in kept.members),
                kept.acknowledged_at,
                kept.acknowledged_by,
                kept.ack_note,
                None if post is None else post.permalink,
            )
        )
    return tuple(found)


def snoozes(store: StateStore) -> list[Snooze]:
    """Snoozes as the store keeps them (`watcher snooze`), oldest first."""
    return [
        Snooze(s.target, s.starts_at, s.ends_at, s.reason, s.by, s.cancelled_at)
        for s in store.snoozes.all()
    ]
