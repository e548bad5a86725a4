"""From a CRITICAL log line to its Slack post, through `watcher run` as a real process.

    python -m benchmarks.detection_latency [--lines 100] [--background 20]

What is measured, end to end: the fake Logplex writes a CRITICAL line into the watcher's tail
session; the follower reads and matches it; the escalation loop (every 0.5 s) queues the
alert; the delivery loop posts it; the fake Slack receives `chat.postMessage` for that alert.
Both moments are taken in this process (`time.monotonic()`). Target: p99 under 5 s.

Why many processes: an alert is one per finding id (`logs.<pattern>`), and a fired log alert
resolves only after 30 minutes without a match; a second line of the same pattern in one watch
is rightly no new post. So each watcher process gets a fresh state store, Slack fake and
Logplex fake, and one line of each of the 6 CRITICAL patterns (restart_loop: three unplanned
SIGTERMs of one dyno, measured from the third), in a shuffled order, 0 to 1 s apart at random
so the lines do not fall in step with the 0.5 s escalation tick. ceil(lines / 6) processes in
sequence give the samples. Start-up is excluded: lines are written only once the follower's
session is open and the first full cycle has run (its states are on /metrics). Each line
matches exactly one pattern, so each makes exactly one post. Meanwhile ordinary traffic
(generated lines holding no pattern's needle) flows at `--background` lines per second.
No PostgreSQL: the SQL checks are UNKNOWN, which posts nothing within one cycle (blind alerts
need 3), and WATCHER_CHECK_INTERVAL is an hour so no cycle runs during the samples.
"""

from __future__ import annotations

import argparse
import math
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from benchmarks import heroku_log
from benchmarks.db_connections import clean_environ
from checks.logparse.log_patterns import LogMatcher, catalogue
from tests.fakes import heroku as heroku_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import Reply, Request, closed_port
from tests.fakes.logplex import FakeLogplex
from tests.fakes.slack import FakeSlack
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
ROLE = "raptor_app"
OWN_DYNO = "worker.1"
CRITICAL = ("permission_denied", "role_missing", "sqlite", "too_many_connections", "crash")
PATTERNS = (*CRITICAL, "restart_loop")
# A line that never reaches Slack within this is a miss (and a FAIL), not a long wait.
GIVE_UP_SECONDS = 20.0
START_UP_SECONDS = 30.0


def stamp(at: datetime) -> str:
    """Heroku's timestamp: microseconds and +00:00."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def critical_lines(pattern_id: str, at: datetime) -> list[str]:
    """The line(s) that make one alert of `pattern_id`, the measured one last; each line holds
    exactly one pattern's needle, so it fires that alert and no other (not even a WARNING)."""
    ts = stamp(at)
    if pattern_id == "restart_loop":
        # Unplanned (no Cycling before them): the third within 10 minutes is the loop.
        return [
            f"{stamp(at + timedelta(milliseconds=i))} heroku[web.2]: Stopping all processes with SIGTERM"
            for i in range(3)
        ]
    text = {
        "permission_denied": "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars",
        "role_missing": 'app[web.2]: connection to server at "ec2-52-3-14-159.compute-1.amazonaws.com" (52.3.14.159), port 5432 failed: FATAL:  role "raptor_app" does not exist',
        "sqlite": "app[web.1]: WARNING DATABASE_URL unset; falling back to sqlite:////app/instance/raptor.db",
        "too_many_connections": "app[web.2]: FATAL:  remaining connection slots are reserved for non-replication superuser connections",
        "crash": 'heroku[router]: at=error code=H10 desc="App crashed" method=GET path="/api/quotes/AAPL" host=api.raxx.app request_id=5e1f8c2a-77d0-4a3e-9d55-0c2b9f6e1a44 fwd="203.0.113.7" dyno= connect= service= status=503 bytes= protocol=https',
    }[pattern_id]
    return [f"{ts} {text}"]


def quiet_lines(seed: int = 7) -> Iterator[str]:
    """Ordinary traffic without a timestamp: generated lines that hold no pattern's needle (nor
    a SIGTERM or Cycling), endlessly; each starts with the space after where its time goes."""
    matcher = LogMatcher(catalogue(ROLE), OWN_DYNO)
    while True:
        for line in heroku_log.lines(20_000, seed):
            if not matcher.candidates(line.encode()):
                yield line[line.index(" ") :]
        seed += 1


