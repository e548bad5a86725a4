"""Reading Logplex answers over real HTTP: both content types, split and broken lines."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from checks.log_stream import MAX_LINE_BYTES, stream_lines
from tests.fakes.http import CUT, FakeServer, Reply, Request


def served(reply: Reply) -> Iterator[str]:
    def answer(request: Request) -> Reply:
        return reply

    with (
        FakeServer(answer) as server,
        httpx.Client() as http,
        http.stream("GET", server.url) as response,
    ):
        yield response.headers.get("content-type", "")
        for line in stream_lines(response):
            yield line.decode("utf-8", "replace")


def lines_of(reply: Reply) -> list[str]:
    return list(served(reply))[1:]


def test_plain_lines_split_across_chunks_are_whole() -> None:
    chunks = [
        b"2026-05-16T14:31:02+00:00 app[web.1]: permis",
        b"sion denied for table x\n2026",
        b"-05-16T14:31:03+00:00 heroku[web.1]: Cycling\r\n",
        b"last line without newline",
    ]
    assert lines_of(Reply(chunks=chunks, headers={"Content-Type": "text/plain"})) == [
        "2026-05-16T14:31:02+00:00 app[web.1]: permission denied for table x",
        "2026-05-16T14:31:03+00:00 heroku[web.1]: Cycling",
        "last line without newline",
    ]


def test_event_stream_frames_are_lines() -> None:
    body = [
        b"id: 1\ndata: first line\n\n: a comment\nid: 2\nda",
        b"ta: second line\n\n",
        b"event: log\ndata:third\n\n",
    ]
    assert lines_of(Reply(chunks=body, headers={"Content-Type": "text/event-stream"})) == [
        "first line",
        "second line",
        "third",
    ]


def test_invalid_utf8_is_kept_as_a_line() -> None:
    got = lines_of(Reply(chunks=[b"app[web.1]: \xff\xfe sqlite \xc3\x28\n"]))
    assert len(got) == 1 and "sqlite" in got[0]


def test_very_long_lines_are_cut_and_the_next_line_survives() -> None:
    long = b"x" * (MAX_LINE_BYTES * 3)
    got = lines_of(Reply(chunks=[long[:20000], long[20000:] + b"\nnext line\n"]))
    assert [len(got[0]), got[1]] == [MAX_LINE_BYTES, "next line"]


def test_a_cut_stream_yields_whole_lines_then_fails() -> None:
    reply = Reply(chunks=[b"line one\nline two\nhalf a li", CUT])
    seen: list[str] = []
    with pytest.raises(httpx.HTTPError):
        for line in served(reply):
            seen.append(line)
    assert seen[1:] == ["line one", "line two"]
