"""The watch's timeline (docs/daemon.md): where T0 and now put us, and which marks are due.

Pure: times in, answers out; the daemon and `watcher record` bring the clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

# Runbook 7.1: the active watch is the first 4 hours; 7.2: the dashboard watch the first 24.
ACTIVE_WATCH = timedelta(hours=4)
WATCH_LENGTH = timedelta(hours=24)
# The marks the watch posts, in order, with their offsets from T0.
MARK_OFFSETS = {
    "4h": ACTIVE_WATCH,
    "8h": timedelta(hours=8),
    "24h": WATCH_LENGTH,
}
MARKS = tuple(MARK_OFFSETS)
# A mark posted later than this after its due time says so: the watcher was down.
LATE_AFTER = timedelta(minutes=5)

BEFORE, ACTIVE, DASHBOARD, DONE = "before", "active", "dashboard", "done"


@dataclass(frozen=True)
class MarkDue:
    """A mark whose time has come and that was not posted yet."""

    name: str
    due_at: datetime


def phase(t0: datetime, now: datetime) -> str:
    """One of before (T0), active (first 4 h), dashboard (to 24 h), then done."""
    if now < t0:
        return BEFORE
    if now < t0 + ACTIVE_WATCH:
        return ACTIVE
    if now < t0 + WATCH_LENGTH:
        return DASHBOARD
    return DONE


def due_at(t0: datetime, name: str) -> datetime:
    """When mark `name` is due."""
    return t0 + MARK_OFFSETS[name]


def due_marks(t0: datetime, now: datetime, posted: Collection[str]) -> list[MarkDue]:
    """Marks due by `now` and not in `posted`, in timeline order."""
    return [
        MarkDue(name, due_at(t0, name))
        for name in MARKS
        if name not in posted and due_at(t0, name) <= now
    ]


def is_late(due: datetime, posted_at: datetime) -> bool:
    """Posted long enough after its time that the watcher must have been down."""
    return posted_at - due > LATE_AFTER


def elapsed_seconds(t0: datetime, now: datetime) -> float:
    """Seconds since T0; negative before it (the metric clamps at 0)."""
    return (now - t0).total_seconds()
