"""A clock tests move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# The runbook's restart (4.8) on cutover day.
CUTOVER = datetime(2026, 5, 16, 14, 48, 42, tzinfo=UTC)


class FakeClock:
    """Stands still until `advance()`; wall and monotonic time move together."""

    def __init__(self, start: datetime = CUTOVER) -> None:
        self._now = start
        self._monotonic = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
