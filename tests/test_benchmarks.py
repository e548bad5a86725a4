"""The benchmarks at CI size, asserting their properties, not their timing: scan counts equal
grep's with the same rules; `watcher once` against slow sources reports a ratio; the watcher
holds at most one database connection during a cycle and none between."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from benchmarks import db_connections, once_wall_time
from checks.database import APPLICATION_NAME
from tests.support.postgres import PgServer

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
