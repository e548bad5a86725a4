"""The fault matrix: every outside system crossed with each way it fails, and what the watcher does.

The matrix is data (`CELLS`): a system, a failure mode, what the fake (or the test) does to
inject it, and the expected outcome. `test_fault` runs each cell as its own test id:

- checks through `CheckSet` + `run_checks`, as `watcher once` runs them: the check's state,
  finding or reason; no exception escapes a check; no run (and no check thread) outlives the
  timeouts;
- Slack and Alertmanager through the `Notifier`'s `Delivery` and `Alertmanager`, built from the
  settings, over a SQLite store: the pass under the fault, then the pass after it clears;
  nothing queued is lost;
- the state store through `watcher once --notify`: the run still reports its checks and says
  why the store failed.

`docs/fault-matrix.md` is rendered from `CELLS`: `python -m tests.test_fault_matrix` writes it,
and `test_the_document_is_the_matrix` fails when the committed file differs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg2
import pytest
from prometheus_client import CollectorRegistry

from checks.result import Finding, Result, State
from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.heroku import DATA_PATH, FakeHeroku
from tests.fakes.http import (
    CUT,
    FakeServer,
    Reply,
    Request,
    SilentServer,
    closed_port,
    json_reply,
)
from tests.fakes.logplex import SESSION_TOKEN, FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.clock import CUTOVER, FakeClock
from tests.support.postgres import OWNER, OWNER_PASSWORD, PgServer, WatchedDatabase
from watcher import __version__
from watcher.checking.runner import CheckReport, run_checks
from watcher.checking.sources import CheckSet
from watcher.cli import main as cli
from watcher.daemon import Daemon
from watcher.notify import slack
from watcher.notify.alertmanager import Alertmanager
from watcher.notify.delivery import Delivery
from watcher.notify.notices import Notice
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import Settings, load_settings
from watcher.store.database import PostgresDb
from watcher.store.history import LogMatchCount
from watcher.store.outbox import Message
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics
from watcher.watch import Watch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "fault-matrix.md"
NOW = CUTOVER + timedelta(hours=2)
# What every run may take beyond WATCHER_CHECK_TIMEOUT: closing the database session (1 s at
# most) and the scheduling of threads on a busy machine.
MARGIN = 1.5
SQL_CHECKS = ("pg_connections", "tables", "grants", "migrations", "pg_activity")


# -- clocks --------------------------------------------------------------------------------


class MovedClock:
    """Real time passes (a check's deadline is real), but a sleep moves the clock instead.

    A 429's `Retry-After: 1` is waited out at once, and `slept` says it was; a test can also
    move the clock while a fake answers, to make an answer late without waiting for it.
    """

    def __init__(self, start: datetime = NOW) -> None:
        self._start = start
        self._origin = time.monotonic()
        self._moved = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic() + self._moved

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic() - self._origin)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self._moved += seconds


# -- expected outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A check cell: the state of the check the system feeds, and what it says.

    `finding` must be among the check's findings, `says` in its summary. For the SQL checks
    `check` names the one that meets the fault; `rest` is the state of the other three (None:
    they meet it too, and say the same).
    """

    state: State
    finding: str | None = None
    says: str | None = None
    check: str | None = None
    rest: State | None = None
    # Another way of saying it (which one comes first is a race the server decides).
    or_says: str | None = None
    # The waits a 429 asked for, taken on the moved clock.
    slept: tuple[float, ...] = ()

    def short(self) -> str:
        return self.state.name

    def text(self, system: str) -> str:
        check = self.check or SYSTEMS[system].checks[0]
        parts = [f"`{check}` **{self.state.name}**"]
        if self.finding:
            parts.append(f"`{self.finding}`")
        text = " ".join(parts)
        if self.says:
            text += f': "{self.says}"'
        if self.or_says:
            text += f' or "{self.or_says}"'
        if self.slept:
            text += f" (waited {', '.join(f'{s:g} s' for s in self.slept)})"
        if len(SYSTEMS[system].checks) > 1:
            others = "the other SQL checks"
            text += f"; {others} the same" if self.rest is None else f"; {others} {self.rest.name}"
        return text


SENT, PENDING, FAILED = "sent", "pending", "failed for good"


@dataclass(frozen=True)
class Delivered:
    """A Slack or Alertmanager cell: the pass under the fault, and the pass after it clears.

    `first` is SENT, PENDING (kept, retried: `reason` is counted) or FAILED (a permanent
    error: kept, counted, reported, queued again at the next start).
    """

    first: str
    reason: str | None = None
    # Slack took the message but its answer was lost: it may be posted twice (at least once).
    twice: bool = False

    def short(self) -> str:
        if self.first == SENT:
            return "sent"
        return f"{'pending' if self.first == PENDING else 'failed'} → sent"

    def text(self, system: str) -> str:
        if self.first == SENT:
            return "sent in the same pass"
        reason = f" (`{self.reason}` counted)" if self.reason else ""
        if self.first == FAILED:
            return (
                f"failed for good{reason}, the watcher's own health UNKNOWN; queued again at"
                " the next start and sent once the setting is fixed"
            )
        later = "sent on a later pass"
        if self.twice:
            later += ": Slack took it the first time, so it may show twice (at least once)"
        if system == "alertmanager":
            later += "; the resolution is kept until Alertmanager takes it"
        return f"kept{reason}; {later}"


@dataclass(frozen=True)
class Reported:
    """A state-store cell, through `watcher once --notify`: the run still reports its checks.

    `exit_code`, the `tables` check's state (its first baseline lives in the store), what
    stderr says (None: nothing), and whether the CRITICAL alert reached Slack.
    """

    exit_code: int
    tables: State
    says: str | None = None
    alerted: bool = False

    def short(self) -> str:
        return f"exit {self.exit_code}, {'alerted' if self.alerted else 'says why'}"

    def text(self, system: str) -> str:
        text = f"the table is printed; exit {self.exit_code}; `tables` **{self.tables.name}**"
        if self.says:
            text += f'; stderr and `tables` say "{self.says}"'
        text += (
            "; the CRITICAL alert reaches Slack"
            if self.alerted
            else "; no alert is sent (the escalation reached no one: exit at least 3)"
        )
        return text


@dataclass(frozen=True)
class Shared:
    """A state-store cell of the daemon's delivery: what reaches Slack, and the watcher's own
    state meanwhile (None: not asked)."""

    pages: int
    own_state: State | None = None
    says: str = ""

    def short(self) -> str:
        own = f", own state {self.own_state.name}" if self.own_state else ""
        return f"{self.pages} page each{own}"

    def text(self, system: str) -> str:
        own = (
            f"; the watcher's own state is **{self.own_state.name}** meanwhile"
            if self.own_state
            else ""
        )
        return f"each message reaches Slack {self.pages} time(s){own}; {self.says}"


Expected = Checked | Delivered | Reported | Shared


@dataclass(frozen=True)
class System:
    """An outside system: how the doc names it, and which checks read it (none: a channel)."""

    title: str
    checks: tuple[str, ...] = ()


SYSTEMS: dict[str, System] = {
    "healthz": System("healthz (`WATCHER_HEALTHZ_URL`)", ("healthz",)),
    "heroku-platform": System(
        "Heroku Platform API: the DATABASE attachment (`pg_info`)", ("pg_info",)
    ),
    "heroku-data": System("Heroku Data API: pg:info (`pg_info`)", ("pg_info",)),
    "heroku-log-session": System("Heroku Platform API: log session (`logs`)", ("logs",)),
    "logplex": System("Logplex stream (`logs`)", ("logs",)),
    "sentry": System("Sentry API (`sentry`)", ("sentry",)),
    "postgres": System("the watched PostgreSQL (SQL checks)", SQL_CHECKS),
    "slack": System("Slack (outbox delivery)"),
    "alertmanager": System("Alertmanager"),
    "state-store": System("the state store (`watcher once --notify`)"),
}

# The grid's columns, in order: key -> heading.
MODES: dict[str, str] = {
    "refused": "refused",
    "no-answer": "no answer (timeout)",
    "slow-within": "slow, within the timeout",
    "slow-beyond": "slow, beyond the timeout",
    "trickle": "answer trickles past the deadline",
    "401": "401 / credentials rejected",
    "403": "403 / not allowed",
    "404": "404 / not found",
    "429-retry-after": "429 with Retry-After",
    "429-no-retry-after": "429 without Retry-After",
    "429-too-long": "429, wait past the check's time",
    "500": "500",
    "503": "503",
    "garbage": "garbage body",
    "truncated": "truncated body",
    "dropped": "connection dropped",
    "cut-mid-line": "stream cut mid-line",
    "restarted": "restarted mid-check",
    "locked": "locked",
    "locked-briefly": "locked briefly",
    "disk-full": "disk full",
    "not-a-database": "not a database",
    "down-during-delivery": "down while delivering",
    "two-processes": "two processes on one store",
}


@dataclass(frozen=True)
class Cell:
    """One system in one failure mode: what is done to it, and what the watcher must do."""

    system: str
    mode: str
    how: str  # what the fake (or the test) does, for the document
    fault: Callable[[Any], None]
    expect: Expected
    timeout: float = 2.0  # WATCHER_CHECK_TIMEOUT of this cell

    @property
    def id(self) -> str:
        return f"{self.system}-{self.mode}"


# -- injecting faults into the fakes ----------------------------------------------------------


class Switch:
    """A fault in front of a fake's normal answers (for the requests it concerns), until cleared.

    `once` are answered first, one per request; then `always`, if set; `delay` makes the
    normal answer late; `before` runs as a request arrives (e.g. to move a clock).
    """

    def __init__(self, server: FakeServer, when: Callable[[Request], bool]) -> None:
        self._normal = server.respond
        self._when = when
        self._lock = threading.Lock()
        self.once: list[Reply] = []
        self.always: Reply | None = None
        self.delay = 0.0
        self.before: Callable[[], None] | None = None
        server.respond = self._respond  # type: ignore[method-assign]

    def clear(self) -> None:
        with self._lock:
            self.once, self.always, self.delay, self.before = [], None, 0.0, None

    def _respond(self, request: Request) -> Reply:
        if self._when(request):
            with self._lock:
                if self.before is not None:
                    self.before()
                if self.once:
                    return self.once.pop(0)
                if self.always is not None:
                    return self.always
                delay = self.delay
            if delay:
                return replace(self._normal(request), delay=delay)
        return self._normal(request)


class Hangup:
    """Accepts TCP connections on loopback, says `greeting` and hangs up: a peer that is no
    PostgreSQL server (with a greeting), or one that drops every connection (without).
    """

    def __init__(self, greeting: bytes = b"") -> None:
        self._greeting = greeting
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Hangup:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self._sock.accept()
                with conn:
                    conn.sendall(self._greeting)


@dataclass(frozen=True)
class Target:
    """Where an HTTP fault goes: which fake, which of its requests, and the setting naming it."""

    server: Callable[[Any], FakeServer]
    when: Callable[[Request], bool]
    point: Callable[[Any, str], None]


def _setting(name: str, suffix: str = "") -> Callable[[Any, str], None]:
    def point(rig: Any, url: str) -> None:
        rig.settings[name] = url + suffix

    return point


def _logplex_url(rig: Any, url: str) -> None:
    rig.heroku.logplex_url = f"{url}/stream?tail=false&token={SESSION_TOKEN}"


def _every(request: Request) -> bool:
    return True


HEALTHZ = Target(lambda rig: rig.healthz, _every, _setting("healthz_url", "/healthz"))
PLATFORM = Target(
    lambda rig: rig.heroku,
    lambda r: r.path.endswith("/addon-attachments"),
    _setting("heroku_api_url"),
)
DATA = Target(
    lambda rig: rig.heroku, lambda r: r.path.startswith(DATA_PATH), _setting("heroku_data_api_url")
)
LOG_SESSION = Target(
    lambda rig: rig.heroku, lambda r: r.path.endswith("/log-sessions"), _setting("heroku_api_url")
)
LOGPLEX = Target(lambda rig: rig.logplex, lambda r: r.path == "/stream", _logplex_url)
SENTRY = Target(lambda rig: rig.sentry, _every, _setting("sentry_api_url"))
SLACK = Target(lambda rig: rig.slack, _every, _setting("slack_api_url", "/api/"))
ALERTMANAGER = Target(lambda rig: rig.alertmanager, _every, _setting("alertmanager_url"))


def refuse(target: Target) -> Callable[[Any], None]:
    return lambda rig: target.point(rig, f"http://127.0.0.1:{closed_port()}")


def no_answer(target: Target) -> Callable[[Any], None]:
    return lambda rig: target.point(rig, rig.silent_url())


def late(target: Target, seconds: float) -> Callable[[Any], None]:
    def fault(rig: Any) -> None:
        rig.switch(target).delay = seconds

    return fault


def answer(target: Target, reply: Reply, *, once: bool = False) -> Callable[[Any], None]:
    """`reply` for the concerned requests while the fault lasts (`once`: the first only)."""

    def fault(rig: Any) -> None:
        switch = rig.switch(target)
        if once:
            switch.once.append(reply)
        else:
            switch.always = reply

    return fault


def moved_late(target: Target, seconds: float) -> Callable[[Any], None]:
    """The answer comes `seconds` late on the check's clock, without waiting for it."""

    def fault(rig: Any) -> None:
        rig.switch(target).before = lambda: rig.clock.advance(seconds)

    return fault


def _error(status: int, message: str, **headers: str) -> Reply:
    return json_reply({"id": f"http_{status}", "message": message}, status, **headers)


GARBAGE = Reply(200, b"\x00\xff\xfe<html>\x1b[2J not json", {"Content-Type": "application/json"})
TRUNCATED = Reply(
    200,
    chunks=[b'[{"id": "01f3c2a8", "name": "DATAB', CUT],
    headers={"Content-Type": "application/json"},
)
DROPPED = Reply(drop=True)
OUTAGE = Reply(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
               {"Content-Type": "text/html"})  # fmt: skip

# The modes every HTTP API shares: key -> (what the fake does, the fault).
HttpModes = dict[str, tuple[str, Callable[[Any], None]]]


def http_modes(target: Target) -> HttpModes:
    return {
        "refused": ("nothing listens on the port", refuse(target)),
        "no-answer": ("accepts the connection and never answers", no_answer(target)),
        "slow-within": ("answers 0.5 s late", late(target, 0.5)),
        "slow-beyond": ("answers 3 s late", late(target, 3.0)),
        "401": ("HTTP 401 with a JSON error", answer(target, _error(401, "Invalid credentials"))),
        "403": ("HTTP 403 with a JSON error", answer(target, _error(403, "Forbidden"))),
        "404": ("HTTP 404 with a JSON error", answer(target, _error(404, "Not found"))),
        "429-retry-after": (
            "HTTP 429 with `Retry-After: 1`, then the normal answer",
            answer(target, _error(429, "Slow down", **{"Retry-After": "1"}), once=True),
        ),
        "429-no-retry-after": (
            "HTTP 429 without `Retry-After`, then the normal answer",
            answer(target, _error(429, "Slow down"), once=True),
        ),
        "429-too-long": (
            "HTTP 429 with `Retry-After: 60`, every time",
            answer(target, _error(429, "Slow down", **{"Retry-After": "60"})),
        ),
        "500": ("HTTP 500 with a JSON error", answer(target, _error(500, "Internal error"))),
        "503": ("HTTP 503 with an HTML page", answer(target, OUTAGE)),
        "garbage": ("HTTP 200 with a body that is not JSON", answer(target, GARBAGE)),
        "truncated": (
            "HTTP 200, the body cut off mid-JSON (connection closed)",
            answer(target, TRUNCATED),
        ),
        "dropped": ("closes the connection without an answer", answer(target, DROPPED)),
    }


def cells_for(
    system: str,
    modes: HttpModes,
    expected: dict[str, Expected],
    timeouts: dict[str, float] | None = None,
) -> list[Cell]:
    """One cell per mode that has an expected outcome, in the grid's order."""
    unknown = set(expected) - set(modes) | set(expected) - set(MODES)
    assert not unknown, f"{system}: modes without a fault or a column: {unknown}"
    return [
        Cell(system, mode, *modes[mode], expected[mode], (timeouts or {}).get(mode, 2.0))
        for mode in MODES
        if mode in expected
    ]


# -- the cells ---------------------------------------------------------------------------------


def _healthz_cells() -> list[Cell]:
    modes = http_modes(HEALTHZ)
    # The healthz endpoint is the watched service: a body that is not JSON, or not whole.
    modes["garbage"] = ("HTTP 200 with an HTML page", answer(HEALTHZ, GARBAGE))
    modes["503"] = ("HTTP 503 with Heroku's maintenance page", answer(HEALTHZ, maintenance()))
    modes["slow-within"] = (
        "answers 2.5 s late on the check's clock (the timeout is 3.2 s)",
        moved_late(HEALTHZ, 2.5),
    )
    modes["trickle"] = (
        "sends the body a few bytes every 0.3 s, each read in time, the whole too late",
        answer(
            HEALTHZ,
            Reply(
                200,
                chunks=[b" "] * 30 + [b'{"status": "ok", "db": "postgresql"}'],
                headers={"Content-Type": "application/json"},
                chunk_delay=0.3,
            ),
        ),
    )

    def critical(kind: str, says: str | None = None) -> Checked:
        return Checked(State.CRITICAL, f"healthz.{kind}", says)

    status = "healthz.http_status"
    return cells_for(
        "healthz",
        modes,
        {
            "refused": critical("unreachable", "unreachable: connection refused"),
            "no-answer": critical("timeout", "no complete answer within 1.6 s"),
            "slow-within": Checked(State.WARNING, "healthz.slow", "slow: answered in 2.5 s"),
            "slow-beyond": critical("timeout", "no complete answer within 1.6 s"),
            "trickle": critical("timeout", "no complete answer within 1.6 s"),
            "401": Checked(State.CRITICAL, status, "HTTP 401 (expected 200)"),
            "403": Checked(State.CRITICAL, status, "HTTP 403 (expected 200)"),
            "404": Checked(State.CRITICAL, status, "HTTP 404 (expected 200)"),
            "429-retry-after": Checked(State.CRITICAL, status, "HTTP 429 (expected 200)"),
            "429-no-retry-after": Checked(State.CRITICAL, status, "HTTP 429 (expected 200)"),
            "500": Checked(State.CRITICAL, status, "HTTP 500 (expected 200)"),
            "503": critical("maintenance", "HTTP 503: maintenance mode is on"),
            "garbage": critical("bad_body", "HTTP 200 but the body is not JSON"),
            "truncated": critical("unreachable", "the server closed the connection"),
            "dropped": critical("unreachable", "the server closed the connection"),
        },
        timeouts={"slow-within": 4.0},
    )


def _api_cells(
    system: str,
    target: Target,
    api: str,
    statuses: dict[str, str],
    extra: HttpModes | None = None,
    extra_expected: dict[str, Expected] | None = None,
) -> list[Cell]:
    """An API a check reads: any failure is the check's UNKNOWN with the reason; 429 waited out."""
    ok = Checked(State.OK)

    def unknown(says: str) -> Checked:
        return Checked(State.UNKNOWN, None, says)

    expected: dict[str, Expected] = {
        "refused": unknown(f"{api} unreachable: connection refused"),
        "no-answer": unknown(f"{api} did not answer within"),
        "slow-within": ok,
        "slow-beyond": unknown(f"{api} did not answer within"),
        "401": unknown(statuses["401"]),
        "403": unknown(statuses["403"]),
        "404": unknown(statuses["404"]),
        "429-retry-after": replace(ok, slept=(1.0,)),
        "429-no-retry-after": replace(ok, slept=(1.0,)),
        "429-too-long": unknown(
            f"{api} rate limited (HTTP 429): retry in 60 s is past this check's time"
        ),
        "500": unknown(f"{api} answered HTTP 500"),
        "503": unknown(f"{api} answered HTTP 503"),
        "garbage": unknown(f"{api} answered with a body that is not JSON (application/json"),
        "truncated": unknown(
            f"{api} unreachable: the server closed the connection or spoke broken HTTP"
        ),
        "dropped": unknown(
            f"{api} unreachable: the server closed the connection or spoke broken HTTP"
        ),
        **(extra_expected or {}),
    }
    return cells_for(system, {**http_modes(target), **(extra or {})}, expected)


def _logplex_cells() -> list[Cell]:
    def lines(*messages: str) -> bytes:
        at = NOW - timedelta(minutes=5)
        return b"".join(f"{at.isoformat()} {m}\n".encode() for m in messages)

    whole = lines(
        "app[web.1]: GET /bars 200",
        "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table users",
    )
    # Half a line that names a CRITICAL pattern: it must not count.
    half = f"{(NOW - timedelta(minutes=4)).isoformat()} app[web.1]: sqlite3.Operation".encode()
    benign = lines("app[web.1]: GET /bars 200")
    text = {"Content-Type": "text/plain; charset=utf-8"}
    plain = "Logplex error"
    modes = http_modes(LOGPLEX)
    modes |= {
        "slow-within": (
            "sends 10 lines 0.05 s apart, all within the timeout",
            answer(LOGPLEX, Reply(200, chunks=[benign] * 10, headers=text, chunk_delay=0.05)),
        ),
        "trickle": (
            "sends a line every 0.3 s and never ends",
            answer(LOGPLEX, Reply(200, chunks=[benign] * 40, headers=text, chunk_delay=0.3)),
        ),
        "401": ("HTTP 401", answer(LOGPLEX, Reply(401, plain))),
        "403": ("HTTP 403", answer(LOGPLEX, Reply(403, plain))),
        "404": ("HTTP 404: the session's token expired", answer(LOGPLEX, Reply(404, plain))),
        "429-retry-after": (
            "HTTP 429 with `Retry-After: 1`",
            answer(LOGPLEX, Reply(429, plain, {"Retry-After": "1"})),
        ),
        "500": ("HTTP 500", answer(LOGPLEX, Reply(500, plain))),
        "503": ("HTTP 503", answer(LOGPLEX, OUTAGE)),
        "garbage": (
            "HTTP 200, binary junk and invalid UTF-8 instead of log lines",
            answer(LOGPLEX, Reply(200, chunks=[bytes(range(256)) * 8], headers=text)),
        ),
        "truncated": (
            "HTTP 200, the connection cut before the first line ended",
            answer(LOGPLEX, Reply(200, chunks=[half, CUT], headers=text)),
        ),
        "cut-mid-line": (
            "two whole lines (one `permission denied for table`), then half a line naming"
            " `sqlite`, then the connection is cut",
            answer(LOGPLEX, Reply(200, chunks=[whole, half, CUT], headers=text)),
        ),
    }

    def unknown(says: str, finding: str | None = None) -> Checked:
        return Checked(State.UNKNOWN, finding, says)

    cut = "Logplex stream unusable: the server closed the connection or spoke broken HTTP"
    return cells_for(
        "logplex",
        modes,
        {
            "refused": unknown("Logplex stream unusable: connection refused"),
            "no-answer": unknown("Logplex stream unusable: no complete answer within 2 s"),
            "slow-within": Checked(State.OK, None, "read the last 10 lines Logplex keeps"),
            "slow-beyond": unknown("Logplex stream unusable: no complete answer within 2 s"),
            "trickle": unknown(
                "lines: no complete answer within 2 s; counted those", "logs.stream"
            ),
            "401": unknown("Logplex answered HTTP 401"),
            "403": unknown("Logplex answered HTTP 403"),
            "404": unknown("Logplex answered HTTP 404"),
            "429-retry-after": unknown("Logplex answered HTTP 429"),
            "500": unknown("Logplex answered HTTP 500"),
            "503": unknown("Logplex answered HTTP 503"),
            "garbage": Checked(State.OK, None, "lines Logplex keeps (no timestamps)"),
            "truncated": unknown(cut),
            "dropped": unknown(cut),
            "cut-mid-line": Checked(
                State.CRITICAL,
                "logs.permission_denied",
                "log stream broke after 2 lines: the server closed the connection or spoke"
                " broken HTTP; counted those",
            ),
        },
    )


# The watched PostgreSQL: faults done to the server or to DATABASE_URL.


def _database_url(rig: Any, url: str) -> None:
    rig.settings["DATABASE_URL"] = url


def _hold_lock(rig: Any, release_after: float | None, terminate: bool = False) -> None:
    """An ACCESS EXCLUSIVE lock on alembic_version from another session, so the migrations
    check's statement waits; released after `release_after` s (None: when the cell ends).
    With `terminate`, the watcher's backend is killed (pg_terminate_backend) while it waits.
    """
    db: WatchedDatabase = rig.db
    holder = db.admin()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        with contextlib.suppress(psycopg2.Error):
            holder.rollback()
            holder.close()

    def kill_then_release() -> None:
        deadline = time.monotonic() + 5
        with contextlib.closing(db.admin()) as admin, admin.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'cutover-watcher' AND wait_event_type = 'Lock'"
                )
                if cur.fetchall():
                    rig.terminated.set()
                    break
                time.sleep(0.02)
        release()

    if terminate:
        rig.background(kill_then_release)
    elif release_after is not None:
        rig.background(lambda: (time.sleep(release_after), release()))
    rig.cleanups.append(release)


