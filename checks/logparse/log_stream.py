"""Lines from a Logplex answer, framed by its content type.

`text/event-stream` is what every log session answers today, Cedar's and Fir's; `text/plain`
(one line per `\\n`) is what older Cedar session URLs answered.

Only whole lines are yielded: when the stream breaks, the partial line is dropped and the
error goes to the caller. Lines longer than `MAX_LINE_BYTES` are cut (Heroku splits lines
over 10,000 bytes itself, so only a broken peer sends longer ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import httpx

MAX_LINE_BYTES = 16 * 1024


def stream_lines(response: httpx.Response) -> Iterator[bytes]:
    """The log lines of a streaming response, framed by its content type."""
    lines = _lines(response.iter_bytes())
    if "text/event-stream" in response.headers.get("content-type", ""):
        return _events(lines)
    return lines


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = bytearray()
    overflow = False  # the current line is already over the cap: drop its rest
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if not overflow:
                pending += chunk[start:end][: MAX_LINE_BYTES - len(pending)]
            yield bytes(pending).rstrip(b"\r")
            pending.clear()
            overflow = False
            start = end + 1
        if not overflow:
            pending += chunk[start:][: MAX_LINE_BYTES - len(pending)]
            overflow = len(pending) >= MAX_LINE_BYTES
    if pending:
        yield bytes(pending).rstrip(b"\r")  # the answer ended cleanly: its last line is whole


def _events(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Server-sent events: `data:` fields make the event's text, a blank line ends it."""
    data: list[bytes] = []
    for line in lines:
        if not line:
            if data:
                yield b"\n".join(data)
                data = []
            continue
        field, _, value = line.partition(b":")
        if field == b"data":
            data.append(value[1:] if value.startswith(b" ") else value)
        # `id:`, `event:`, `retry:` and `:` comments carry no log text.
    if data:
        yield b"\n".join(data)
