"""The log pattern catalogue (docs/checks.md) as data, and the matcher that applies it.

Matching is two steps: one case-insensitive RE2 search for all needles at once over a whole
block of lines finds the few candidate lines (linear time, no per-line loop, and the GIL is
released so blocks can be searched in parallel), then only those are parsed and held to the
exact rules: which source a pattern applies to, router URL paths, the watcher's own dyno, and
the per-dyno state of `restart_loop`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import re2

from checks.logparse.log_line import LogLine
from checks.result import State

APP, PLATFORM = "app", "heroku"


@dataclass(frozen=True)
class Pattern:
    """One catalogue entry: what it matches (any needle, case-insensitive) and what it means."""

    id: str
    needles: tuple[str, ...]
    state: State
    sop: str
    source: str  # APP or PLATFORM: the log source the pattern applies to
    means: str
    # When set, only lines of these (source, dyno) pairs, e.g. ("heroku", "logplex").
    only: tuple[tuple[str, str], ...] = ()


# restart_loop (docs/checks.md): this many unplanned SIGTERMs of one dyno within the window.
RESTART_LOOP_COUNT = 3
RESTART_LOOP_WINDOW = timedelta(minutes=10)
# A SIGTERM this soon after `Cycling` or `Restarting` of the same dyno is planned.
PLANNED_WINDOW = timedelta(seconds=60)
SIGTERM = "Stopping all processes with SIGTERM"
PLANNED = ("Cycling", "Restarting")
# lower(), not casefold(): RE2's case-insensitive search finds what lower() equates, but not
# casefold()'s extra folds (`ß` as `ss`), which `watcher scan` would then miss.
_PLANNED_MESSAGES = {p.lower() for p in PLANNED}
_RESTART_MESSAGES = {SIGTERM.lower(), *_PLANNED_MESSAGES}


LOG_DROP_NEEDLES = tuple(
    f"{prefix}{code}{suffix}"
    for code in ("l10", "l11", "l12", "l15")
    for prefix, suffix in (("error ", ""), ("", " ("), ("", ":"))
)


def catalogue(app_role: str) -> tuple[Pattern, ...]:
    """The catalogue for an app whose database role is `app_role`."""
    return (
        Pattern(
            "permission_denied",
            # PostgreSQL's wording by object (aclchk.c); `relation` before PostgreSQL 11.
            (
                "permission denied for table",
                "permission denied for sequence",
                "permission denied for relation",
                "permission denied for schema",
            ),
            State.CRITICAL,
            "7.3",
            APP,
            "grant drift: the app role lacks a privilege it needs",
        ),
        Pattern(
            "role_missing",
            (f'role "{app_role}" does not exist',),
            State.CRITICAL,
            "4.8",
            APP,
            "the app role is gone",
        ),
        Pattern(
            "sqlite",
            ("sqlite", "database is locked"),
            State.CRITICAL,
            "7.1, 7.2",
            APP,
            "the app writes to an ephemeral SQLite file: data is being lost",
        ),
        Pattern(
            "too_many_connections",
            ("too many connections", "remaining connection slots are reserved"),
            State.CRITICAL,
            "7.3",
            APP,
            "the database refuses connections",
        ),
        Pattern(
            "crash",
            ("code=h10", "error r10", "to crashed"),
            State.CRITICAL,
            "2.3, 5.5",
            PLATFORM,
            "the app crashed: rollback trigger (2.3)",
        ),
        Pattern(
            "restart_loop",
            (),
            State.CRITICAL,
            "2.3",
            PLATFORM,
            "a dyno restarts over and over: rollback trigger (2.3)",
        ),
        Pattern(
            "operational_error",
            ("operationalerror",),
            State.WARNING,
            "7.1",
            APP,
            "database errors in the app",
        ),
        Pattern(
            "programming_error",
            ("programmingerror",),
            State.WARNING,
            "7.1",
            APP,
            "SQL the database rejects: schema or grants differ from what the app expects",
        ),
        Pattern(
            "memory",
            ("error r14", "error r15"),
            State.WARNING,
            "-",
            PLATFORM,
            "a dyno is over its memory quota",
        ),
        Pattern(
            "request_timeout",
            ("code=h12",),
            State.WARNING,
            "-",
            PLATFORM,
            "requests time out at the router",
        ),
        Pattern(
            "unique_violation",
            ("duplicate key value violates unique constraint",),
            State.WARNING,
            "7.1",
            APP,
            "inserts collide: a sequence may be behind its column after the data copy",
        ),
        Pattern(
            "log_dropped",
            # Logplex's drop notices (Dev Center, error codes L10, L11, L12, L15); L11 comes
            # without the word `Error`.
            LOG_DROP_NEEDLES,
            State.WARNING,
            "7.2",
            PLATFORM,
            "Logplex dropped lines: the log is incomplete, the scan has a blind window",
            only=(("heroku", "logplex"), ("app", "log-shuttle")),
        ),
    )


@dataclass(frozen=True)
class Match:
    """A line that matched a pattern."""

    pattern: Pattern
    line: LogLine


@dataclass
class _Dyno:
    planned: deque[datetime] = field(default_factory=deque)
    sigterms: deque[datetime] = field(default_factory=deque)


class LogMatcher:
    """Applies the catalogue to lines; keeps the per-dyno state `restart_loop` needs."""

    def __init__(self, patterns: Iterable[Pattern], own_dyno: str | None = None) -> None:
        self.patterns = tuple(patterns)
        self._own_dyno = own_dyno
        self._restart_loop = next((p for p in self.patterns if p.id == "restart_loop"), None)
        needles = {n.lower() for p in self.patterns for n in p.needles}
        if self._restart_loop is not None:
            needles |= {SIGTERM.lower(), *(p.lower() for p in PLANNED)}
        self._search = re2.compile("(?i)" + "|".join(re.escape(n) for n in sorted(needles))).search
        self._dynos: dict[str, _Dyno] = {}
        # The exact step compares lowercased text with lowercased needles.
        self._lowered = {p.id: tuple(n.lower() for n in p.needles) for p in self.patterns}

    def candidates(self, data: bytes, start: int = 0, end: int | None = None) -> list[bytes]:
        """The lines of `data[start:end]` (whole lines) that hold any needle, in order.

        Thread-safe: it keeps no state, so blocks may be searched in parallel.
        """
        end = len(data) if end is None else end
        found: list[bytes] = []
        at = self._search(data, start, end)
        while at is not None:
            line_start = data.rfind(b"\n", start, at.start()) + 1 or start
            line_end = data.find(b"\n", at.start(), end)
            line_end = end if line_end == -1 else line_end
            found.append(data[line_start:line_end])
            at = self._search(data, line_end, end)
        return found

    def match(self, line: LogLine, received_at: datetime) -> list[Match]:
        """The patterns one line matches under the catalogue's rules."""
        if self._own_dyno and line.dyno == self._own_dyno:
            return []  # the watcher's own dyno: its output and its restarts are not the app's
        text = _searchable(line).lower()
        if self._search(text) is None:
            # No needle of any pattern (nor a restart's message) is in the line: most lines.
            return []
        found = [
            Match(pattern, line)
            for pattern in self.patterns
            if _applies(pattern, line) and any(n in text for n in self._lowered[pattern.id])
        ]
        loop = self._restart_loop
        if loop and line.source in (PLATFORM, None) and self._is_restart_loop(line, received_at):
            found.append(Match(loop, line))
        return found

    def _is_restart_loop(self, line: LogLine, received_at: datetime) -> bool:
        at = line.timestamp or received_at
        message = line.message.strip().lower()
        if message not in _RESTART_MESSAGES or not line.dyno:
            return False
        dyno = self._dynos.setdefault(line.dyno, _Dyno())
        if message in _PLANNED_MESSAGES:
            dyno.planned.append(at)
            _forget_before(dyno.planned, at, PLANNED_WINDOW)
            return False
        _forget_before(dyno.planned, at, PLANNED_WINDOW)
        if dyno.planned:
            return False  # a planned restart's SIGTERM
        dyno.sigterms.append(at)
        _forget_before(dyno.sigterms, at, RESTART_LOOP_WINDOW)
        return len(dyno.sigterms) >= RESTART_LOOP_COUNT


def _applies(pattern: Pattern, line: LogLine) -> bool:
    # A line whose source cannot be read (another export format, a drain's syslog frame)
    # meets every pattern.
    if line.source is None:
        return True
    if pattern.only:
        return (line.source, line.dyno) in pattern.only
    return line.source == pattern.source


def _searchable(line: LogLine) -> str:
    # A router line's URL path is the caller's text, never an error of ours.
    if line.source == PLATFORM and line.dyno == "router":
        return line.message.split(" path=", 1)[0]
    return line.message if line.source is not None else line.raw


def _forget_before(times: deque[datetime], at: datetime, window: timedelta) -> None:
    # Times older than `window` before `at`. Compared as a difference: `at - window` overflows
    # for a line stamped near year 1 (garbled or hostile), and a log line must never raise.
    while times and at - times[0] > window:
        times.popleft()
