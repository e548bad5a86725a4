"""Counts of log matches per pattern in minute buckets, so any window is answered from memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from checks.logparse.log_patterns import Match

SAMPLE_CHARS = 300
_MINUTE = 60


@dataclass
class PatternCounts:
    """One pattern's matches: per-minute counts, the first and last time, and a sample line."""

    total: int = 0
    first: datetime | None = None
    last: datetime | None = None
    sample: str = ""
    minutes: dict[int, int] = field(default_factory=dict)


@dataclass
class LogTally:
    """What the log told us: lines seen, the time they cover, and matches per pattern."""

    lines: int = 0
    first_line_at: datetime | None = None
    last_line_at: datetime | None = None
    patterns: dict[str, PatternCounts] = field(default_factory=dict)

    def count_lines(self, count: int, first: datetime | None, last: datetime | None) -> None:
        """Record `count` lines read, the first and last of them at these times (if known)."""
        self.lines += count
        if first is not None and (self.first_line_at is None or first < self.first_line_at):
            self.first_line_at = first
        if last is not None and (self.last_line_at is None or last > self.last_line_at):
            self.last_line_at = last

    def count_match(self, match: Match, received_at: datetime) -> None:
        """Count a match at its line's own time, or when it was received if it has none."""
        at = match.line.timestamp or received_at
        counts = self.patterns.setdefault(match.pattern.id, PatternCounts())
        counts.total += 1
        minute = int(at.timestamp()) // _MINUTE
        counts.minutes[minute] = counts.minutes.get(minute, 0) + 1
        if counts.first is None or at < counts.first:
            counts.first = at
        if counts.last is None or at >= counts.last:
            counts.last = at
            counts.sample = match.line.raw[:SAMPLE_CHARS]

    def restore(self, pattern_id: str, minute: datetime, count: int, sample: str) -> None:
        """Counts kept from before a restart: `count` matches in the minute starting then."""
        counts = self.patterns.setdefault(pattern_id, PatternCounts())
        key = int(minute.timestamp()) // _MINUTE
        counts.minutes[key] = counts.minutes.get(key, 0) + count
        counts.total += count
        if counts.first is None or minute < counts.first:
            counts.first = minute
        if counts.last is None or minute >= counts.last:
            counts.last = minute
            counts.sample = counts.sample or sample

    def count_since(self, pattern_id: str, since: datetime) -> int:
        """Matches at or after `since`, to the minute (the bucket holding `since` counts whole)."""
        counts = self.patterns.get(pattern_id)
        if counts is None:
            return 0
        start = int(since.timestamp()) // _MINUTE
        return sum(n for minute, n in counts.minutes.items() if minute >= start)