def _postgres_cells() -> list[Cell]:
    def url(rig: Any, password: str = OWNER_PASSWORD, dbname: str | None = None) -> str:
        return str(rig.db.server.url(dbname or rig.db.name, OWNER, password))

    def at_port(port_of: Callable[[Any], int]) -> Callable[[Any], None]:
        def fault(rig: Any) -> None:
            _database_url(
                rig, f"postgresql://{OWNER}:{OWNER_PASSWORD}@127.0.0.1:{port_of(rig)}/raxx"
            )

        return fault

    def limit(rig: Any) -> None:
        rig.db.execute(f"ALTER DATABASE {rig.db.name} CONNECTION LIMIT 0")

    modes: HttpModes = {
        "refused": ("nothing listens on the port", at_port(lambda rig: closed_port())),
        "no-answer": (
            "accepts the connection and never answers (libpq's connect timeout: 2 s)",
            at_port(lambda rig: rig.silent_port()),
        ),
        "slow-within": (
            "a lock held by another session delays the migrations query 0.5 s",
            lambda rig: _hold_lock(rig, 0.5),
        ),
        "slow-beyond": (
            "a lock held by another session for the whole run (statement timeout: 1 s)",
            lambda rig: _hold_lock(rig, None),
        ),
        "401": (
            "refuses the password",
            lambda rig: _database_url(rig, url(rig, password="wrong-Pw-4d2c")),
        ),
        "404": (
            "the database does not exist",
            lambda rig: _database_url(rig, url(rig, dbname="raxx_gone")),
        ),
        "429-no-retry-after": (
            "connection limit reached (`ALTER DATABASE ... CONNECTION LIMIT 0`)",
            limit,
        ),
        "garbage": (
            "the peer answers `HTTP/1.1 400 Bad Request` and hangs up",
            at_port(lambda rig: rig.hangup_port(b"HTTP/1.1 400 Bad Request\r\n\r\n")),
        ),
        "dropped": (
            "accepts the connection and closes it at once",
            at_port(lambda rig: rig.hangup_port()),
        ),
        "restarted": (
            "the watcher's backend is terminated (`pg_terminate_backend`) while the migrations"
            " query waits on a lock",
            lambda rig: _hold_lock(rig, None, terminate=True),
        ),
    }

    def all_unknown(says: str) -> Checked:
        return Checked(State.UNKNOWN, None, says)

    return cells_for(
        "postgres",
        modes,
        {
            "refused": all_unknown("database unreachable: connection to server at"),
            "no-answer": all_unknown("failed: timeout expired"),
            "slow-within": Checked(State.OK, check="migrations", rest=State.OK),
            "slow-beyond": Checked(
                State.UNKNOWN,
                None,
                "query timed out after 1 s (statement_timeout)",
                check="migrations",
                rest=State.OK,
            ),
            "401": all_unknown(f'password authentication failed for user "{OWNER}"'),
            "404": all_unknown('database "raxx_gone" does not exist'),
            "429-no-retry-after": all_unknown("too many connections for database"),
            "garbage": all_unknown("received invalid response to SSL negotiation"),
            "dropped": all_unknown("server closed the connection unexpectedly"),
            "restarted": Checked(
                State.UNKNOWN,
                None,
                "query failed: terminating connection due to administrator command",
                check="migrations",
                rest=State.OK,
                or_says="query failed: server closed the connection unexpectedly",
            ),
        },
        timeouts=dict.fromkeys(modes, 4.0),
    )


