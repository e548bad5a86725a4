"""How many connections the watcher holds on the watched PostgreSQL: at most 1, none between runs.

    python -m benchmarks.db_connections [--cycles N] [--once-runs N]

Against a throwaway PostgreSQL with the runbook's schema (or WATCHER_TEST_DATABASE_URL, a
superuser URL, as the tests use), runs N full check cycles in this process exactly as
`watcher once` does (CheckSet + run_checks, a real httpx client, settings from the
environment), then a few `watcher once` processes. Meanwhile a sampler thread counts the
watcher's connections in `pg_stat_activity` every 5 ms over a separate superuser connection.
The HTTP sources point at a closed loopback port: only the SQL checks touch the database.
Prints the most connections seen during cycles (target <= 1) and between them (target 0);
exits 1 if either is missed or a SQL check was not OK (the cycle would then prove nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from checks.registry import NAMES as CHECK_NAMES
from checks.result import State
from checks.sources.clock import SystemClock
from checks.sources.database import APPLICATION_NAME
from tests.fakes.http import closed_port
from tests.support.postgres import (
    REVISION,
    PgServer,
    WatchedDatabase,
    prepare_server,
    throwaway_server,
    watched_database,
)
from tests.support.runbook_schema import TABLE_COUNT
from watcher import __version__
from watcher.checking.runner import CheckReport, run_checks
from watcher.checking.sources import CheckSet
from watcher.redact import Redactor
from watcher.settings import Settings, load_settings
from watcher.store.state import StateStore

POLL_SECONDS = 0.005
# Between cycles, as the daemon's interval would be: long enough to see the connection gone.
GAP_SECONDS = 0.2
# PostgreSQL drops a backend from pg_stat_activity when its process exits, a moment after the
# client hung up (0.5 ms typically, 2.5 ms at most measured here): a sample in that moment
# sees a connection already closed. Counted apart; a leaked one would stay the whole gap.
EXIT_GRACE = 0.02
SQL_CHECKS = ("pg_connections", "tables", "grants", "migrations", "pg_activity")
# Settings the watcher reads that have no WATCHER_ prefix.
_UNPREFIXED = (
    "HEROKU_API_KEY",
    "SENTRY_AUTH_TOKEN",
    "SENTRY_DSN",
    "SLACK_BOT_TOKEN",
    "DATABASE_URL",
    "PORT",
    "DYNO",
)
_API_URLS = (
    "WATCHER_HEALTHZ_URL",
    "WATCHER_HEROKU_API_URL",
    "WATCHER_HEROKU_DATA_API_URL",
    "WATCHER_SENTRY_API_URL",
    "WATCHER_SLACK_API_URL",
)


def database_server() -> contextlib.AbstractContextManager[PgServer]:
    """WATCHER_TEST_DATABASE_URL (a superuser URL) if set, as the tests do; else a throwaway one."""
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    return contextlib.nullcontext(PgServer(url)) if url else throwaway_server()


def clean_environ(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`environ` without any watcher setting: a developer's shell changes nothing measured."""
    return {
        k: v for k, v in environ.items() if not k.startswith("WATCHER_") and k not in _UNPREFIXED
    }


def watcher_settings(db: WatchedDatabase, state_dir: Path) -> dict[str, str]:
    """The variables for a healthy watched database; every HTTP source on a closed port."""
    dead = f"http://127.0.0.1:{closed_port()}/"
    return {
        **dict.fromkeys(_API_URLS, dead),
        "DATABASE_URL": db.owner_url,
        "WATCHER_APP_ROLE": db.app_role,
        "WATCHER_EXPECTED_TABLES": str(TABLE_COUNT),
        "WATCHER_EXPECTED_REVISION": REVISION,
        "WATCHER_CHECK_TIMEOUT": "10",
        "WATCHER_STATE_URL": f"sqlite:///{state_dir / 'state.db'}",
    }


@dataclass(frozen=True)
class Sample:
    phase: str  # "cycle" or "gap"
    cycle: int
    at: float  # monotonic, when the query started
    pids: tuple[int, ...]  # the watcher's backends


