"""A log burst of 20,000 lines a second for 60 s through `watcher run`: does the follower keep up,
does its memory stay flat, and does a CRITICAL line inside the burst still reach Slack in 5 s?

    python -m benchmarks.log_burst [--rate 20000] [--seconds 60] [--critical-at 30]

The watcher runs as a real process against the fakes (Heroku API, Slack, healthz; no database,
cycles an hour apart), as in benchmarks/detection_latency.py. Its log session is served by
`BurstLogplex` below: Cedar's framing (`text/plain`, one line per `\\n`, HTTP chunked), fed
from lines generated beforehand (benchmarks/heroku_log.py, minus every line that matches a
pattern or is a restart, so the only alerts are the planned ones) and stamped with the time
they are sent. It sends what is due every 5 ms: `rate * elapsed` lines, so when the watcher
reads slower than that, TCP fills and the sender falls behind its schedule.

What the follower has read is seen from outside through its own match counter: every
`PROBE_EVERY`-th line is a router H12 (a WARNING pattern, `request_timeout`; 20 a second at
20,000 lines/s), and `watcher_log_matches_total{pattern="request_timeout"}` on /metrics says
how many probes it has matched; lines are read in order, so probes x PROBE_EVERY lines are
read at least. Backlog = lines due by the schedule - lines read: an upper bound, within one
probe interval. Sampled every 0.25 s; the process's VmRSS (/proc/<pid>/status) every second.
The CRITICAL line (`permission denied for table`) is due at `--critical-at` seconds; its
latency is from that due time to the Slack fake receiving its `chat.postMessage`, so a
backlog counts against it. Prints the backlog (max, at the burst's end, time to drain), the
RSS medians of the first and last 10 s and their ratio, the latency, and the watcher's CPU
time per line (utime + stime from /proc/<pid>/stat), which bounds the rate one core sustains.
Targets: backlog under 1 s of lines throughout, drained; RSS ratio at most 1.1; latency < 5 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import heroku_log
from benchmarks.detection_latency import (
    OWN_DYNO,
    ROLE,
    TimedSlack,
    WatcherProcess,
    metric,
    rss_kib,
    watcher_env,
)
from checks.logparse.log_line import parse
from checks.logparse.log_patterns import PLANNED, SIGTERM, LogMatcher, catalogue
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.logplex import SESSION_TOKEN
from tests.support.postgres import free_port

PROBE_EVERY = 1000
PROBE = (
    ' heroku[router]: at=error code=H12 desc="Request timeout" method=GET'
    ' path="/api/historical-data/AAPL" host=api.raxx.app request_id=9f3c2e71-probe'
    ' fwd="203.0.113.9" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https'
)
CRITICAL = (
    " app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table"
    " historical_bars"
)
PROBE_METRIC = 'watcher_log_matches_total{pattern="request_timeout"}'
SEND_EVERY = 0.005
MAX_CHUNK_LINES = 5000
BACKLOG_EVERY = 0.25
RSS_EVERY = 1.0
DRAIN_SECONDS = 60.0
TARGET_LATENCY = 5.0
TARGET_RSS_RATIO = 1.1
WINDOW = 10  # seconds at either end of the burst whose RSS medians are compared


def plan(total: int, critical_index: int, seed: int = 1) -> list[bytes]:
    """`total` line bodies (a line without its timestamp, from the space after it): generated
    traffic holding no match and no restart, a probe as every PROBE_EVERY-th line, and the
    CRITICAL line at `critical_index`."""
    matcher = LogMatcher(catalogue(ROLE), OWN_DYNO)
    restarts = (SIGTERM.encode(), *(p.encode() for p in PLANNED))
    now = datetime.now(UTC)
    bodies: list[bytes] = []
    while len(bodies) < total:
        for line in heroku_log.lines(min(total, 1_000_000), seed):
            raw = line.encode()
            if matcher.candidates(raw) and (
                any(r in raw for r in restarts) or any(matcher.match(parse(line), now))
            ):
                continue
            index = len(bodies)
            if (index + 1) % PROBE_EVERY == 0:
                bodies.append(PROBE.encode())
            elif index == critical_index:
                bodies.append(CRITICAL.encode())
            else:
                bodies.append(raw[raw.index(b" ") :])
            if len(bodies) == total:
                break
        seed += 1
    return bodies


def frame(stamp: bytes, bodies: list[bytes]) -> bytes:
    """One HTTP chunk of lines, each `stamp + body + \\n` (Cedar's text/plain framing)."""
    data = stamp + (b"\n" + stamp).join(bodies) + b"\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def mb(kib: float) -> float:
    """KiB (what /proc reports) in MB of 10^6 bytes."""
    return kib * 1024 / 1e6


def _stamp() -> bytes:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00").encode()


class BurstLogplex:
    """A Logplex log-session URL on 127.0.0.1 that tails `bodies` at `rate` lines a second once
    `start()` is called. A new session (a reconnect) goes on from where the last one was."""

    def __init__(self, bodies: list[bytes], rate: float) -> None:
        self.bodies, self.rate = bodies, rate
        self.sent = 0  # lines handed to the socket
        self.sessions = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.most_behind = 0  # lines due but not yet handed to the socket
        self._go = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, name="burst-logplex", daemon=True)

    @property
    def session_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sessions/b0c5f1e2?srv={SESSION_TOKEN}"

    def __enter__(self) -> BurstLogplex:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._go.set()

    def due(self, at: float | None = None) -> int:
        """Lines the schedule has produced by `at` (now)."""
        if self.started_at is None:
            return 0
        elapsed = (time.monotonic() if at is None else at) - self.started_at
        return max(0, min(len(self.bodies), int(elapsed * self.rate)))

    def due_at(self, index: int) -> float:
        """When line `index` is due."""
        assert self.started_at is not None
        return self.started_at + index / self.rate

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            target = head.split(b" ", 2)[1].decode()
            if not target.startswith("/sessions/") or f"srv={SESSION_TOKEN}" not in target:
                client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            self.sessions += 1
            client.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            client.settimeout(None)
            while not self._go.wait(0.05):
                if self._stop.is_set():
                    return
            self._stream(client)

    def _stream(self, client: socket.socket) -> None:
        total = len(self.bodies)
        while not self._stop.is_set():
            due = self.due()
            self.most_behind = max(self.most_behind, due - self.sent)
            if self.sent < due:
                end = min(due, self.sent + MAX_CHUNK_LINES)
                try:
                    client.sendall(frame(_stamp(), self.bodies[self.sent : end]))
                except OSError:
                    return  # the follower hung up: it reconnects, and goes on from here
                self.sent = end
                if end == total:
                    self.finished_at = time.monotonic()
            time.sleep(SEND_EVERY)


