"""The follower side of a whole 24-hour watch in one process, on a fake clock: does memory stay flat?

    python -m benchmarks.memory_24h [--lines 1000000]

A 24-hour log (benchmarks/heroku_log.py: `--lines` lines spread over 24 h from T0, incidents
and near misses included) goes through the watcher's own follower-side objects as `watcher
run` wires them (watcher/daemon.py): `LogFollower.run()` tailing a log session (the Heroku API
and Logplex answered in process by httpx.MockTransport, Cedar's framing, one line per chunk
as a quiet app's tail sends them), the follower's own matcher and tally under its lock,
`Watch.on_log_match`, and `Watch.escalate_logs` every 0.5 s of log time (the daemon's
ESCALATE_SECONDS) with a SQLite state store, its Notifier and Escalation. The FakeClock moves
to each line's timestamp before the line is sent, so 24 h pass in seconds. Not included: the
other checks' cycles and Slack delivery (no token: messages stay queued in the store).

Prints VmRSS (/proc/self/status) at 0, 25, 50, 75 and 100 % of the lines, the growth from 25 %
to 100 %, what the long-lived structures hold at the end (the tally's per-minute buckets, the
follower's replay memory, the restart-loop state, the store's rows and file), and what the
tally's buckets would take if every pattern matched in every minute of the 24 h (measured with
tracemalloc). Targets: RSS under 100 MB throughout, growth from 25 % to 100 % at most 5 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from benchmarks import heroku_log
from benchmarks.db_connections import settings_environ
from benchmarks.detection_latency import OWN_DYNO, ROLE, rss_kib
from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, Match, catalogue
from checks.logparse.log_tally import LogTally
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.logplex import PLAIN, SESSION_TOKEN
from tests.support.clock import FakeClock
from watcher import __version__, daemon
from watcher.logs.follower import LogFollower
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics
from watcher.watch import Watch

TARGET_MB = 100.0
TARGET_GROWTH_MB = 5.0
CHECKPOINTS = (0, 25, 50, 75, 100)
API_URL = "http://heroku.invalid"
SESSION_URL = f"http://logplex.invalid/sessions/24h?srv={SESSION_TOKEN}"


def mb(kib: int) -> float:
    """KiB (what /proc reports) in MB of 10^6 bytes."""
    return kib * 1024 / 1e6


@dataclass
class Result:
    lines: int
    rss: dict[int, int] = field(default_factory=dict)  # percent -> KiB
    log_hours: float = 0.0
    tally_lines: int = 0
    matches: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, int] = field(default_factory=dict)
    stored_matches: dict[str, int] = field(default_factory=dict)
    escalations: int = 0  # escalate_logs calls that had something to escalate
    escalate_calls: int = 0
    recent: int = 0  # the follower's remembered digests
    dynos: int = 0  # dynos with restart-loop state
    outbox: dict[str, int] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    store_bytes: int = 0
    lines_seen: int = 0
    sessions: int = 0

    @property
    def growth_kib(self) -> int:
        return self.rss[100] - self.rss[25]

    @property
    def peak_kib(self) -> int:
        return max(self.rss.values())


def simulate(lines: int, directory: Path, seed: int = 1) -> Result:
    """`lines` lines of a 24-hour log through the follower side of a watch."""
    result = Result(lines)
    clock = FakeClock(heroku_log.START)
    values = {
        "WATCHER_APP_ROLE": ROLE,
        "DYNO": OWN_DYNO,
        "WATCHER_CUTOVER_AT": heroku_log.START.isoformat(),
        "WATCHER_STATE_URL": f"sqlite:///{directory / 'state.db'}",
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "WATCHER_HEROKU_API_URL": API_URL,
        "WATCHER_HEROKU_DATA_API_URL": API_URL,
    }
    with settings_environ(values), contextlib.chdir(directory):
        settings = load_settings()
    store = StateStore.from_url(settings.state_url.get_secret_value())
    at_percent = {min(lines - 1, lines * p // 100): p for p in CHECKPOINTS if p < 100}
    escalate_every = timedelta(seconds=daemon.ESCALATE_SECONDS)
    holder: dict[str, Watch | LogFollower] = {}

    def checkpoint(percent: int) -> None:
        kib = rss_kib(os.getpid())
        assert kib is not None
        result.rss[percent] = kib

    def log_chunks() -> Iterator[bytes]:
        watch, follower = holder["watch"], holder["follower"]
        assert isinstance(watch, Watch) and isinstance(follower, LogFollower)
        next_escalation = clock.now() + escalate_every
        for index, line in enumerate(heroku_log.lines(lines, seed)):
            at = datetime.fromisoformat(line[: line.index(" ")])
            # Log time goes on; the daemon's escalation loop runs every 0.5 s of it.
            while next_escalation <= at:
                clock.advance((next_escalation - clock.now()).total_seconds())
                result.escalations += watch.escalate_logs()
                result.escalate_calls += 1
                next_escalation += escalate_every
            if at > clock.now():
                clock.advance((at - clock.now()).total_seconds())
            if index in at_percent:
                checkpoint(at_percent[index])
            yield line.encode() + b"\n"
        result.escalations += watch.escalate_logs()
        result.escalate_calls += 1
        checkpoint(100)
        follower.stop()  # the stream ends here: no reconnect

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/log-sessions"):
            return httpx.Response(201, json={"logplex_url": SESSION_URL})
        if request.url.path.startswith("/sessions/"):
            result.sessions += 1
            return httpx.Response(200, headers={"Content-Type": PLAIN}, content=log_chunks())
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        metrics = Metrics(CollectorRegistry(), __version__)
        notifier = Notifier(settings, store, clock, http, metrics)
        watch = Watch(settings, store, clock, http, metrics, notifier, Redactor(settings.secrets()))
        assert settings.heroku_api_key is not None
        config = HerokuConfig(
            API_URL, API_URL, settings.heroku_api_key.get_secret_value(), settings.app
        )
        # As Daemon._start_follower wires it.
        matcher = LogMatcher(catalogue(settings.app_role), settings.own_dyno)
        follower = LogFollower(
            HerokuApi(http, config, clock),
            http,
            matcher,
            clock,
            on_match=watch.on_log_match,
            remembered=watch.remembered_lines(),
            readers=watch.log_readers,
        )
        watch.attach(follower)
        holder.update(watch=watch, follower=follower)
        gc.collect()
        follower.run()  # here, not in a thread: the fake clock needs no locking then
        tally = follower.tally
        result.log_hours = (clock.now() - heroku_log.START).total_seconds() / 3600
        result.tally_lines = tally.lines
        result.lines_seen = follower.health.lines_seen
        result.matches = {p: c.total for p, c in tally.patterns.items()}
        result.buckets = {p: len(c.minutes) for p, c in tally.patterns.items()}
        result.stored_matches = store.history.log_counts(heroku_log.START - timedelta(days=1))
        result.recent = len(follower.remembered())
        result.dynos = len(matcher._dynos)
        result.outbox = store.outbox.counts()
        result.alerts = sorted(a.id for a in store.alerts.find())
    store.close()
    result.store_bytes = sum(p.stat().st_size for p in directory.glob("state.db*"))
    return result


def worst_case_buckets(patterns: int = 10, hours: int = 24) -> tuple[int, int]:
    """Buckets and bytes (tracemalloc) of a tally in which every pattern matched every minute."""
    matcher = LogMatcher(catalogue(ROLE), OWN_DYNO)
    chosen = matcher.patterns[:patterns]
    # No timestamp of its own: each match is counted in the minute it is recorded at.
    line = parse(f"app[web.1]: {'x' * 200}")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tally = LogTally()
    for minute in range(hours * 60):
        at = heroku_log.START + timedelta(minutes=minute)
        for pattern in chosen:
            tally.count_match(Match(pattern, line), at)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return sum(len(c.minutes) for c in tally.patterns.values()), used


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_24h")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="the figures as JSON (for tests)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memory-24h-") as tmp:
        r = simulate(args.lines, Path(tmp))
    buckets, bucket_bytes = worst_case_buckets()
    if args.json:
        print(json.dumps({**r.__dict__, "worst_buckets": buckets, "worst_bytes": bucket_bytes}))
        return 0
    print(
        f"{r.lines:,} lines over {r.log_hours:.1f} h of log time through LogFollower.run() ->"
        f" its matcher and tally, Watch.on_log_match, Watch.escalate_logs every"
        f" {daemon.ESCALATE_SECONDS:g} s of log time ({r.escalate_calls:,} calls,"
        f" {r.escalations} with matches) on a SQLite state store; {r.sessions} log session"
    )
    print(
        "RSS: "
        + ", ".join(f"{p}% {mb(r.rss[p]):.1f} MB" for p in CHECKPOINTS)
        + f"; growth 25% -> 100%: {mb(r.growth_kib):+.2f} MB"
        f" ({100 * r.growth_kib / r.rss[25]:+.1f}%); 0% -> 100%: {mb(r.rss[100] - r.rss[0]):+.2f} MB"
    )
    print(
        f"counted: {r.lines_seen:,} lines read, {r.tally_lines:,} in the tally; matches"
        f" {sum(r.matches.values())} ({', '.join(f'{p} {n}' for p, n in sorted(r.matches.items()))});"
        f" kept in the store: {sum(r.stored_matches.values())}"
    )
    print(
        f"held at the end: tally per-minute buckets {sum(r.buckets.values())} over"
        f" {len(r.buckets)} patterns (never pruned; at most 1,440 a pattern per day);"
        f" follower replay memory {r.recent:,} digests (bounded: 2 x 1,500);"
        f" restart-loop state for {r.dynos} dyno(s); open alerts {len(r.alerts)};"
        f" outbox {r.outbox}; state store {r.store_bytes / 1e6:.2f} MB on disk"
    )
    print(
        f"tally if every pattern matched every minute for 24 h: {buckets:,} buckets,"
        f" {bucket_bytes / 1e6:.2f} MB (tracemalloc)"
    )
    under = mb(r.peak_kib) < TARGET_MB
    flat = mb(r.growth_kib) <= TARGET_GROWTH_MB
    complete = r.lines_seen == r.lines == r.tally_lines and r.stored_matches == r.matches
    print(
        f"peak {mb(r.peak_kib):.1f} MB (target < {TARGET_MB:g}: {'PASS' if under else 'FAIL'});"
        f" growth 25% -> 100% {mb(r.growth_kib):+.2f} MB (target <= {TARGET_GROWTH_MB:g}:"
        f" {'PASS' if flat else 'FAIL'}); every line and match counted and stored:"
        f" {'yes' if complete else 'NO'}"
    )
    return 0 if under and flat and complete else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