class Sampler:
    """Polls the watcher's connections every POLL_SECONDS on its own superuser connection.

    The main thread marks the phase and cycle; a sample whose query straddles a change of
    them is dropped, so every kept sample belongs to one phase of one cycle.
    """

    def __init__(self, server: PgServer) -> None:
        self._server = server
        # One tuple, replaced whole: the sampler thread never reads half a change.
        self.state: tuple[str, int] = ("idle", 0)
        self.samples: list[Sample] = []
        self.straddling = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def mark(self, phase: str, cycle: int) -> None:
        self.state = (phase, cycle)

    def _poll(self) -> None:
        with contextlib.closing(self._server.admin()) as conn, conn.cursor() as cur:
            self._ready.set()
            next_at = time.monotonic()
            while not self._stop.is_set():
                state, started = self.state, time.monotonic()
                cur.execute(
                    "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    (APPLICATION_NAME,),
                )
                row = cur.fetchone()
                pids = tuple(row[0]) if row else ()
                if state != self.state:
                    self.straddling += 1
                elif state[0] != "idle":
                    self.samples.append(Sample(*state, started, pids))
                # A fixed rate, not a fixed pause: the query's own time is part of the 5 ms.
                next_at += POLL_SECONDS
                self._stop.wait(max(0.0, next_at - time.monotonic()))


@dataclass
class Figures:
    """What the sampler saw over a series of cycles."""

    cycles: int
    during: list[Sample] = field(default_factory=list)
    exiting: list[Sample] = field(default_factory=list)  # within EXIT_GRACE of a cycle's end
    between: list[Sample] = field(default_factory=list)
    gap_starts: dict[int, float] = field(default_factory=dict)
    sql_ok: bool = True

    @property
    def max_during(self) -> int:
        return max((len(s.pids) for s in self.during), default=0)

    @property
    def seen_during(self) -> int:
        """Samples during cycles that saw the watcher's connection: that the sampler can."""
        return sum(1 for s in self.during if s.pids)

    @property
    def backends_per_cycle(self) -> int:
        """Most distinct backends seen in one cycle: 1 means one connection per run."""
        by_cycle: dict[int, set[int]] = {}
        for s in self.during:
            by_cycle.setdefault(s.cycle, set()).update(s.pids)
        return max((len(p) for p in by_cycle.values()), default=0)

    @property
    def max_between(self) -> int:
        return max((len(s.pids) for s in self.between), default=0)

    @property
    def last_seen_ms(self) -> float | None:
        """Longest time from the end of a cycle to a sample that still saw a backend."""
        late = [s.at - self.gap_starts[s.cycle] for s in self.exiting + self.between if s.pids]
        return 1000 * max(late) if late else None

    @property
    def ok(self) -> bool:
        return self.max_during <= 1 and self.max_between == 0 and self.sql_ok


def one_cycle(settings: Settings, redactor: Redactor) -> list[CheckReport]:
    """One full cycle as watcher/cli.py's `once` runs it, without the printing."""
    clock = SystemClock()
    store = StateStore.from_url(settings.state_url.get_secret_value())
    with httpx.Client(
        timeout=settings.check_timeout,
        headers={"User-Agent": f"cutover-watcher/{__version__}"},
    ) as http:
        checkset = CheckSet(settings, store, clock, http)
        try:
            return run_checks(
                checkset.planned(CHECK_NAMES), settings.check_timeout, clock, redactor
            )
        finally:
            checkset.close()
            store.close()


def in_process(sampler: Sampler, cycles: int) -> Figures:
    """`cycles` cycles in this process, settings from the environment (load_settings)."""
    settings = load_settings()
    redactor = Redactor(settings.secrets())
    figures = Figures(cycles)
    for cycle in range(cycles):
        sampler.mark("cycle", cycle)
        reports = one_cycle(settings, redactor)
        figures.gap_starts[cycle] = time.monotonic()
        sampler.mark("gap", cycle)
        states = {r.name: r.result.state for r in reports}
        figures.sql_ok &= all(states[name] == State.OK for name in SQL_CHECKS)
        time.sleep(GAP_SECONDS)
    return _split(sampler, figures, range(cycles))