@dataclass(frozen=True)
class Point:
    at: float  # seconds since the burst started
    due: int
    read: int  # at least this many lines read (probes matched x PROBE_EVERY)

    @property
    def backlog(self) -> int:
        return max(0, self.due - self.read)


@dataclass
class Result:
    rate: float
    seconds: float
    total: int
    critical_index: int
    points: list[Point] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds, KiB)
    rss_before: int | None = None
    latency: float | None = None  # CRITICAL line due -> its Slack post
    handed_latency: float | None = None  # the same from when it was handed to the socket
    drained_after: float | None = None  # seconds after the burst's end
    cpu_seconds: float = 0.0
    sessions: int = 0
    most_behind: int = 0
    exit_code: int | None = None
    slack_posts: int = 0

    @property
    def during(self) -> list[Point]:
        return [p for p in self.points if p.at <= self.seconds]

    @property
    def max_backlog(self) -> int:
        return max((p.backlog for p in self.during), default=0)

    @property
    def end_backlog(self) -> int:
        return self.during[-1].backlog if self.during else self.total

    def rss_window(self, first: bool) -> list[int]:
        inside = [(t, kib) for t, kib in self.rss if t <= self.seconds]
        if first:
            return [kib for t, kib in inside if t < WINDOW]
        return [kib for t, kib in inside if t >= self.seconds - WINDOW]

    @property
    def rss_ratio(self) -> float:
        first, last = self.rss_window(True), self.rss_window(False)
        return statistics.median(last) / statistics.median(first) if first and last else 0.0

    @property
    def read_rate(self) -> float:
        """Lines a second the follower read over the burst (probe resolution)."""
        during = self.during
        return during[-1].read / during[-1].at if during and during[-1].at else 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _probes(watcher: WatcherProcess) -> int | None:
    value = metric(watcher.metrics(), PROBE_METRIC)
    return None if value is None else int(value)


