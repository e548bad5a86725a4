"""`watcher scan`: an exported Heroku log (file or stdin, plain or gzip) through the catalogue."""

from __future__ import annotations

import gzip
import io
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher
from checks.logparse.log_tally import LogTally
from checks.result import State, worst
from watcher.cli.once_output import printable

CHUNK_BYTES = 8 << 20
# Heroku splits lines over 10,000 bytes: text this long without a newline is no log line, and
# holding more of it would let an endless stream grow without bound.
MAX_LINE_BYTES = 1 << 20
# Windows searched ahead of the one being matched: bounds memory on an endless stdin.
_AHEAD = 4
_GZIP_MAGIC = b"\x1f\x8b"
# A Heroku log line as `heroku logs` prints it (`<time> <source>[<dyno>]: ...`, the time may be
# missing), or as a syslog drain receives it (`<190>1 <time> host app web.1 - ...`).
_HEROKU_SHAPE = re.compile(
    rb"^(?:\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)\s+)?[a-z][a-z0-9-]*\[[^\]\s]*\]:"
    rb"|^(?:\d+ )?<\d{1,3}>1 \d{4}-\d\d-\d\dT\S+ \S+ \S+ \S+ ",
    re.MULTILINE,
)
# The finding of a scan whose input is no Heroku log (docs/commands.md): it never passes as OK.
NOT_A_LOG = "scan.no_heroku_lines"


@dataclass(frozen=True)
class Window:
    """Whole lines: `data[start:end]`, without copying them out of the chunk read."""

    data: bytes
    start: int
    end: int


@dataclass(frozen=True)
class _Searched:
    window: Window
    lines: int
    candidates: list[bytes]


def open_log(stream: BinaryIO) -> BinaryIO:
    """The stream itself, or its decompressed content when it starts like gzip."""
    buffered = (
        stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(cast(Any, stream))
    )
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return cast(BinaryIO, gzip.GzipFile(fileobj=buffered))
    return cast(BinaryIO, buffered)


def windows(stream: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[Window]:
    """The log as windows of whole lines, in order; a last line without a newline counts.

    Each chunk read is searched in place between its first and last newline; only the line
    that straddles two chunks is copied, as a window of its own.
    """
    tail = b""
    while chunk := stream.read(size):
        first = chunk.find(b"\n")
        if first == -1:
            tail += chunk
            if len(tail) >= MAX_LINE_BYTES:
                yield Window(tail + b"\n", 0, len(tail) + 1)
                tail = b""
            continue
        seam = tail + chunk[: first + 1]
        yield Window(seam, 0, len(seam))
        last = chunk.rfind(b"\n") + 1
        if last > first + 1:
            yield Window(chunk, first + 1, last)
        tail = chunk[last:]
    if tail:
        yield Window(tail + b"\n", 0, len(tail) + 1)


def scan(source: Iterator[Window], matcher: LogMatcher, tally: LogTally, now: datetime) -> bool:
    """Count every line and match every candidate, in the log's order; True if at least one
    line has a Heroku log line's shape.

    Two threads search windows ahead (RE2 releases the GIL); matches are taken in order, as
    `restart_loop` needs.
    """
    shaped = False
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="scan") as pool:
        pending: deque[Future[_Searched]] = deque()
        for window in source:
            pending.append(pool.submit(_search, matcher, window))
            if len(pending) > _AHEAD:
                shaped = _take(pending.popleft().result(), matcher, tally, now, shaped)
        while pending:
            shaped = _take(pending.popleft().result(), matcher, tally, now, shaped)
    return shaped


def scan_file(path: str, matcher: LogMatcher, tally: LogTally, now: datetime) -> bool:
    """A log file, plain or gzip; True if at least one line has a Heroku log line's shape."""
    with open(path, "rb") as stream:
        return scan(windows(open_log(stream)), matcher, tally, now)


def _search(matcher: LogMatcher, window: Window) -> _Searched:
    data, start, end = window.data, window.start, window.end
    return _Searched(window, data.count(b"\n", start, end), matcher.candidates(data, start, end))


def _take(
    searched: _Searched, matcher: LogMatcher, tally: LogTally, now: datetime, shaped: bool
) -> bool:
    """Count and match one window; True if it (or an earlier one: `shaped`) has a Heroku line."""
    data, start, end = searched.window.data, searched.window.start, searched.window.end
    first = parse(data[start : data.find(b"\n", start, end)].decode("utf-8", "replace"))
    last = parse(data[data.rfind(b"\n", start, end - 1) + 1 : end].decode("utf-8", "replace"))
    tally.count_lines(searched.lines, first.timestamp, last.timestamp)
    for raw in searched.candidates:
        for match in matcher.match(parse(raw.decode("utf-8", "replace")), now):
            tally.count_match(match, now)
    # Searched until found once: a Heroku log finds its shape in its first line.
    return shaped or _HEROKU_SHAPE.search(data, start, end) is not None


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(matcher: LogMatcher, tally: LogTally, heroku_shaped: bool = True) -> dict[str, Any]:
    """The `watcher scan --json` object: every catalogue pattern, count 0 included, and the
    findings about the input itself (no Heroku log line in it: UNKNOWN)."""
    patterns = []
    states = []
    for pattern in matcher.patterns:
        counts = tally.patterns.get(pattern.id)
        count = counts.total if counts else 0
        states.append(pattern.state if count else State.OK)
        patterns.append(
            {
                "id": pattern.id,
                "state": states[-1].name,
                "count": count,
                "first": _iso(counts.first) if counts else None,
                "last": _iso(counts.last) if counts else None,
                "sample": counts.sample if counts else None,
            }
        )
    findings = []
    if not heroku_shaped:
        summary = _not_a_log(tally)
        findings.append({"id": NOT_A_LOG, "state": State.UNKNOWN.name, "summary": summary})
        states.append(State.UNKNOWN)
    state = worst(states)
    return {
        "lines": tally.lines,
        "state": state.name,
        "exit_code": state.value,
        "patterns": patterns,
        "findings": findings,
    }


def _not_a_log(tally: LogTally) -> str:
    if not tally.lines:
        return "the input is empty: no log line to scan"
    return (
        f"none of the {tally.lines:,} line(s) has a Heroku log line's shape"
        " (`2026-05-16T14:02:10+00:00 app[web.1]: ...`): is this an exported Heroku log?"
    )


def to_table(data: dict[str, Any], tally: LogTally) -> str:
    """A plugin-style headline, then one row per pattern."""
    span = ""
    if tally.first_line_at and tally.last_line_at:
        span = (
            f", {tally.first_line_at:%Y-%m-%d %H:%M:%SZ} to {tally.last_line_at:%Y-%m-%d %H:%M:%SZ}"
        )
    rows = [
        f"CUTOVER-WATCHER SCAN {data['state']}: {data['lines']:,} lines{span}",
        "",
        f"{'STATE':<9} {'PATTERN':<21} {'COUNT':>7}  {'FIRST':<20}  {'LAST':<20}  SAMPLE",
    ]
    for p in data["patterns"]:
        rows.append(
            f"{p['state']:<9} {p['id']:<21} {p['count']:>7}  {p['first'] or '-':<20}"
            f"  {p['last'] or '-':<20}  {printable((p['sample'] or '')[:160])}"
        )
    if data["findings"]:
        rows.append("")
        rows += [f"{f['state']:<9} {f['id']}: {f['summary']}" for f in data["findings"]]
    return "\n".join(rows)
