"""Reading the times outside systems write."""

from __future__ import annotations

from datetime import datetime


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
