"""One Heroku log line: `<timestamp> <source>[<dyno>]: <message>` (the timestamp may be missing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from checks.sources.times import parse_aware, to_utc

# Loose on purpose: lines arrive without a timestamp now and then, and other exports differ.
_LINE = re.compile(
    r"^(?:(?P<ts>\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d))\s+)?"
    r"(?P<source>[a-z][a-z0-9-]*)\[(?P<dyno>[^\]\s]*)\]:\s?(?P<message>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class LogLine:
    """A parsed line; `source` is None when the line is in no format we can read."""

    raw: str
    timestamp: datetime | None
    source: str | None
    dyno: str | None
    message: str


def parse(raw: str) -> LogLine:
    """Split a line into its parts; what cannot be read stays None, never an error."""
    line = raw.rstrip("\r\n")
    found = _LINE.match(line)
    # Held in UTC: the counts, the summaries and `watcher scan` print these times with `Z`.
    if found is None:
        return LogLine(line, to_utc(parse_aware(line.split(" ", 1)[0])), None, None, line)
    timestamp = to_utc(parse_aware(found["ts"]))
    return LogLine(line, timestamp, found["source"], found["dyno"], found["message"])