# Slack: what Slack answers is a JSON body, usually with HTTP 200 even for errors.


def _slack_cells() -> list[Cell]:
    def slack_error(code: str, status: int = 200) -> Reply:
        return json_reply({"ok": False, "error": code}, status)

    def slow_after_posting(seconds: float) -> Callable[[Any], None]:
        def fault(rig: Any) -> None:
            rig.slack.delay = seconds

        return fault

    modes = http_modes(SLACK)
    modes |= {
        "slow-within": ("answers 0.3 s late (the timeout is 1 s)", late(SLACK, 0.3)),
        "slow-beyond": (
            "posts the message, then answers 1.5 s late (the timeout is 1 s)",
            slow_after_posting(1.5),
        ),
        "401": (
            "`invalid_auth` (HTTP 401, Slack's JSON)",
            answer(SLACK, slack_error("invalid_auth", 401)),
        ),
        "403": (
            "`missing_scope` (HTTP 200, ok=false)",
            answer(SLACK, slack_error("missing_scope")),
        ),
        "404": (
            "`channel_not_found` (HTTP 200, ok=false)",
            answer(SLACK, slack_error("channel_not_found")),
        ),
        "429-retry-after": (
            "HTTP 429 `ratelimited` with `Retry-After: 7`",
            answer(SLACK, FakeSlack.ratelimited(7)),
        ),
        "429-no-retry-after": (
            "HTTP 429 `ratelimited` without `Retry-After`",
            answer(SLACK, Reply(429, {"ok": False, "error": "ratelimited"})),
        ),
        "503": ("HTTP 503 with an HTML page (an outage)", answer(SLACK, FakeSlack.unavailable())),
        "truncated": (
            "HTTP 200, the JSON cut off mid-body (connection closed)",
            answer(
                SLACK,
                Reply(
                    200,
                    chunks=[b'{"ok": true, "chan', CUT],
                    headers={"Content-Type": "application/json"},
                ),
            ),
        ),
    }
    return cells_for(
        "slack",
        modes,
        {
            "refused": Delivered(PENDING, "network"),
            "no-answer": Delivered(PENDING, "timeout"),
            "slow-within": Delivered(SENT),
            "slow-beyond": Delivered(PENDING, "timeout"),
            "401": Delivered(FAILED, "invalid_auth"),
            "403": Delivered(FAILED, "missing_scope"),
            "404": Delivered(FAILED, "channel_not_found"),
            "429-retry-after": Delivered(PENDING, "ratelimited"),
            "429-no-retry-after": Delivered(PENDING, "ratelimited"),
            "500": Delivered(PENDING, "http_500"),
            "503": Delivered(PENDING, "http_503"),
            "garbage": Delivered(PENDING, "bad_response"),
            "truncated": Delivered(PENDING, "network"),
            "dropped": Delivered(PENDING, "network"),
        },
        timeouts=dict.fromkeys(MODES, 1.0),
    )


