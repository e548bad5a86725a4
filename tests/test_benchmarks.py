"""The benchmarks at CI size, asserting their properties, not their timing: scan counts equal
grep's with the same rules; `watcher once` against slow sources reports a ratio; the watcher
holds at most one database connection during a cycle and none between; each detection-latency
line makes exactly one Slack post; a small log burst is all read and its CRITICAL line posted;
a simulated 24-hour watch counts and stores every line and match."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg2
import pytest

from benchmarks import (
    db_connections,
    detection_latency,
    heroku_log,
    log_burst,
    memory_24h,
    once_wall_time,
)
from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_stream import stream_lines
from checks.result import State
from checks.sources.database import APPLICATION_NAME
from tests.fakes.logplex import PLAIN
from tests.support.postgres import PgServer
from watcher import daemon

ROOT = Path(__file__).resolve().parents[1]


def test_scan_counts_equal_grep_with_the_same_rules() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.scan_vs_grep",
            "--lines",
            "60000",
            "--runs",
            "1",
            "--counts-only",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "counts: the same (PASS" in done.stdout
    assert "restart_loop                  1        1" in done.stdout


def test_once_wall_time_runs_and_reports_a_ratio(pg_server: PgServer) -> None:
    # CI size: one run, 0.2 s a source. The timing target is left to the command itself.
    result = once_wall_time.measure(pg_server, runs=1, delay=0.2)
    run = result.runs[0]
    assert result.all_ok, run.states
    assert result.ratio > 0
    chains = run.chains()
    assert set(chains) == {"healthz", "logs", "sentry", "pg_info", once_wall_time.SQL_SESSION}
    # Every SQL check's statements went through the slow proxy, and every answer was slow.
    assert {a.what for a in chains[once_wall_time.SQL_SESSION]} == {
        "pg_connections",
        "tables",
        "grants",
        "migrations",
        "pg_activity",
    }
    assert all(a.seconds >= 0.2 * 0.99 for a in run.answers)
    assert run.connections["session"] == 1


def test_db_connections_one_during_a_cycle_none_between(pg_server: PgServer) -> None:
    result = db_connections.measure(pg_server, cycles=5, once_runs=1)
    assert result.samples > 0
    for figures in (result.in_process, result.processes):
        assert figures.sql_ok
        assert figures.during and figures.between
        assert figures.max_during <= 1
        assert figures.backends_per_cycle <= 1
        assert figures.max_between == 0


def test_db_connections_sampler_sees_a_watcher_connection(pg_server: PgServer) -> None:
    # What makes "at most 1" mean something: a connection named as the watcher's is counted.
    with db_connections.Sampler(pg_server) as sampler:
        sampler.mark("cycle", 0)
        conn = psycopg2.connect(pg_server.admin_url, application_name=APPLICATION_NAME)
        backend = conn.info.backend_pid
        try:
            deadline = time.monotonic() + 5
            while not any(s.pids for s in sampler.samples) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            conn.close()
    assert next(s.pids for s in sampler.samples if s.pids) == (backend,)


# -- detection latency, log burst, 24-hour memory: CI-sized, properties only ------------------


def test_detection_latency_lines_each_fire_their_own_alert_and_no_other() -> None:
    # As in one watcher process: one matcher hears all six, in order, with traffic between.
    matcher = LogMatcher(catalogue(detection_latency.ROLE), detection_latency.OWN_DYNO)
    now = datetime.now(UTC)
    quiet = itertools.islice(detection_latency.quiet_lines(), 2000)
    assert not [m for body in quiet for m in matcher.match(parse(f"{now.isoformat()}{body}"), now)]
    for pattern in detection_latency.PATTERNS:
        lines = detection_latency.critical_lines(pattern, now)
        fired = [[m.pattern.id for m in matcher.match(parse(line), now)] for line in lines]
        # Only the measured (last) line fires, and only its own pattern.
        assert fired == [[]] * (len(lines) - 1) + [[pattern]]
    assert set(detection_latency.PATTERNS) == {
        p.id for p in catalogue(detection_latency.ROLE) if p.state is State.CRITICAL
    }


def test_detection_latency_one_watcher_process_posts_one_alert_per_line() -> None:
    result = detection_latency.measure(lines=6, background_rate=20)
    assert len(result.start_ups) == 1
    assert sorted(s.pattern for s in result.samples) == sorted(detection_latency.PATTERNS)
    assert result.missed == 0, result.problems
    assert all(s.latency is not None and s.latency > 0 for s in result.samples)
    assert result.posts == [6]  # one post per line: no other alert, no blind post
    assert result.exits[0][0] == 0
    assert result.background_lines > 0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert detection_latency.percentile(values, 50) == 50
    assert detection_latency.percentile(values, 99) == 99
    assert detection_latency.percentile([3.0], 99) == 3


def test_log_burst_plan_and_framing_read_back_as_cedar_lines() -> None:
    bodies = log_burst.plan(3000, critical_index=1500)
    assert len(bodies) == 3000
    stamp = b"2026-05-16T14:48:42.000000+00:00"
    chunk = log_burst.frame(stamp, bodies)
    size, _, rest = chunk.partition(b"\r\n")
    assert rest.endswith(b"\r\n") and int(size, 16) == len(rest) - 2
    response = httpx.Response(200, headers={"Content-Type": PLAIN}, content=rest[:-2])
    lines = list(stream_lines(response))
    assert lines == [stamp + body for body in bodies]
    matcher = LogMatcher(catalogue(detection_latency.ROLE), detection_latency.OWN_DYNO)
    now = datetime.now(UTC)
    fired = {
        i: [m.pattern.id for m in matcher.match(parse(line.decode()), now)]
        for i, line in enumerate(lines)
    }
    probes = [i for i, ids in fired.items() if ids == ["request_timeout"]]
    assert probes == [999, 1999, 2999]  # every PROBE_EVERY-th line, and nothing else
    assert [i for i, ids in fired.items() if ids == ["permission_denied"]] == [1500]
    assert sum(1 for ids in fired.values() if ids) == 4


def test_log_burst_small_is_all_read_and_escalated() -> None:
    result = log_burst.measure(rate=2000, seconds=4, critical_at=2)
    assert result.sessions == 1
    assert result.drained_after is not None  # every line read
    assert result.points[-1].read == result.total
    assert result.latency is not None  # the CRITICAL line reached Slack
    assert result.slack_posts == 2  # the probes' WARNING and the CRITICAL: nothing else fired
    assert len(result.rss) >= 4 and all(kib > 0 for _, kib in result.rss)
    assert result.cpu_seconds > 0
    assert result.exit_code == 0


def test_memory_24h_counts_every_line_and_match_over_24_hours(tmp_path: Path) -> None:
    lines = 60_000
    result = memory_24h.simulate(lines, tmp_path)
    assert set(result.rss) == set(memory_24h.CHECKPOINTS)
    assert result.lines_seen == result.tally_lines == lines
    assert result.log_hours == pytest.approx(24, abs=0.01)
    # The daemon's escalation tick, every 0.5 s of log time, the whole day through.
    ticks = result.log_hours * 3600 / daemon.ESCALATE_SECONDS
    assert abs(result.escalate_calls - ticks) <= 2
    assert result.sessions == 1
    # The same matches as a fresh matcher finds in the same log, all kept in the store.
    matcher = LogMatcher(catalogue(detection_latency.ROLE), detection_latency.OWN_DYNO)
    expected: Counter[str] = Counter()
    for text in heroku_log.lines(lines):
        line = parse(text)
        assert line.timestamp is not None
        expected.update(m.pattern.id for m in matcher.match(line, line.timestamp))
    assert result.matches == dict(expected) and "restart_loop" in expected
    assert result.stored_matches == result.matches
    assert result.recent == 3000  # bounded: twice the replay


def test_memory_24h_worst_case_tally_is_one_bucket_per_pattern_minute() -> None:
    buckets, used = memory_24h.worst_case_buckets(patterns=2, hours=1)
    assert buckets == 2 * 60
    assert used > 0
