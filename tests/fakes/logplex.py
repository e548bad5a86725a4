"""Logplex as a log session URL answers: history first, then (tailing) lines as they come.

By default a session answers as the real ones do today, Cedar's included: `text/event-stream`
with `id:`/`data:` frames, the history first (the Heroku CLI's own Cedar fixture, heroku/cli
test/unit/lib/run/log-displayer.unit.test.ts, answers `id: 1002` / `data: <line>`). Plain text,
one line per `\\n` (older Cedar session URLs), stays an option: `FakeLogplex(PLAIN)`. A session
that does not tail ends after its history. A test pushes lines, ends the stream, cuts it
mid-line, or goes quiet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from tests.fakes.http import CUT, FakeServer, Reply, Request

PLAIN, EVENTS = "text/plain; charset=utf-8", "text/event-stream"
_END = object()
SESSION_TOKEN = "lp-session-token-5e1f"  # the secret a real session URL carries
# The first frame's id, as in the Heroku CLI's fixture.
_FIRST_ID = 1002


class FakeLogplex(FakeServer):
    """The log-session endpoint; every GET is one session.

    A session URL from `session_for(lines, tail)` carries that session's own `lines` and
    `tail` (as FakeHeroku's log sessions hand out); `session_url` uses the fake's `replay` and
    `tail`.
    """

    def __init__(self, content_type: str = EVENTS, tail: bool = False, replay: int = 1500) -> None:
        self.content_type = content_type
        self.tail = tail
        self.replay = replay
        self.history: list[str] = []
        self.status = 200
        self._live: list[queue.Queue[object]] = []
        self._planned: list[object] = []  # ends and cuts for the next tailing session
        self._lock = threading.Lock()
        self._frame = _FIRST_ID - 1
        super().__init__(self._answer)

    @property
    def session_url(self) -> str:
        """A session URL shaped as the CLI's Cedar fixture (`/stream?...&token=...`).

        Its sessions follow the fake's `tail` and `replay` as they are when it is read.
        """
        return f"{self.url}/stream?token={SESSION_TOKEN}"

    def session_for(self, lines: int, tail: bool) -> str:
        """The URL of a session created with `lines` and `tail`."""
        return f"{self.url}/stream?tail={str(tail).lower()}&lines={lines}&token={SESSION_TOKEN}"

    def push(self, *lines: str) -> None:
        """New lines: kept in the history, and sent on every tailing session."""
        with self._lock:
            for line in lines:
                self.history.append(line)
                # A session opened later replays them from the history.
                for live in self._live:
                    live.put(line)

    def end_stream(self) -> None:
        """The tailing session ends cleanly (a platform restart of the stream)."""
        self._plan(_END)

    def cut_stream(self, partial: bytes = b"") -> None:
        """Send `partial` (half a line) and drop the connection."""
        self._plan((partial, CUT))

    def _plan(self, item: object) -> None:
        with self._lock:
            if self._live:
                self._live[-1].put(item)
            else:
                self._planned.append(item)

    def _answer(self, request: Request) -> Reply:
        token = request.query.get("token") or request.query.get("srv")
        known_path = request.path == "/stream" or request.path.startswith("/sessions/")
        if not known_path or token != [SESSION_TOKEN]:
            return Reply(404, "no such session")
        if self.status != 200:
            return Reply(self.status, "Logplex error")
        tail = request.query.get("tail", [str(self.tail).lower()]) == ["true"]
        lines = self.replay
        if request.query.get("lines", [""])[0].isdigit():
            lines = int(request.query["lines"][0])
        with self._lock:
            # A new session replays history: lines pushed before it are in that history.
            replay = self.history[-lines:] if lines else []
            live: queue.Queue[object] = queue.Queue()
            if tail:
                for item in self._planned:
                    live.put(item)
                self._planned.clear()
                self._live.append(live)
        return Reply(
            200,
            chunks=self._chunks(replay, live, tail),
            headers={"Content-Type": self.content_type},
        )

    def _chunks(self, replay: list[str], live: queue.Queue[object], tail: bool) -> Iterator[bytes]:
        try:
            if replay:
                yield b"".join(self._framed(line) for line in replay)
            while tail:
                try:
                    item = live.get(timeout=0.05)
                except queue.Empty:
                    yield b""  # nothing to send: the handler checks for shutdown and waits again
                    continue
                if item is _END:
                    return
                if isinstance(item, tuple):
                    yield item[0]
                    yield CUT
                    return
                yield self._framed(str(item))
        finally:
            with self._lock:
                if live in self._live:
                    self._live.remove(live)

    def _framed(self, line: str) -> bytes:
        if self.content_type == EVENTS:
            with self._lock:
                self._frame += 1
                frame = self._frame
            return f"id: {frame}\ndata: {line}\n\n".encode()
        return f"{line}\n".encode()