def _alertmanager_cells() -> list[Cell]:
    modes = http_modes(ALERTMANAGER)
    modes["slow-within"] = ("answers 0.3 s late (the timeout is 1 s)", late(ALERTMANAGER, 0.3))
    modes["slow-beyond"] = ("answers 1.5 s late (the timeout is 1 s)", late(ALERTMANAGER, 1.5))
    modes["429-retry-after"] = (
        "HTTP 429 with `Retry-After: 1`",
        answer(ALERTMANAGER, _error(429, "Slow down", **{"Retry-After": "1"})),
    )
    modes["429-no-retry-after"] = (
        "HTTP 429 without `Retry-After`",
        answer(ALERTMANAGER, _error(429, "Slow down")),
    )
    modes["garbage"] = ("HTTP 200 with a body that is not JSON", answer(ALERTMANAGER, GARBAGE))
    return cells_for(
        "alertmanager",
        modes,
        {
            "refused": Delivered(PENDING, "network"),
            "no-answer": Delivered(PENDING, "timeout"),
            "slow-within": Delivered(SENT),
            "slow-beyond": Delivered(PENDING, "timeout"),
            "401": Delivered(PENDING, "http_401"),
            "403": Delivered(PENDING, "http_403"),
            "404": Delivered(PENDING, "http_404"),
            "429-retry-after": Delivered(PENDING, "http_429"),
            "429-no-retry-after": Delivered(PENDING, "http_429"),
            "500": Delivered(PENDING, "http_500"),
            "503": Delivered(PENDING, "http_503"),
            # Alertmanager's answer is not read: a 200 took the alerts.
            "garbage": Delivered(SENT),
            "truncated": Delivered(PENDING, "network"),
            "dropped": Delivered(PENDING, "network"),
        },
        timeouts=dict.fromkeys(MODES, 1.0),
    )


