"""Follows the app's log stream for the whole watch, feeding the pattern counts continuously.

Logplex keeps 1,500 lines and `heroku logs` has no `--since`, so only something that follows
the stream all the time can answer "since T0". Tails end (idle, platform restarts, network):
the follower opens a new session, asking for recent lines again so nothing in the gap is lost,
and drops the ones it has already counted. When the replay does not reach back to what was
counted, lines may have been lost in between: the follower says so in its health.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, Match
from checks.logparse.log_stream import stream_lines
from checks.logparse.log_tally import LogTally
from checks.logs import ACCEPT, LOGPLEX_LINES, LineReader
from checks.sources.clock import Clock
from checks.sources.heroku_api import HerokuApi
from checks.sources.http_api import ApiError, transport_reason

log = logging.getLogger(__name__)

# The catalogue's pattern for Logplex's drop notices (L10, L11, ...).
LOG_DROPPED = "log_dropped"
IDLE_TIMEOUT = 15 * 60.0  # the Heroku CLI's own: a tail silent this long is dead
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 5.0
SESSION_BUDGET = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class FollowerHealth:
    """What the follower can say about itself."""

    connected: bool = False
    reconnects: int = 0
    lines_seen: int = 0
    last_line_at: datetime | None = None
    last_error: str | None = None
    # Reconnects whose replay did not reach back to the lines counted: some may be lost.
    gaps: int = 0
    # Each of those gaps: lines between these two times may be lost (the last line read
    # before, the first line read after; None where not known).
    gap_windows: tuple[tuple[datetime | None, datetime | None], ...] = ()


def gap_text(window: tuple[datetime | None, datetime | None]) -> str:
    """`lines between 14:02:10Z and 14:02:35Z may be lost`."""
    before, after = window
    start = "?" if before is None else f"{before.astimezone(UTC):%H:%M:%S}Z"
    end = "?" if after is None else f"{after.astimezone(UTC):%H:%M:%S}Z"
    return f"lines between {start} and {end} may be lost"


class _Stopped(Exception):
    pass


class LogFollower:
    """Tails the log into its own tally (matched by its matcher) and `readers`, under its lock;
    `on_match` hears each match at once, with the line's key (its digest, hex), which the state
    store keeps with the count."""

    def __init__(
        self,
        api: HerokuApi,
        http: httpx.Client,
        matcher: LogMatcher,
        clock: Clock,
        on_match: Callable[[Match, str], None] = lambda match, key: None,
        idle_timeout: float = IDLE_TIMEOUT,
        replay_lines: int = LOGPLEX_LINES,
        remembered: Sequence[str] = (),
        readers: Sequence[LineReader] = (),
    ) -> None:
        self._api, self._http, self._matcher = api, http, matcher
        # The `router` and `pg_metrics` counts: fed every line, under the lock like the tally.
        self._readers = tuple(readers)
        self._tally, self._lock, self._clock = LogTally(), threading.Lock(), clock
        self._on_match = on_match
        self._idle_timeout = idle_timeout
        self._replay_lines = replay_lines
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._health = FollowerHealth()
        # Counted apart from `_health`, which is rebuilt only when it changes otherwise: a new
        # FollowerHealth per line costs more than the rest of a line's reading.
        self._lines_seen = 0
        self._last_line_at: datetime | None = None
        # The lines counted lately (as digests), with how often: what a new session's replay
        # may repeat. `remembered` carries them over a restart, from the state store.
        self._recent: deque[bytes] = deque()
        self._recent_count: dict[bytes, int] = {}
        self._recent_limit = 2 * replay_lines
        # The time of the last line read: where a gap starts.
        self._last_line_time: datetime | None = None
        for key in remembered:
            with contextlib.suppress(ValueError):
                self._remember_key(bytes.fromhex(key))

    @property
    def tally(self) -> LogTally:
        """The counts so far; read them through `judge` while the follower runs."""
        return self._tally

    def judge(self, evaluate: Callable[[LogTally, LogMatcher], T]) -> T:
        """`evaluate` on the counts and the matcher that made them, under the lock: the
        follower goes on counting while a cycle reads them."""
        with self._lock:
            return evaluate(self._tally, self._matcher)

    def restore(self, minutes: Iterable[tuple[str, datetime, int]], sample: str) -> None:
        """Counts kept from before a restart: (pattern, minute, matches) each."""
        with self._lock:
            for pattern, minute, count in minutes:
                self._tally.restore(pattern, minute, count, sample)

    def remembered(self) -> list[str]:
        """The digests of the lines counted lately, oldest first, for the state store."""
        return [key.hex() for key in list(self._recent)]

    @property
    def health(self) -> FollowerHealth:
        return replace(self._health, lines_seen=self._lines_seen, last_line_at=self._last_line_at)

    def run(self) -> None:
        """Follow until `stop()`; every failure is a reconnect after a back-off, never an exit."""
        backoff = FIRST_BACKOFF
        while not self._stop.is_set():
            lines_before = self._lines_seen
            try:
                problem = self._follow_one_session()
            except _Stopped:
                break
            except ApiError as exc:
                problem = f"log session not created: {exc}"
            except httpx.TimeoutException:
                problem = f"no log line for {self._idle_timeout:g} s"
            except httpx.HTTPError as exc:
                problem = f"log stream broke: {transport_reason(exc)}"
            except Exception as exc:
                # Whatever else breaks (a bad session URL, a bug), the watch goes on.
                log.exception("log follower failed; reconnecting")
                problem = f"log follower failed: {type(exc).__name__}"
            if self._stop.is_set():
                break
            if self._lines_seen > lines_before:
                backoff = FIRST_BACKOFF  # it worked for a while: reconnect quickly
            self._health = replace(
                self._health,
                connected=False,
                reconnects=self._health.reconnects + 1,
                last_error=problem,
            )
            log.info(
                "log stream lost; reconnecting",
                extra={"fields": {"reason": problem, "in_seconds": backoff}},
            )
            if self._clock.wait(self._stop, backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)
        self._health = replace(self._health, connected=False)

    def stop(self) -> None:
        """End `run()` soon, even while it waits for an answer or a line."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            # Closing a response does not wake a thread blocked reading it; shutting the
            # socket down does.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore reports each connection made: keep its socket so stop() can reach it
        # before any answer arrives.
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            if self._stop.is_set():
                self.stop()

    def _follow_one_session(self) -> str:
        deadline = self._clock.monotonic() + SESSION_BUDGET
        url = self._api.create_log_session(deadline, lines=self._replay_lines, tail=True)
        timeout = httpx.Timeout(SESSION_BUDGET, read=self._idle_timeout)
        try:
            # No Authorization header: the session URL carries its own token. A connection of
            # its own (not one reused from the pool), so stop() can always reach its socket.
            with self._http.stream(
                "GET",
                url,
                headers={"Accept": ACCEPT, "Connection": "close"},
                timeout=timeout,
                extensions={"trace": self._trace},
            ) as response:
                stream = response.extensions.get("network_stream")
                if self._socket is None and stream is not None:
                    self._socket = stream.get_extra_info("socket")
                if response.status_code != 200:
                    return f"Logplex answered HTTP {response.status_code}"
                self._health = replace(self._health, connected=True)
                log.info(
                    "log stream connected",
                    extra={
                        "fields": {
                            "session": self._health.reconnects + 1,
                            "replay_lines": self._replay_lines,
                        }
                    },
                )
                self._read(response)
        except (httpx.HTTPError, OSError):
            if self._stop.is_set():
                raise _Stopped from None
            raise
        finally:
            self._socket = None
        if self._stop.is_set():
            raise _Stopped
        return "log stream ended"

    def _read(self, response: httpx.Response) -> None:
        # A new session first replays recent lines: within the first `replay_lines`, each
        # counted line is dropped as often as it was counted, wherever it comes.
        counted = self._recent_count.copy()
        replay_left = self._replay_lines if counted else 0
        oldest = bool(counted)
        for raw in stream_lines(response):
            if self._stop.is_set():
                raise _Stopped
            if replay_left:
                replay_left -= 1
                key = _digest(raw)
                known = counted.get(key, 0) > 0
                if oldest and not known:
                    # The replay's oldest line should be one counted before; if not, the
                    # replay does not reach back to where the last session ended.
                    self._note_gap(parse(raw.decode("utf-8", "replace")).timestamp)
                oldest = False
                if known:
                    counted[key] -= 1
                    continue
            self.take(raw)

    def _note_gap(self, first_after: datetime | None) -> None:
        window = (self._last_line_time, first_after)
        self._health = replace(
            self._health,
            gaps=self._health.gaps + 1,
            gap_windows=(*self._health.gap_windows, window)[-100:],
            last_error="the new session's replay does not reach back to the last line counted:"
            f" {gap_text(window)}",
        )
        log.warning(
            "log stream gap: lines may be lost",
            extra={"fields": {"gap": gap_text(window), "gaps": self._health.gaps}},
        )

    def take(self, raw: bytes) -> None:
        """One line as read from the stream: remembered, counted, matched, given to the readers
        and to `on_match`."""
        key = _digest(raw)
        self._remember_key(key)
        line = parse(raw.decode("utf-8", "replace"))
        now = self._clock.now()
        self._last_line_time = line.timestamp or now
        with self._lock:
            self._tally.count_lines(1, line.timestamp, line.timestamp)
            matches = self._matcher.match(line, now)
            for match in matches:
                self._tally.count_match(match, now)
            for reader in self._readers:
                reader.add(line, now)
        self._lines_seen += 1
        self._last_line_at = now
        for match in matches:
            if match.pattern.id == LOG_DROPPED:
                # Logplex's own notice: the log is incomplete (never the line: only its kind).
                log.warning("Logplex dropped lines", extra={"fields": {"pattern": LOG_DROPPED}})
            try:
                self._on_match(match, key.hex())
            except Exception:
                log.exception("a match listener failed; following on")

    def _remember_key(self, key: bytes) -> None:
        recent, count = self._recent, self._recent_count
        recent.append(key)
        count[key] = count.get(key, 0) + 1
        if len(recent) > self._recent_limit:
            oldest = recent.popleft()
            left = count[oldest] - 1
            if left:
                count[oldest] = left
            else:
                del count[oldest]


def _digest(raw: bytes) -> bytes:
    # 12 bytes: a collision among a few thousand lines is far less likely than a lost packet.
    return hashlib.blake2b(raw, digest_size=12).digest()