def measure(rate: float, seconds: float, critical_at: float, seed: int = 1) -> Result:
    total = int(rate * seconds)
    critical_index = min(total - 2, int(rate * critical_at))
    if (critical_index + 1) % PROBE_EVERY == 0:
        critical_index += 1
    bodies = plan(total, critical_index, seed)
    result = Result(rate, seconds, total, critical_index)
    healthz = FakeHealthz()
    with (
        FakeHeroku() as heroku,
        healthz,
        TimedSlack() as slack,
        BurstLogplex(bodies, rate) as logplex,
        tempfile.TemporaryDirectory(prefix="log-burst-") as tmp,
    ):
        heroku.set_info(heroku.add_postgres(), status="Available", connections="3/120")
        heroku.logplex_url = logplex.session_url
        env = watcher_env(heroku, slack.api_url, healthz.healthz_url, Path(tmp), free_port())
        with WatcherProcess(env, Path(tmp)) as watcher:
            watcher.wait_ready(lambda: logplex.sessions > 0)
            time.sleep(1.0)  # the start-up's own work done: what is measured is the burst's
            result.rss_before = rss_kib(watcher.pid)
            cpu_before = cpu_seconds(watcher.pid)
            logplex.start()
            assert logplex.started_at is not None
            started = logplex.started_at
            next_rss = started
            drained_at = None
            while True:
                now = time.monotonic()
                if now >= next_rss:
                    kib = rss_kib(watcher.pid)
                    if kib is not None:
                        result.rss.append((now - started, kib))
                    next_rss += RSS_EVERY
                due = logplex.due(now)
                probes = _probes(watcher)
                if probes is not None:
                    result.points.append(Point(now - started, due, probes * PROBE_EVERY))
                    read_all = probes == total // PROBE_EVERY
                    if read_all and due == total and drained_at is None:
                        drained_at = time.monotonic()
                if now - started > seconds and (
                    drained_at is not None or now - started > seconds + DRAIN_SECONDS
                ):
                    break
                time.sleep(BACKLOG_EVERY)
            result.cpu_seconds = cpu_seconds(watcher.pid) - cpu_before
            if drained_at is not None:
                result.drained_after = max(0.0, drained_at - (started + seconds))
            critical_due = logplex.due_at(critical_index)
            posted = slack.first_post("logs.permission_denied", critical_due)
            if posted is not None:
                result.latency = posted - critical_due
            result.sessions = logplex.sessions
            result.most_behind = logplex.most_behind
            result.exit_code, _ = watcher.stop()
        result.slack_posts = len(slack.posts)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.log_burst")
    parser.add_argument("--rate", type=float, default=20_000, help="lines per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--critical-at", type=float, help="when the CRITICAL line is due (default: mid-burst)"
    )
    args = parser.parse_args(argv)
    critical_at = args.seconds / 2 if args.critical_at is None else args.critical_at
    r = measure(args.rate, args.seconds, critical_at)
    print(
        f"burst: {r.total:,} lines at {r.rate:,.0f}/s for {r.seconds:g} s into `watcher run`"
        f" (a process) through its Logplex tail session; {r.sessions} session(s); a probe"
        f" every {PROBE_EVERY} lines; the CRITICAL line due at {critical_at:g} s"
    )
    keeps_up = r.max_backlog < r.rate and r.drained_after is not None
    drained = "never" if r.drained_after is None else f"{r.drained_after:.2f} s after its end"
    print(
        f"backlog (lines due - lines read, probe resolution {PROBE_EVERY}): max"
        f" {r.max_backlog:,} ({r.max_backlog / r.rate:.2f} s of traffic), at the burst's end"
        f" {r.end_backlog:,}; all read: {drained}; the sender at most {r.most_behind:,} lines"
        f" behind its schedule (a {SEND_EVERY * 1000:g} ms tick is {r.rate * SEND_EVERY:,.0f};"
        " more: TCP was full or this process busy)"
    )
    print(
        f"read rate over the burst: {r.read_rate:,.0f} lines/s; the watcher's CPU:"
        f" {r.cpu_seconds:.1f} s for {r.total:,} lines = {1e6 * r.cpu_seconds / r.total:.1f} us"
        f" a line (one core at most, the follower being one thread: ~"
        f"{r.total / r.cpu_seconds if r.cpu_seconds else 0:,.0f} lines/s)"
    )
    first, last = r.rss_window(True), r.rss_window(False)
    rss_ok = bool(first and last) and r.rss_ratio <= TARGET_RSS_RATIO
    if first and last:
        print(
            f"RSS (VmRSS, every {RSS_EVERY:g} s): before the burst"
            f" {mb(r.rss_before or 0):.1f} MB; median of the first {WINDOW} s"
            f" {mb(statistics.median(first)):.1f} MB, of the last {WINDOW} s"
            f" {mb(statistics.median(last)):.1f} MB; ratio {r.rss_ratio:.3f}"
            f" (target <= {TARGET_RSS_RATIO}); max {mb(max(k for _, k in r.rss)):.1f} MB"
        )
    latency_ok = r.latency is not None and r.latency < TARGET_LATENCY
    latency = "never posted" if r.latency is None else f"{r.latency:.3f} s"
    print(
        f"CRITICAL line due -> Slack chat.postMessage: {latency} (target < {TARGET_LATENCY:g} s);"
        f" Slack posts in all: {r.slack_posts} (the probes' WARNING and the CRITICAL)"
    )
    print(f"exit after SIGTERM: {r.exit_code}")
    ok = keeps_up and rss_ok and latency_ok and r.exit_code == 0
    verdicts = f"keeps up {keeps_up}, RSS flat {rss_ok}, latency {latency_ok}"
    print(f"{'PASS' if ok else 'FAIL'} ({verdicts})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