class TimedSlack(FakeSlack):
    """The Slack fake, noting when each `chat.postMessage` arrived (before it is answered)."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[float, bytes]] = []
        answer = self.respond

        def timed(request: Request) -> Reply:
            if request.path == "/api/chat.postMessage":
                self.posts.append((time.monotonic(), request.body))
            return answer(request)

        self.respond = timed

    def __enter__(self) -> TimedSlack:
        super().__enter__()
        return self

    def first_post(self, needle: str, after: float = 0.0) -> float | None:
        """When the first post holding `needle` (e.g. an alert id) arrived at or after `after`."""
        wanted = needle.encode()
        return next((at for at, body in list(self.posts) if at >= after and wanted in body), None)


class TimedLogplex(FakeLogplex):
    """The Logplex fake, tailing; notes when each line went into the stream and when a session
    started streaming (the follower is reading from then on)."""

    def __init__(self) -> None:
        super().__init__(tail=True)
        self.written: dict[str, float] = {}
        self.sessions = 0

    def __enter__(self) -> TimedLogplex:
        super().__enter__()
        return self

    def _chunks(self, replay: list[str], live: queue.Queue[object], tail: bool) -> Iterator[bytes]:
        self.sessions += 1
        return super()._chunks(replay, live, tail)

    def _framed(self, line: str) -> bytes:
        # The chunk is written as soon as this returns.
        self.written.setdefault(line, time.monotonic())
        return super()._framed(line)


def watcher_env(
    heroku: FakeHeroku, slack_api_url: str, healthz_url: str, state_dir: Path, metrics_port: int
) -> dict[str, str]:
    """`watcher run`'s environment: the fakes, a fresh state store, cycles an hour apart."""
    dead = f"http://127.0.0.1:{closed_port()}/"
    return {
        **clean_environ(),
        "PYTHONPATH": str(ROOT),
        "WATCHER_SENTRY_API_URL": dead,
        "WATCHER_HEALTHZ_URL": healthz_url,
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "WATCHER_HEROKU_API_URL": heroku.url,
        "WATCHER_HEROKU_DATA_API_URL": heroku.url,
        "SLACK_BOT_TOKEN": slack_fake.TOKEN,
        "WATCHER_SLACK_API_URL": slack_api_url,
        "WATCHER_SLACK_MENTION": "<@U024BE7LH>",
        "WATCHER_APP_ROLE": ROLE,
        "DYNO": OWN_DYNO,
        "WATCHER_CUTOVER_AT": stamp(datetime.now(UTC)),
        "WATCHER_CHECK_INTERVAL": "3600",
        "WATCHER_HEALTHZ_INTERVAL": "3600",
        "WATCHER_CHECK_TIMEOUT": "3",
        "WATCHER_STATE_URL": f"sqlite:///{state_dir / 'state.db'}",
        "WATCHER_METRICS_PORT": str(metrics_port),
    }