# The state store.


def _state_store_cells() -> list[Cell]:
    def sqlite_fault(prepare: Callable[[Any, Path], None]) -> Callable[[Any], None]:
        def fault(rig: Any) -> None:
            path = rig.tmp / "store" / "state.db"
            path.parent.mkdir(exist_ok=True)
            prepare(rig, path)
            rig.settings["state_url"] = f"sqlite:///{path}"

        return fault

    def created(path: Path) -> None:
        store = StateStore.sqlite(str(path))
        store.facts.watch_start()
        store.close()

    def lock(release_after: float | None) -> Callable[[Any, Path], None]:
        def prepare(rig: Any, path: Path) -> None:
            created(path)
            holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN EXCLUSIVE")
            rig.cleanups.append(holder.close)
            if release_after is not None:
                rig.background(lambda: (time.sleep(release_after), holder.execute("ROLLBACK")))

        return prepare

    def full(rig: Any, path: Path) -> None:
        rig.small_disk(path.parent)
        created(path)
        rig.fill(path.parent)

    def garbage(rig: Any, path: Path) -> None:
        path.write_bytes(b"this is not a SQLite file\n" * 200)

    def pg_url(rig: Any, password: str) -> str:
        server: PgServer = rig.db.server
        return server.url(rig.state_db(), OWNER, password)

    def pg_refused(rig: Any) -> None:
        rig.settings["state_url"] = (
            f"postgresql://{OWNER}:{OWNER_PASSWORD}@127.0.0.1:{closed_port()}/watcher_state"
        )

    def pg_store(rig: Any) -> None:
        rig.settings["state_url"] = pg_url(rig, OWNER_PASSWORD)

    def pg_restarted(rig: Any) -> None:
        rig.settings["state_url"] = pg_url(rig, OWNER_PASSWORD)
        rig.kill_store_session(before_call=2)

    modes: HttpModes = {
        "refused": ("PostgreSQL store: nothing listens on the port", pg_refused),
        "401": (
            "PostgreSQL store: the password is refused",
            lambda rig: rig.settings.update(state_url=pg_url(rig, "wrong-Pw-9e1f")),
        ),
        "restarted": (
            "PostgreSQL store: its backend is terminated between two calls during the run",
            pg_restarted,
        ),
        "locked": (
            "SQLite store: another connection holds `BEGIN EXCLUSIVE` for the whole run (busy"
            " timeout: 5 s)",
            sqlite_fault(lock(None)),
        ),
        "locked-briefly": (
            "SQLite store: another connection holds `BEGIN EXCLUSIVE` for 1 s",
            sqlite_fault(lock(1.0)),
        ),
        "disk-full": (
            "SQLite store on a 256 KiB tmpfs, filled up after the store was created",
            sqlite_fault(full),
        ),
        "not-a-database": ("SQLite store: the file is not a database", sqlite_fault(garbage)),
        "down-during-delivery": (
            "PostgreSQL store: the daemon's delivery thread runs; the store refuses connections"
            " (its sessions ended) for a while, then comes back and a message is queued",
            pg_store,
        ),
        "two-processes": (
            "PostgreSQL store: two watchers (two stores, two delivery loops) deliver the same"
            " outbox and count the same log line at once",
            pg_store,
        ),
    }
    return cells_for(
        "state-store",
        modes,
        {
            "refused": Reported(3, State.UNKNOWN, "Connection refused"),
            "401": Reported(3, State.UNKNOWN, "password authentication failed"),
            "restarted": Reported(2, State.OK, None, alerted=True),
            "locked": Reported(3, State.UNKNOWN, "database is locked"),
            "locked-briefly": Reported(2, State.OK, None, alerted=True),
            "disk-full": Reported(3, State.UNKNOWN, "database or disk is full"),
            "not-a-database": Reported(3, State.UNKNOWN, "file is not a database"),
            "down-during-delivery": Shared(
                1,
                State.UNKNOWN,
                "the delivery thread survives and sends it once the store is back",
            ),
            "two-processes": Shared(1, None, "the log line is counted once"),
        },
        # The store's busy wait (5 s) must fit in the tables check's time to be named there.
        timeouts={"locked": 8.0, "locked-briefly": 4.0},
    )


CELLS: list[Cell] = [
    *_healthz_cells(),
    *_api_cells(
        "heroku-platform",
        PLATFORM,
        "Heroku Platform API",
        {
            "401": "Heroku rejected HEROKU_API_KEY (401)",
            "403": "Heroku refused HEROKU_API_KEY (403) for the attachments",
            "404": "Heroku app 'raxx-api-prod' not found (404): check WATCHER_APP",
        },
    ),
    *_api_cells(
        "heroku-data",
        DATA,
        "Heroku Data API",
        {
            "401": "Heroku rejected HEROKU_API_KEY (401): the Heroku Data API says",
            "403": "Heroku refused HEROKU_API_KEY (403) for the database",
            "404": "(404): not provisioned yet, or being replaced",
        },
    ),
    *_api_cells(
        "heroku-log-session",
        LOG_SESSION,
        "Heroku Platform API",
        {
            "401": "Heroku rejected HEROKU_API_KEY (401)",
            "403": "Heroku refused HEROKU_API_KEY (403) for the log session",
            "404": "Heroku app 'raxx-api-prod' not found (404): check WATCHER_APP",
        },
    ),
    *_logplex_cells(),
    *_api_cells(
        "sentry",
        SENTRY,
        "Sentry API",
        {
            "401": "Sentry API rejected SENTRY_AUTH_TOKEN (401)",
            "403": "Sentry API refused SENTRY_AUTH_TOKEN (403)",
            "404": "project 'raxx-backend' not found in organization 'raxx' (404)",
        },
    ),
    *_postgres_cells(),
    *_slack_cells(),
    *_alertmanager_cells(),
    *_state_store_cells(),
]


