"""Follows the app's log stream for the whole watch, feeding the pattern counts continuously.

Logplex keeps 1,500 lines and `heroku logs` has no `--since`, so only something that follows
the stream all the time can answer "since T0". Tails end (idle, platform restarts, network):
the follower opens a new session, asking for recent lines again so nothing in the gap is lost,
and drops the ones it has already counted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from checks.clock import Clock
from checks.heroku_api import HerokuApi
from checks.http_api import ApiError, transport_reason
from checks.log_line import parse
from checks.log_patterns import LogMatcher, Match
from checks.log_stream import stream_lines
from checks.log_tally import LogTally
from checks.logs import ACCEPT, LOGPLEX_LINES

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 15 * 60.0  # the Heroku CLI's own: a tail silent this long is dead
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 5.0
SESSION_BUDGET = 30.0


@dataclass(frozen=True)
class FollowerHealth:
    """What the follower can say about itself."""

    connected: bool = False
    reconnects: int = 0
    lines_seen: int = 0
    last_line_at: datetime | None = None
    last_error: str | None = None


class _Stopped(Exception):
    pass


class LogFollower:
    """Tails the log into `tally` (guarded by `lock`); `on_match` hears each match at once."""

    def __init__(
        self,
        api: HerokuApi,
        http: httpx.Client,
        matcher: LogMatcher,
        tally: LogTally,
        lock: threading.Lock,
        clock: Clock,
        on_match: Callable[[Match], None] = lambda match: None,
        idle_timeout: float = IDLE_TIMEOUT,
        replay_lines: int = LOGPLEX_LINES,
    ) -> None:
        self._api, self._http, self._matcher = api, http, matcher
        self._tally, self._lock, self._clock = tally, lock, clock
        self._on_match = on_match
        self._idle_timeout = idle_timeout
        self._replay_lines = replay_lines
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self._health = FollowerHealth()
        # Lines counted lately, to recognise them when a new session replays them.
        self._recent: OrderedDict[bytes, None] = OrderedDict()
        self._recent_limit = 2 * replay_lines

    @property
    def health(self) -> FollowerHealth:
        return self._health

    def run(self) -> None:
        """Follow until `stop()`; every failure is a reconnect after a back-off, never an exit."""
        backoff = FIRST_BACKOFF
        while not self._stop.is_set():
            lines_before = self._health.lines_seen
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
            if self._stop.is_set():
                break
            if self._health.lines_seen > lines_before:
                backoff = FIRST_BACKOFF  # it worked for a while: reconnect quickly
            self._health = replace(
                self._health,
                connected=False,
                reconnects=self._health.reconnects + 1,
                last_error=problem,
            )
            log.info("log stream: %s; reconnecting in %.1f s", problem, backoff)
            self._clock.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        self._health = replace(self._health, connected=False)

    def stop(self) -> None:
        """End `run()` soon, even while it waits for a line: the open stream is closed."""
        self._stop.set()
        response = self._response
        if response is not None:
            # Closing the response does not wake a thread blocked reading it; shutting the
            # socket down does.
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _follow_one_session(self) -> str:
        deadline = self._clock.monotonic() + SESSION_BUDGET
        url = self._api.create_log_session(deadline, lines=self._replay_lines, tail=True)
        timeout = httpx.Timeout(SESSION_BUDGET, read=self._idle_timeout)
        # No Authorization header: the session URL carries its own token.
        with self._http.stream("GET", url, headers={"Accept": ACCEPT}, timeout=timeout) as response:
            self._response = response
            try:
                if response.status_code != 200:
                    return f"Logplex answered HTTP {response.status_code}"
                self._health = replace(self._health, connected=True)
                replaying = bool(self._recent)
                for raw in stream_lines(response):
                    if self._stop.is_set():
                        raise _Stopped
                    # A new session first replays lines counted before; the first unknown
                    # line ends the replay, so later repeats of a line still count.
                    if replaying and raw in self._recent:
                        continue
                    replaying = False
                    self._take(raw)
            except httpx.HTTPError:
                if self._stop.is_set():
                    raise _Stopped from None
                raise
            finally:
                self._response = None
        return "log stream ended"

    def _take(self, raw: bytes) -> None:
        self._recent[raw] = None
        if len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)
        line = parse(raw.decode("utf-8", "replace"))
        now = self._clock.now()
        with self._lock:
            self._tally.count_lines(1, line.timestamp, line.timestamp)
            matches = list(self._matcher.match(line, now))
            for match in matches:
                self._tally.record(match, now)
        self._health = replace(
            self._health, lines_seen=self._health.lines_seen + 1, last_line_at=now, last_error=None
        )
        for match in matches:
            self._on_match(match)