def metric(text: str, name: str) -> float | None:
    """One sample's value from Prometheus text, by its exact name and labels."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


class WatcherProcess:
    """`python -m watcher run` with `env`, its output in `directory/watcher.log`."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env, self.directory = env, directory
        self.metrics_url = f"http://127.0.0.1:{env['WATCHER_METRICS_PORT']}/metrics"
        self.log = directory / "watcher.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def __enter__(self) -> WatcherProcess:
        self.started = time.monotonic()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "watcher", "run"],
                env=self.env,
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def metrics(self) -> str:
        try:
            return httpx.get(self.metrics_url, timeout=2).text
        except httpx.HTTPError:
            return ""

    def wait_ready(self, session_open: Callable[[], bool]) -> float:
        """Until the follower's session streams and the first cycle's states are exported."""
        deadline = self.started + START_UP_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            if session_open() and 'watcher_check_state{check="grants"}' in self.metrics():
                return time.monotonic() - self.started
            time.sleep(0.05)
        raise SystemExit(f"watcher run not ready: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the exit took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(15)
        return code, time.monotonic() - started


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB from /proc, None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p % of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Sample:
    process: int
    pattern: str
    latency: float | None  # None: never posted within GIVE_UP_SECONDS


@dataclass
class Measurement:
    samples: list[Sample] = field(default_factory=list)
    start_ups: list[float] = field(default_factory=list)
    exits: list[tuple[int, float]] = field(default_factory=list)
    # Posts per process: exactly one per sample means each line made one alert and no other.
    posts: list[int] = field(default_factory=list)
    background_lines: int = 0
    # The end of the watcher's output, for a process that missed a line or exited badly.
    problems: list[str] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return [s.latency for s in self.samples if s.latency is not None]

    @property
    def missed(self) -> int:
        return sum(1 for s in self.samples if s.latency is None)


class Background:
    """Ordinary lines into the current Logplex fake at `rate` per second, stamped now."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.logplex: FakeLogplex | None = None
        self.sent = 0
        self._lines = quiet_lines()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background", daemon=True)

    def __enter__(self) -> Background:
        if self.rate > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(1 / self.rate):
            logplex = self.logplex
            if logplex is not None:
                logplex.push(stamp(datetime.now(UTC)) + next(self._lines))
                self.sent += 1


def one_process(
    number: int,
    patterns: list[str],
    rng: random.Random,
    heroku: FakeHeroku,
    healthz: FakeHealthz,
    background: Background,
    measurement: Measurement,
) -> None:
    """One `watcher run`: each of `patterns` once, measured; then SIGTERM."""
    with (
        TimedSlack() as slack,
        TimedLogplex() as logplex,
        tempfile.TemporaryDirectory(prefix="detection-latency-") as tmp,
    ):
        heroku.logplex_url = logplex.session_url
        env = watcher_env(heroku, slack.api_url, healthz.healthz_url, Path(tmp), free_port())
        with WatcherProcess(env, Path(tmp)) as watcher:
            measurement.start_ups.append(watcher.wait_ready(lambda: logplex.sessions > 0))
            background.logplex = logplex
            try:
                for pattern in patterns:
                    time.sleep(rng.uniform(0.0, 1.0))  # out of step with the 0.5 s tick
                    lines = critical_lines(pattern, datetime.now(UTC))
                    logplex.push(*lines)
                    measurement.samples.append(
                        Sample(number, pattern, _latency(lines[-1], pattern, logplex, slack))
                    )
            finally:
                background.logplex = None
            code, took = watcher.stop()
            measurement.exits.append((code, took))
            missed = any(s.latency is None for s in measurement.samples if s.process == number)
            if missed or code != 0:
                output = watcher.log.read_text(errors="replace")[-1500:]
                measurement.problems.append(f"process {number} (exit {code}): {output}")
        measurement.posts.append(len(slack.posts))


def _latency(line: str, pattern: str, logplex: TimedLogplex, slack: TimedSlack) -> float | None:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        written = logplex.written.get(line)
        posted = None if written is None else slack.first_post(f"logs.{pattern}", written)
        if written is not None and posted is not None:
            return posted - written
        time.sleep(0.002)
    return None


def measure(lines: int, background_rate: float = 20.0, seed: int = 1) -> Measurement:
    """ceil(lines / 6) watcher processes in sequence, 6 CRITICAL lines each (the last fewer)."""
    rng = random.Random(seed)
    measurement = Measurement()
    healthz = FakeHealthz()
    with (
        FakeHeroku() as heroku,
        healthz,
        Background(background_rate) as background,
    ):
        heroku.set_info(heroku.add_postgres(), status="Available", connections="3/120")
        number, left = 0, lines
        while left > 0:
            patterns = list(PATTERNS)
            rng.shuffle(patterns)
            one_process(number, patterns[:left], rng, heroku, healthz, background, measurement)
            left -= len(PATTERNS)
            number += 1
        measurement.background_lines = background.sent
    return measurement


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detection_latency")
    parser.add_argument("--lines", type=int, default=100, help="CRITICAL lines (samples)")
    parser.add_argument(
        "--background", type=float, default=20.0, help="ordinary lines per second meanwhile"
    )
    args = parser.parse_args(argv)
    result = measure(args.lines, args.background)
    processes = len(result.start_ups)
    print(
        f"watcher run as a process, {processes} times in sequence (each: a fresh state store,"
        f" Slack fake and Logplex fake); {len(PATTERNS)} CRITICAL patterns a process, one line"
        f" each (restart_loop: the third of three SIGTERMs), 0-1 s apart at random;"
        f" {args.background:g} ordinary lines/s meanwhile ({result.background_lines} in all)"
    )
    print(
        "latency: the Logplex fake writing the line into the tail session -> the Slack fake"
        " receiving chat.postMessage for that alert (start-up excluded: median"
        f" {statistics.median(result.start_ups):.2f} s from exec to session open and first cycle"
        " done)"
    )
    for pattern in PATTERNS:
        mine = [s.latency for s in result.samples if s.pattern == pattern and s.latency is not None]
        if mine:
            print(
                f"  {pattern:<22} n={len(mine):>3}  median {statistics.median(mine):.3f} s"
                f"  max {max(mine):.3f} s"
            )
    latencies = result.latencies
    if not latencies:
        print("no line reached Slack: FAIL")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    p50, p99, worst = percentile(latencies, 50), percentile(latencies, 99), max(latencies)
    print(
        f"samples: {len(result.samples)} ({result.missed} never posted within"
        f" {GIVE_UP_SECONDS:g} s); p50 {p50:.3f} s, p99 {p99:.3f} s, max {worst:.3f} s,"
        f" min {min(latencies):.3f} s"
    )
    one_post_each = all(
        posts == sum(1 for s in result.samples if s.process == n)
        for n, posts in enumerate(result.posts)
    )
    print(
        f"posts: {sum(result.posts)} for {len(result.samples)} lines"
        f" ({'one alert per line, no other post' if one_post_each else 'NOT one per line'})"
    )
    clean_exits = all(code == 0 and took < 10 for code, took in result.exits)
    print(
        f"exits after SIGTERM: {'all 0 within 10 s' if clean_exits else result.exits}"
        f" (slowest {max(t for _, t in result.exits):.2f} s)"
    )
    for problem in result.problems:
        print(f"  {problem}")
    ok = result.missed == 0 and p99 < TARGET_SECONDS and one_post_each and clean_exits
    print(
        f"ratio p99 / {TARGET_SECONDS:g} s target: {p99 / TARGET_SECONDS:.3f};"
        f" {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