# -- rigs: the fakes a cell runs against ------------------------------------------------------


class Rig:
    """Healthy fakes of every outside system, settings pointing at them, and the cell's clean-up."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path, db: WatchedDatabase | None):
        self.stack, self.tmp, self.db = stack, tmp, db
        self.settings: dict[str, Any] = {"state_url": f"sqlite:///{tmp / 'state.db'}"}
        self.cleanups: list[Callable[[], object]] = []
        self.terminated = threading.Event()
        self._threads: list[threading.Thread] = []
        self._switches: dict[Target, Switch] = {}
        stack.callback(self._clean_up)
        if db is not None:
            self.settings |= {"DATABASE_URL": db.owner_url, "app_role": db.app_role}

    def switch(self, target: Target) -> Switch:
        if target not in self._switches:
            self._switches[target] = Switch(target.server(self), target.when)
        return self._switches[target]

    def clear_faults(self) -> None:
        for switch in self._switches.values():
            switch.clear()

    def silent_url(self) -> str:
        return f"http://127.0.0.1:{self.silent_port()}"

    def silent_port(self) -> int:
        return self.stack.enter_context(SilentServer()).port

    def hangup_port(self, greeting: bytes = b"") -> int:
        return self.stack.enter_context(Hangup(greeting)).port

    def background(self, work: Callable[[], object]) -> None:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _clean_up(self) -> None:
        for clean in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                clean()
        for thread in self._threads:
            thread.join(timeout=10)


class CheckRig(Rig):
    """healthz, Heroku (both APIs), Logplex and Sentry, all healthy: every check is OK."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path, db: WatchedDatabase | None):
        super().__init__(stack, tmp, db)
        self.clock = MovedClock()
        self.healthz = stack.enter_context(FakeHealthz())
        self.heroku = stack.enter_context(FakeHeroku())
        self.logplex = stack.enter_context(FakeLogplex())
        self.sentry = stack.enter_context(FakeSentry())
        self.heroku.set_info(self.heroku.add_postgres(), connections="3/120")
        self.heroku.logplex_url = self.logplex.session_url
        self.logplex.history = [
            f"{(NOW - timedelta(minutes=m)).isoformat()} app[web.1]: GET /bars 200"
            for m in range(40, 0, -2)
        ]
        self.settings |= {
            "healthz_url": self.healthz.healthz_url,
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "heroku_api_url": self.heroku.url,
            "heroku_data_api_url": self.heroku.url,
            "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
            "sentry_api_url": self.sentry.url,
            "sentry_org": sentry_fake.ORG,
            "cutover_at": CUTOVER,
        }


class DeliveryRig(Rig):
    """Slack and an Alertmanager (a fake that records what it takes), on a moved clock."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path):
        super().__init__(stack, tmp, None)
        self.clock = FakeClock(NOW)
        self.slack = stack.enter_context(FakeSlack())
        self.alertmanager = stack.enter_context(FakeServer(lambda request: json_reply({})))
        self.settings |= {
            "SLACK_BOT_TOKEN": slack_fake.TOKEN,
            "slack_api_url": self.slack.api_url,
            "slack_mention": "<@U024BE7LH>",
            "alertmanager_url": self.alertmanager.url,
        }
        self.healthy = dict(self.settings)

    def last_sent(self) -> list[dict[str, Any]]:
        """The alerts of the last request Alertmanager received."""
        return list(self.alertmanager.requests[-1].json())


class StoreRig(Rig):
    """healthz says `db=sqlite` (CRITICAL: an alert to send), the watched database, Slack."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path, db: WatchedDatabase):
        super().__init__(stack, tmp, db)
        self.clock = MovedClock()
        self.healthz = stack.enter_context(FakeHealthz())
        self.healthz.reply = healthy(db="sqlite")
        self.slack = stack.enter_context(FakeSlack())
        self.settings |= {
            "healthz_url": self.healthz.healthz_url,
            "SLACK_BOT_TOKEN": slack_fake.TOKEN,
            "slack_api_url": self.slack.api_url,
        }

    def state_db(self) -> str:
        """A database of its own for a PostgreSQL state store, dropped when the cell ends."""
        assert self.db is not None
        name = f"watcher_state_{uuid.uuid4().hex[:8]}"
        with contextlib.closing(self.db.server.admin()) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} OWNER {OWNER}")

        def drop() -> None:
            assert self.db is not None
            with contextlib.closing(self.db.server.admin()) as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

        self.cleanups.insert(0, drop)  # last: after the store is closed
        return name

    def kill_store_session(self, before_call: int) -> None:
        """Terminate the state store's backend just before its `before_call`-th transaction.

        A call on a connection that broke since the last one is retried on a new connection
        (the first call's connection is fresh: its failure would be the caller's).
        """
        original = PostgresDb.transaction
        calls = itertools.count(1)
        rig = self

        def transaction(db: PostgresDb, work: Callable[[Any], Any]) -> Any:
            if next(calls) == before_call:
                rig.terminate("cutover-watcher-state")
            return original(db, work)

        PostgresDb.transaction = transaction  # type: ignore[method-assign]
        self.cleanups.append(lambda: setattr(PostgresDb, "transaction", original))

    def terminate(self, application: str) -> None:
        """pg_terminate_backend every session of `application`, and wait until they are gone."""
        assert self.db is not None
        with contextlib.closing(self.db.server.admin()) as admin, admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (application,),
            )
            if cur.fetchall():
                self.terminated.set()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (application,),
                )
                if cur.fetchone() == (0,):
                    return
                time.sleep(0.01)

    def small_disk(self, directory: Path) -> None:
        """A 256 KiB tmpfs at `directory` (as root); unmounted when the cell ends."""
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(directory)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr!r}")
        self.cleanups.append(lambda: subprocess.run(["umount", "-l", str(directory)], check=False))

    @staticmethod
    def fill(directory: Path) -> None:
        fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)


# -- running a cell ------------------------------------------------------------------------------


def _settings(rig: Rig, cell: Cell) -> Settings:
    return load_settings(
        **{"check_timeout": cell.timeout, "slack_timeout": cell.timeout, **rig.settings}
    )


def _run_checks(cell: Cell, rig: CheckRig) -> dict[str, CheckReport]:
    settings = _settings(rig, cell)
    names = list(SYSTEMS[cell.system].checks)
    before = set(threading.enumerate())
    started = time.monotonic()
    store = StateStore.from_url(settings.state_url.get_secret_value())
    with httpx.Client(
        timeout=settings.check_timeout, headers={"User-Agent": f"cutover-watcher/{__version__}"}
    ) as http:
        checkset = CheckSet(settings, store, rig.clock, http)
        try:
            reports = run_checks(
                checkset.planned(names), settings.check_timeout, rig.clock, Redactor([])
            )
        finally:
            checkset.close()
            store.close()
    took = time.monotonic() - started
    assert took < cell.timeout + MARGIN, f"the run took {took:.1f} s"
    # No check thread outlives the timeouts: each check ends by its own deadline, not only
    # the runner's.
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("check-"):
            thread.join(timeout=max(0.0, started + cell.timeout + MARGIN - time.monotonic()))
            assert not thread.is_alive(), f"{thread.name} still runs after the timeouts"
    return {r.name: r for r in reports}


