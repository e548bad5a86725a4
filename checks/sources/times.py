"""Reading the times outside systems write."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_aware(value: object) -> datetime | None:
    """An ISO-8601 time with a zone (`...Z`, `...+00:00`), or None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A time without a zone cannot be put on the watch's timeline.
    return parsed if parsed.tzinfo is not None else None


def to_utc(at: datetime | None) -> datetime | None:
    """The same instant in UTC, or None where UTC cannot hold it (near year 1 or 9999).

    Whatever prints a time with `Z` must hold it in UTC: `-07:00` printed as `Z` is seven
    hours off.
    """
    if at is None:
        return None
    try:
        return at.astimezone(UTC)
    except OverflowError:
        return None