def once_processes(sampler: Sampler, runs: int, env: Mapping[str, str], cwd: Path) -> Figures:
    """`watcher once --json` as a process `runs` times; numbered after the in-process cycles."""
    watcher = Path(sys.executable).with_name("watcher")
    first = sampler.state[1] + 1
    figures = Figures(runs)
    for cycle in range(first, first + runs):
        sampler.mark("cycle", cycle)
        done = subprocess.run(
            [str(watcher), "once", "--json"],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        figures.gap_starts[cycle] = time.monotonic()
        sampler.mark("gap", cycle)
        try:
            states = {c["name"]: c["state"] for c in json.loads(done.stdout)["checks"]}
        except (ValueError, KeyError):
            raise SystemExit(
                f"watcher once failed ({done.returncode}): {done.stderr[:500]}"
            ) from None
        figures.sql_ok &= all(states[name] == "OK" for name in SQL_CHECKS)
        time.sleep(GAP_SECONDS)
    return _split(sampler, figures, range(first, first + runs))


def _split(sampler: Sampler, figures: Figures, cycles: range) -> Figures:
    for sample in list(sampler.samples):
        if sample.cycle not in cycles:
            continue
        if sample.phase == "cycle":
            figures.during.append(sample)
        elif sample.at - figures.gap_starts[sample.cycle] < EXIT_GRACE:
            figures.exiting.append(sample)
        else:
            figures.between.append(sample)
    return figures


@dataclass(frozen=True)
class Measurement:
    in_process: Figures
    processes: Figures
    samples: int
    straddling: int


@contextlib.contextmanager
def settings_environ(values: Mapping[str, str]) -> Iterator[None]:
    """load_settings reads os.environ: set `values` there for the in-process cycles only."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({**clean_environ(saved), **values})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure(server: PgServer, cycles: int, once_runs: int) -> Measurement:
    """Both series against a fresh copy of the runbook's database on `server`."""
    with (
        watched_database(server) as db,
        tempfile.TemporaryDirectory(prefix="db-connections-") as tmp,
        Sampler(server) as sampler,
    ):
        values = watcher_settings(db, Path(tmp))
        # In a directory of its own: no .env of the developer's is read.
        with settings_environ(values), contextlib.chdir(tmp):
            inside = in_process(sampler, cycles)
        processes = once_processes(sampler, once_runs, {**clean_environ(), **values}, Path(tmp))
        return Measurement(inside, processes, len(sampler.samples), sampler.straddling)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _print(title: str, figures: Figures) -> None:
    print(f"{title}: {figures.cycles} cycles")
    print(
        f"  during cycles: max {figures.max_during} connection(s) (target <= 1:"
        f" {_verdict(figures.max_during <= 1)}); {len(figures.during)} samples,"
        f" {figures.seen_during} saw the watcher's connection; most backends in one cycle:"
        f" {figures.backends_per_cycle}"
    )
    last_seen = figures.last_seen_ms
    exiting = (
        "none saw a backend"
        if last_seen is None
        else f"the last to see one was {last_seen:.1f} ms after the cycle (its exit)"
    )
    print(
        f"  between cycles: max {figures.max_between} (target 0:"
        f" {_verdict(figures.max_between == 0)}); {len(figures.between)} samples from"
        f" {EXIT_GRACE * 1000:g} ms after a cycle's end; {len(figures.exiting)} before: {exiting}"
    )
    print(f"  SQL checks OK in every cycle: {'yes' if figures.sql_ok else 'NO'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.db_connections")
    parser.add_argument("--cycles", type=int, default=20, help="in-process cycles")
    parser.add_argument("--once-runs", type=int, default=3, help="`watcher once` processes")
    args = parser.parse_args(argv)
    with database_server() as server:
        prepare_server(server)
        result = measure(server, args.cycles, args.once_runs)
    print(
        f"connections with application_name={APPLICATION_NAME!r}, sampled every"
        f" {POLL_SECONDS * 1000:g} ms over a separate superuser connection;"
        f" {GAP_SECONDS:g} s between cycles"
    )
    _print("in process (CheckSet + run_checks, as `watcher once` runs them)", result.in_process)
    _print("`watcher once --json` processes", result.processes)
    print(
        f"samples taken: {result.samples} ({result.straddling} more dropped: they straddled"
        " the start or end of a cycle)"
    )
    return 0 if result.in_process.ok and result.processes.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