def _assert_checked(cell: Cell, expect: Checked, reports: dict[str, CheckReport]) -> None:
    checks = SYSTEMS[cell.system].checks
    main = expect.check or checks[0]
    for name, report in reports.items():
        result = report.result
        # An exception that escapes a check is a bug, even though the runner catches it.
        assert "internal error" not in result.summary, result.summary
        if name == main or expect.rest is None:
            assert (result.state, name) == (expect.state, name), result.summary
            if expect.finding:
                assert expect.finding in [f.id for f in result.findings], result.summary
            if expect.says:
                said = [s for s in (expect.says, expect.or_says) if s]
                assert any(s in result.summary for s in said), result.summary
        else:
            assert (result.state, name) == (expect.rest, name), result.summary


def _grants_drift(at: datetime) -> list[CheckReport]:
    finding = Finding("grants.table_privileges", State.CRITICAL, "raptor_app lacks INSERT on users")
    return [CheckReport("grants", "4.6, 7.3", Result.from_findings([finding], "ok"), 0.1)]


SLACK_ONLY = (slack.CHANNEL,)


def _run_slack(cell: Cell, rig: DeliveryRig) -> None:
    expect = cell.expect
    assert isinstance(expect, Delivered)
    registry = CollectorRegistry()
    store = StateStore.sqlite(str(rig.tmp / "state.db"))
    rig.cleanups.append(store.close)
    http = rig.stack.enter_context(httpx.Client())
    # Two messages queued as the watch queues them: an alert's post and a timeline mark; the
    # Slack channel only (the Alertmanager cells have their own).
    notifier = Notifier(
        _settings(rig, cell), store, rig.clock, http, Metrics(registry, "t"), channels=SLACK_ONLY
    )
    notifier.escalation.observe(_grants_drift(rig.clock.now()), rig.clock.now())
    store.outbox.enqueue([Message("post", Notice.text("4-hour mark: clean"))], rig.clock.now())

    started = time.monotonic()
    report = notifier.delivery.deliver(budget=cell.timeout)
    took = time.monotonic() - started
    # Two messages, each one request under the timeout (or two: the plain-text retry).
    assert took < 4 * cell.timeout + MARGIN, f"the pass took {took:.1f} s"
    failures = registry.get_sample_value(
        "watcher_notification_failures_total", {"channel": "slack", "reason": expect.reason or ""}
    )
    if expect.first == SENT:
        assert (report.sent, report.pending, report.failed) == (2, 0, [])
    elif expect.first == PENDING:
        assert (report.sent, report.pending, report.failed) == (0, 2, [])
        assert failures and failures >= 1
    else:
        assert (report.sent, report.pending) == (0, 0)
        assert [f.reason for f in report.failed] == [expect.reason] * 2
        assert notifier.delivery.health() is not None
        assert failures == 2

    # The fault clears; a later pass (after a restart, for a setting that failed for good).
    rig.clear_faults()
    rig.slack.delay = 0.0
    rig.settings = dict(rig.healthy)
    rig.clock.advance(120)
    notifier = Notifier(_settings(rig, cell), store, rig.clock, http, channels=SLACK_ONLY)
    if expect.first == FAILED:
        assert notifier.delivery.requeue_for_new_settings() == 2
    later = notifier.delivery.deliver(budget=cell.timeout)
    assert (later.pending, later.failed) == (0, [])
    assert store.outbox.counts() == {"sent": 2}
    texts = [m.text or "" for m in rig.slack.messages]
    assert sum("grants.table_privileges" in t or "raptor_app" in t for t in texts) >= 1
    assert "4-hour mark: clean" in texts
    if not expect.twice:
        assert len(texts) == 2, texts
    assert notifier.delivery.health() is None


def _run_alertmanager(cell: Cell, rig: DeliveryRig) -> None:
    expect = cell.expect
    assert isinstance(expect, Delivered)
    registry = CollectorRegistry()
    store = StateStore.sqlite(str(rig.tmp / "state.db"))
    rig.cleanups.append(store.close)
    http = rig.stack.enter_context(httpx.Client())
    notifier = Notifier(_settings(rig, cell), store, rig.clock, http, Metrics(registry, "t"))
    # One alert firing, one resolved that Alertmanager has not been told of yet.
    now = rig.clock.now()
    fewer = Finding("tables.fewer", State.CRITICAL, "34 tables (baseline 35)")
    notifier.escalation.observe(
        [*_grants_drift(now), CheckReport("tables", "7.2", Result.from_findings([fewer], ""), 0.1)],
        now,
    )
    for minutes in (1, 2):
        ok = CheckReport("tables", "7.2", Result.from_findings([], "35 tables"), 0.1)
        notifier.escalation.observe([ok], now + timedelta(minutes=minutes))
    expected_ids = {"grants.table_privileges", "tables.fewer"}
    assert {a.id for a in store.alerts.alertmanager_pending()} == expected_ids
    alertmanager = notifier.transport("alertmanager")
    assert isinstance(alertmanager, Alertmanager)

    started = time.monotonic()
    reason = alertmanager.sync(store)
    took = time.monotonic() - started
    assert took < cell.timeout + MARGIN, f"the pass took {took:.1f} s"
    if expect.first == SENT:
        assert reason is None
        assert {a.id for a in store.alerts.alertmanager_pending()} == {"grants.table_privileges"}
        return
    assert reason == expect.reason
    assert registry.get_sample_value(
        "watcher_notification_failures_total", {"channel": "alertmanager", "reason": reason}
    )
    # Nothing lost: both are sent again on the next pass.
    assert {a.id for a in store.alerts.alertmanager_pending()} == expected_ids

    rig.clear_faults()
    rig.settings = dict(rig.healthy)
    rig.clock.advance(60)
    notifier = Notifier(_settings(rig, cell), store, rig.clock, http)
    alertmanager = notifier.transport("alertmanager")
    assert isinstance(alertmanager, Alertmanager)
    assert alertmanager.sync(store) is None
    last = {a["labels"]["alertname"]: a for a in rig.last_sent()}
    assert set(last) == expected_ids
    resolved = store.alerts.get("tables.fewer")
    assert resolved is not None and resolved.resolved_at is not None
    assert last["tables.fewer"]["endsAt"] == resolved.resolved_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert {a.id for a in store.alerts.alertmanager_pending()} == {"grants.table_privileges"}


def _run_store(cell: Cell, rig: StoreRig, capsys: pytest.CaptureFixture[str]) -> None:
    expect = cell.expect
    assert isinstance(expect, Reported)
    settings = _settings(rig, cell)
    started = time.monotonic()
    code = cli.once(
        settings, rig.clock, Redactor(settings.secrets()), ["healthz", "tables"], False, True
    )
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    # The checks' time, then the notifications' (a budget of the check timeout); a SQLite
    # store that is locked adds its busy timeout (5 s) once more.
    bound = 2 * cell.timeout + MARGIN + (5.0 if cell.mode == "locked" else 0.0)
    assert took < bound, f"watcher once --notify took {took:.1f} s"
    assert code == expect.exit_code, out + err
    rows = {line.split()[1]: line for line in out.splitlines()[3:] if line.strip()}
    assert rows["healthz"].startswith("CRITICAL "), out
    assert rows["tables"].startswith(f"{expect.tables.name} "), out
    if expect.says:
        assert expect.says in err, err
        assert "state store" in rows["tables"] and expect.says in rows["tables"], out
        # Never the store's password.
        assert OWNER_PASSWORD not in out + err and "wrong-Pw" not in out + err
    else:
        assert err == ""
        assert "notifications: 1 sent, 0 pending" in out
    alerted = any("healthz.db_sqlite" in (m.text or "") or "sqlite" in (m.text or "")
                  for m in rig.slack.messages)  # fmt: skip
    assert alerted == expect.alerted
    if cell.mode == "restarted":
        assert rig.terminated.is_set(), "the state store's session was never terminated"


