"""Logplex as a log session URL answers: history first, then (tailing) lines as they come.

Cedar answers `text/plain`, one line per `\\n`; Fir's proxy answers `text/event-stream` with
`id:`/`data:` frames. A test pushes lines, ends the stream, cuts it mid-line, or goes quiet.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

from tests.fakes.http import CUT, FakeServer, Reply, Request

PLAIN, EVENTS = "text/plain; charset=utf-8", "text/event-stream"
_END = object()
SESSION_TOKEN = "lp-session-token-5e1f"  # the secret a real session URL carries


class FakeLogplex(FakeServer):
    """One log-session endpoint; every GET is one session."""

    def __init__(self, content_type: str = PLAIN, tail: bool = False, replay: int = 1500) -> None:
        self.content_type = content_type
        self.tail = tail
        self.replay = replay
        self.history: list[str] = []
        self.status = 200
        self._live: queue.Queue[object] = queue.Queue()
        self._frame = 0
        super().__init__(self._answer)

    @property
    def session_url(self) -> str:
        return f"{self.url}/sessions/5e1f8c2a?srv={SESSION_TOKEN}"

    def push(self, *lines: str) -> None:
        """New lines: kept in the history, and sent on a tailing session."""
        for line in lines:
            self.history.append(line)
            self._live.put(line)

    def end_stream(self) -> None:
        """The tailing session ends cleanly (a platform restart of the stream)."""
        self._live.put(_END)

    def cut_stream(self, partial: bytes = b"") -> None:
        """Send `partial` (half a line) and drop the connection."""
        self._live.put((partial, CUT))

    def _answer(self, request: Request) -> Reply:
        if not request.path.startswith("/sessions/") or request.query.get("srv") != [SESSION_TOKEN]:
            return Reply(404, "no such session")
        if self.status != 200:
            return Reply(self.status, "Logplex error")
        # A new session replays history: lines pushed before it are in that history already;
        # an end or a cut planned by the test stays planned.
        kept = []
        while not self._live.empty():
            item = self._live.get_nowait()
            if not isinstance(item, str):
                kept.append(item)
        for item in kept:
            self._live.put(item)
        return Reply(
            200,
            chunks=self._chunks(list(self.history[-self.replay :])),
            headers={"Content-Type": self.content_type},
        )

    def _chunks(self, replay: list[str]) -> Iterator[bytes]:
        if replay:
            yield b"".join(self._framed(line) for line in replay)
        while self.tail:
            try:
                item = self._live.get(timeout=0.05)
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

    def _framed(self, line: str) -> bytes:
        if self.content_type == EVENTS:
            self._frame += 1
            return f"id: {self._frame}\ndata: {line}\n\n".encode()
        return f"{line}\n".encode()