def _run_shared_store(cell: Cell, rig: StoreRig) -> None:
    expect = cell.expect
    assert isinstance(expect, Shared)
    settings = _settings(rig, cell)
    url = settings.state_url.get_secret_value()
    http = rig.stack.enter_context(httpx.Client())
    if cell.mode == "two-processes":
        stores = [StateStore.from_url(url) for _ in range(2)]
        for store in stores:
            rig.cleanups.append(store.close)
        stores[0].outbox.enqueue(
            [Message("post", Notice.text(f"page {i}")) for i in range(10)], NOW
        )
        deliveries = [Notifier(settings, s, rig.clock, http).delivery for s in stores]
        match = LogMatchCount("permission_denied", NOW, "cd" * 12)
        counted: list[list[LogMatchCount]] = []

        def work(store: StateStore, delivery: Delivery) -> None:
            delivery.deliver()
            counted.append(store.history.count_log_matches([match], rig.clock.now()))

        threads = [
            threading.Thread(target=work, args=pair)
            for pair in zip(stores, deliveries, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        texts = sorted(m.text or "" for m in rig.slack.messages)
        assert texts == sorted(f"page {i}" for i in range(10)) * expect.pages
        assert stores[0].history.log_counts(NOW) == {"permission_denied": 1}
        assert sorted(len(c) for c in counted) == [0, 1]
        return
    # down-during-delivery: the daemon's own delivery thread, in this process.
    store = StateStore.from_url(url)
    rig.cleanups.append(store.close)
    daemon = Daemon(settings, rig.clock, Redactor(settings.secrets()))
    notifier = Notifier(settings, store, rig.clock, http, daemon.metrics)
    watch = Watch(settings, store, rig.clock, http, daemon.metrics, notifier, Redactor([]))
    thread = threading.Thread(
        target=daemon._supervised,
        args=(watch, "deliver", lambda: daemon._deliver(watch), 0),
        daemon=True,
    )
    thread.start()
    rig.cleanups.append(lambda: (daemon.stop.set(), watch.wake(), thread.join(5)))
    name = urlsplit(url).path.lstrip("/")
    assert rig.db is not None
    with contextlib.closing(rig.db.server.admin()) as admin, admin.cursor() as cur:
        cur.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        rig.terminate("cutover-watcher-state")
        _until(lambda: watch.self_report().result.state == expect.own_state)
        own = watch.self_report().result.summary
        assert "thread deliver failing" in own and "StateStoreError" in own, own
        assert rig.slack.messages == []
        cur.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    store.outbox.enqueue([Message("post", Notice.text("CRITICAL page"))], rig.clock.now())
    watch.wake()
    _until(lambda: len(rig.slack.messages) >= 1)
    _until(lambda: watch.self_report().result.state == State.OK)
    assert [m.text for m in rig.slack.messages] == ["CRITICAL page"] * expect.pages
    assert thread.is_alive()


def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_fault(
    cell: Cell,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    needs_db = cell.system in ("postgres", "state-store")
    db = request.getfixturevalue("watched_db") if needs_db else None
    with contextlib.ExitStack() as stack:
        if cell.system in ("slack", "alertmanager"):
            delivery = DeliveryRig(stack, tmp_path)
            cell.fault(delivery)
            (_run_slack if cell.system == "slack" else _run_alertmanager)(cell, delivery)
        elif cell.system == "state-store":
            assert db is not None
            store = StoreRig(stack, tmp_path, db)
            cell.fault(store)
            if isinstance(cell.expect, Shared):
                _run_shared_store(cell, store)
            else:
                _run_store(cell, store, capsys)
        else:
            expect = cell.expect
            assert isinstance(expect, Checked)
            rig = CheckRig(stack, tmp_path, db)
            cell.fault(rig)
            _assert_checked(cell, expect, _run_checks(cell, rig))
            assert rig.clock.slept == list(expect.slept)
            if cell.mode == "restarted":
                assert rig.terminated.is_set(), "the watcher's backend was never terminated"
    assert not [r for r in caplog.records if "raised" in r.getMessage()]


# -- the document --------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """docs/fault-matrix.md, from CELLS."""
    by_system: dict[str, dict[str, Cell]] = {}
    for cell in CELLS:
        by_system.setdefault(cell.system, {})[cell.mode] = cell
    used = [m for m in MODES if any(m in cells for cells in by_system.values())]
    lines = [
        "# Fault matrix",
        "",
        "<!-- Generated from tests/test_fault_matrix.py by `python -m tests.test_fault_matrix`;"
        " do not edit. -->",
        "",
        "Every outside system the watcher depends on, crossed with each way it fails that"
        " applies, and what the watcher does. Each cell is one test"
        " (`tests/test_fault_matrix.py::test_fault[<system>-<mode>]`) against real loopback"
        " servers and the test PostgreSQL, and this page is rendered from the same data, so it"
        " cannot drift from what is tested.",
        "",
        "Every cell also asserts that no exception escapes, and that nothing waits past the"
        " timeouts: a check run ends within `WATCHER_CHECK_TIMEOUT` (plus 1.5 s) and leaves no"
        " check thread behind; a delivery pass within its requests' timeouts. For Slack and"
        " Alertmanager, what was queued is still there after the failure and is delivered once"
        " the fault clears; for the state store, `watcher once --notify` still prints every"
        " check and says why the store failed. Waits that a 429 asks for are taken on a moved"
        " clock, not slept.",
        "",
        f"{len(CELLS)} cells over {len(by_system)} systems.",
        "",
        "## Overview",
        "",
        "| failure mode | " + " | ".join(by_system) + " |",
        "|---|" + "---|" * len(by_system),
    ]
    for mode in used:
        row = [cells[mode].expect.short() if mode in cells else "" for cells in by_system.values()]
        lines.append(f"| {MODES[mode]} | " + " | ".join(row) + " |")
    lines += [
        "",
        "An empty cell: the mode does not apply to that system (or is the same as another).",
        "",
        "Check states are those of the check the system feeds (`healthz` is the watched service:"
        " its failures are CRITICAL; every other source's failure is that check's UNKNOWN)."
        ' "pending → sent": kept in the outbox and delivered on a later pass; "failed → sent":'
        " a permanent error, queued again at the next start.",
    ]
    for system, cells in by_system.items():
        timeouts = [c.timeout for c in cells.values()]
        usual = max(set(timeouts), key=timeouts.count)
        lines += [
            "",
            f"## {SYSTEMS[system].title}",
            "",
            f"`WATCHER_CHECK_TIMEOUT={usual:g}` unless noted.",
            "",
            "| failure mode | what the test does | expected |",
            "|---|---|---|",
        ]
        for mode in MODES:
            if mode in cells:
                cell = cells[mode]
                how = cell.how
                if cell.timeout != usual:
                    how += f" (`WATCHER_CHECK_TIMEOUT={cell.timeout:g}`)"
                lines.append(
                    f"| {MODES[mode]} | {_escape(how)} | {_escape(cell.expect.text(system))} |"
                )
    lines += [
        "",
        "## Not covered, and stand-ins",
        "",
        "- A PostgreSQL restart is simulated by terminating the watcher's backend"
        " (`pg_terminate_backend`) while its statement runs; the server itself stays up.",
        "- The full disk is a 256 KiB tmpfs filled up after the store was created (the test"
        " mounts it as root; where it cannot, the cell is skipped).",
        "- Slack's authentication and channel errors are Slack's JSON (`ok: false`); Slack sends"
        " most with HTTP 200, `invalid_auth` is sent here with 401 as a proxy might.",
        "",
    ]
    return "\n".join(lines)


def test_the_document_is_the_matrix() -> None:
    assert DOC.read_text() == render(), "run `python -m tests.test_fault_matrix` to regenerate"


def test_every_system_has_cells_and_ids_are_unique() -> None:
    assert {c.system for c in CELLS} == set(SYSTEMS)
    assert len({c.id for c in CELLS}) == len(CELLS)
    assert all(re.fullmatch(r"[a-z0-9-]+", c.id) for c in CELLS)


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC.relative_to(ROOT)}: {len(CELLS)} cells", file=sys.stderr)
