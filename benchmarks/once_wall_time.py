"""`watcher once` when every source takes 1 s to answer: wall time against the critical path.

    python -m benchmarks.once_wall_time [--runs N] [--delay SECONDS] [--db-delay SECONDS]

Every source the checks read answers `--delay` (1 s) after each request: /healthz, the Heroku
Platform and Data APIs, the Logplex session, Sentry (the fakes of tests/fakes, made slow), and
the watched PostgreSQL, which takes 1 s per statement (a proxy, see `SlowPostgres`). Then runs
the installed console script `watcher once --json` N times as a real process and compares its
wall time with the critical path: the longest chain of answers something in the run must wait
for one after another. A check's own requests are such a chain (Sentry's project, then its
issues); so are all the SQL checks' statements, which by design share one connection and run
one at a time (see benchmarks/db_connections.py). Target: wall / critical path <= 1.3. The
naive sum is what a watcher asking its sources one after another would take.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks.db_connections import clean_environ, database_server, watcher_settings
from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import DATA_PATH, FakeHeroku
from tests.fakes.http import FakeServer, Reply, Request
from tests.fakes.log_lines import postgres_metrics_line, router_line
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.support.postgres import PgServer, prepare_server, watched_database

TARGET_RATIO = 1.3
# WATCHER_CHECK_TIMEOUT of the runs: no chain should hold a run up longer than this.
CHECK_TIMEOUT = 10.0
SQL_SESSION = "SQL session"
# psycopg2 wraps every statement in these; they are the session's bookkeeping, not a question
# the database takes time to answer.
_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|ROLLBACK|COMMIT)\b", re.IGNORECASE)
# Which SQL check sent a statement, by what only its queries read.
_SQL_CHECK_OF = (
    ("pg_sequences", "pg_activity"),
    ("pg_stat_activity", "pg_connections"),
    ("information_schema.tables", "tables"),
    ("pg_roles", "grants"),
    ("alembic_version", "migrations"),
)
_SSL_OR_GSS_REQUEST = (80877103, 80877104)
_CANCEL_REQUEST = 80877102


@dataclass(frozen=True)
class Answer:
    """One slow answer: the chain it belongs to, what it answered, and how long it took."""

    chain: str
    what: str
    seconds: float


class Answers:
    """Every slow answer of a run, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Answer] = []

    def add(self, answer: Answer) -> None:
        with self._lock:
            self.items.append(answer)

    def take(self) -> list[Answer]:
        with self._lock:
            taken, self.items = self.items, []
        return taken


def slow_down(
    fake: FakeServer, delay: float, answers: Answers, label: Callable[[Request], tuple[str, str]]
) -> None:
    """Make `fake` answer `delay` after each request; record the latency it gave each one.

    The wait is in the responder rather than Reply.delay so that what is recorded is the time
    the fake actually took, measured where it answers.
    """
    respond = fake.respond

    def slowly(request: Request) -> Reply:
        started = time.monotonic()
        reply = respond(request)
        time.sleep(max(0.0, started + delay - time.monotonic()))
        chain, what = label(request)
        answers.add(Answer(chain, what, time.monotonic() - started))
        return reply

    fake.respond = slowly


def _heroku_label(request: Request) -> tuple[str, str]:
    # pg_info and logs share the Heroku fake: the path says whose request it is.
    if request.path.endswith("/log-sessions"):
        return "logs", "Heroku log-sessions"
    if request.path.startswith(DATA_PATH):
        return "pg_info", "Heroku Data API"
    return "pg_info", f"Heroku {request.path.rsplit('/', 1)[-1]}"


def _sentry_label(request: Request) -> tuple[str, str]:
    return "sentry", "Sentry issues" if request.path.endswith("/issues/") else "Sentry project"


class _ClientMessages:
    """Splits what a PostgreSQL client sends into messages; yields its simple queries' SQL.

    Before the startup message, messages have no type byte (SSL and GSS requests come first;
    the URL given to the watcher says sslmode=disable, so the server answers no and the stream
    stays readable).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._started = False
        # What the client opened this connection for, once its first message says so.
        self.purpose: str | None = None

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        queries = []
        while True:
            if self._started:
                if len(self._buffer) < 5:
                    break
                end = 1 + int.from_bytes(self._buffer[1:5], "big")
                if len(self._buffer) < end:
                    break
                kind, body = self._buffer[0], bytes(self._buffer[5:end])
                if kind == ord("Q"):
                    queries.append(body.rstrip(b"\0").decode("utf-8", "replace"))
            else:
                if len(self._buffer) < 8:
                    break
                end = int.from_bytes(self._buffer[0:4], "big")
                if len(self._buffer) < end:
                    break
                code = int.from_bytes(self._buffer[4:8], "big")
                if code == _CANCEL_REQUEST:
                    self.purpose = "cancel request"
                # Protocol 3.x is the startup message; typed messages follow it.
                self._started = code not in _SSL_OR_GSS_REQUEST and code >> 16 == 3
                if self._started:
                    self.purpose = "session"
            del self._buffer[:end]
        return queries


class SlowPostgres:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL that makes each statement take `delay`.

    Why a proxy: the statements are the watcher's own, unchanged (no pg_sleep can be slipped
    into them), and the watcher connects to it as to any server. The proxy reads the client's
    messages; for each simple query that is a statement (not BEGIN or ROLLBACK, which psycopg2
    sends around every statement), it holds the first byte of the server's answer until
    `delay` after the query went to the server. psycopg2 waits for a whole answer before it
    asks again, so the next bytes from the server are that answer. Start-up and
    authentication go at full speed: the delay is per statement, as a busy database's.

    The time is spent in transit, not in the server, so the server's statement_timeout does
    not see it: to the watcher this is a slow network or a pooler queueing the query. At 1 s
    a statement that makes no difference (the watcher's statement timeout is 2.5 s); past the
    check timeout only the client's own deadlines can end the wait. Records each statement's
    latency and counts the TCP connections the client opened, by purpose.
    """

    def __init__(self, upstream: str, delay: float, answers: Answers) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._delay = delay
        self._answers = answers
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.connections: Counter[str] = Counter()
        self._connections_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="slow-postgres", daemon=True)

    def url(self, url: str) -> str:
        """`url` through the proxy, without TLS so the proxy can read the messages."""
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[0] + f"@127.0.0.1:{self.port}"
        query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

    def __enter__(self) -> SlowPostgres:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream) as server:
            # When the statement on its way was sent, with the SQL check that sent it.
            pending: list[tuple[float, str]] = []
            to_client = threading.Thread(
                target=self._answers_to_client, args=(server, client, pending), daemon=True
            )
            to_client.start()
            messages = _ClientMessages()
            counted = False
            while data := _receive(client):
                queries = messages.feed(data)
                if messages.purpose and not counted:
                    with self._connections_lock:
                        self.connections[messages.purpose] += 1
                    counted = True
                for sql in queries:
                    if not _TRANSACTION_CONTROL.match(sql):
                        # Marked before the bytes go on: the answer cannot overtake it.
                        pending.append((time.monotonic(), _sql_check(sql)))
                server.sendall(data)
            _half_close(server)
            to_client.join(10)

    def _answers_to_client(
        self, server: socket.socket, client: socket.socket, pending: list[tuple[float, str]]
    ) -> None:
        while data := _receive(server):
            if pending:
                sent, check = pending.pop(0)
                time.sleep(max(0.0, sent + self._delay - time.monotonic()))
                self._answers.add(Answer(SQL_SESSION, check, time.monotonic() - sent))
            try:
                client.sendall(data)
            except OSError:
                break
        _half_close(client)


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _half_close(sock: socket.socket) -> None:
    # The peer may be gone already: then there is nothing left to tell it.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def _sql_check(sql: str) -> str:
    return next((check for needle, check in _SQL_CHECK_OF if needle in sql), "other")


@dataclass(frozen=True)
class Run:
    """One `watcher once` run: its wall time, the slow answers it waited for, its states."""

    wall: float
    answers: list[Answer]
    states: dict[str, str]
    connections: Counter[str]

    def chains(self) -> dict[str, list[Answer]]:
        chains: dict[str, list[Answer]] = {}
        for answer in self.answers:
            chains.setdefault(answer.chain, []).append(answer)
        return chains

    def chain_seconds(self) -> dict[str, float]:
        return {name: sum(a.seconds for a in chain) for name, chain in self.chains().items()}

    @property
    def critical_path(self) -> float:
        """The longest chain, but never past the check timeout: the runner reports a check
        still waiting then as timed out, so a longer chain is no reason to take longer."""
        return min(max(self.chain_seconds().values()), CHECK_TIMEOUT)

    @property
    def slowest_check(self) -> tuple[str, float]:
        """The slowest check on its own, the SQL session split into its checks."""
        totals: Counter[str] = Counter()
        for answer in self.answers:
            check = answer.what if answer.chain == SQL_SESSION else answer.chain
            totals[check] += answer.seconds
        check, seconds = max(totals.items(), key=lambda item: item[1])
        return check, min(seconds, CHECK_TIMEOUT)

    @property
    def naive_sum(self) -> float:
        return sum(a.seconds for a in self.answers)

    @property
    def ratio(self) -> float:
        return self.wall / self.critical_path


@dataclass(frozen=True)
class Measurement:
    delay: float
    runs: list[Run]

    @property
    def median_wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def ratio(self) -> float:
        """The median of each run's wall time over its own critical path."""
        return statistics.median(r.ratio for r in self.runs)

    @property
    def all_ok(self) -> bool:
        return all(state == "OK" for r in self.runs for state in r.states.values())


def measure(
    server: PgServer, runs: int, delay: float = 1.0, db_delay: float | None = None
) -> Measurement:
    """`runs` runs of `watcher once --json` with every source answering in `delay` seconds
    (the database in `db_delay`, if given)."""
    answers = Answers()
    watcher = Path(sys.executable).with_name("watcher")
    if not watcher.exists():
        raise SystemExit(f"{watcher} not found: install the package (scripts/setup)")
    with (
        watched_database(server) as db,
        SlowPostgres(
            server.admin_url, delay if db_delay is None else db_delay, answers
        ) as postgres,
        FakeHealthz() as healthz,
        FakeSentry() as sentry,
        FakeHeroku() as heroku,
        FakeLogplex() as logplex,
        tempfile.TemporaryDirectory(prefix="once-wall-time-") as tmp,
    ):
        slow_down(healthz, delay, answers, lambda r: ("healthz", "healthz"))
        slow_down(sentry, delay, answers, _sentry_label)
        slow_down(heroku, delay, answers, _heroku_label)
        slow_down(logplex, delay, answers, lambda r: ("logs", "Logplex"))
        heroku.add_postgres()
        heroku.logplex_url = logplex.session_url
        # A quiet log: the app's requests over the last 40 minutes, with the router's lines
        # of them and a Standard database's metrics line every 5 minutes.
        now = datetime.now(UTC)
        logplex.history = [
            line
            for s in range(2400, 0, -20)
            for line in (
                f"{(now - timedelta(seconds=s)).isoformat()} app[web.1]: GET /api/quotes/AAPL 200",
                router_line(now - timedelta(seconds=s), path="/api/quotes/AAPL"),
            )
        ] + [postgres_metrics_line(now - timedelta(seconds=s)) for s in range(2400, 0, -300)]
        env = {
            **clean_environ(),
            **watcher_settings(db, Path(tmp)),
            "DATABASE_URL": postgres.url(db.owner_url),
            "WATCHER_HEALTHZ_URL": healthz.healthz_url,
            "WATCHER_CUTOVER_AT": (now - timedelta(hours=2)).isoformat(),
            "WATCHER_SENTRY_API_URL": sentry.url,
            "WATCHER_SENTRY_ORG": sentry_fake.ORG,
            "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "WATCHER_HEROKU_API_URL": heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": heroku.url,
            "WATCHER_CHECK_TIMEOUT": f"{CHECK_TIMEOUT:g}",
        }
        done_runs = []
        for _ in range(runs):
            answers.take()
            connections_before = postgres.connections.copy()
            started = time.perf_counter()
            done = subprocess.run(
                [str(watcher), "once", "--json"],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            wall = time.perf_counter() - started
            try:
                report = json.loads(done.stdout)
            except ValueError:
                raise SystemExit(
                    f"watcher once failed ({done.returncode}): {done.stderr[:500]}"
                ) from None
            states = {c["name"]: c["state"] for c in report["checks"]}
            # The fakes and the proxy record an answer before sending it, so every answer
            # this run waited for is recorded by the time the process has exited.
            done_runs.append(
                Run(wall, answers.take(), states, postgres.connections - connections_before)
            )
    return Measurement(delay, done_runs)


def _describe(chain: list[Answer]) -> str:
    counts = Counter(a.what for a in chain)
    return ", ".join(f"{what} x{n}" if n > 1 else what for what, n in counts.items())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.once_wall_time")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=1.0, help="each source's answer time")
    parser.add_argument(
        "--db-delay", type=float, help="the database's answer time per statement (--delay)"
    )
    args = parser.parse_args(argv)
    with database_server() as server:
        prepare_server(server)
        result = measure(server, args.runs, args.delay, args.db_delay)
    db_delay = args.delay if args.db_delay is None else args.db_delay
    walls = [r.wall for r in result.runs]
    last = result.runs[-1]
    print(
        f"watcher once --json, {args.runs} runs; healthz, the Heroku Platform and Data APIs,"
        f" Logplex and Sentry answer each request in {args.delay:g} s; PostgreSQL each"
        f" statement in {db_delay:g} s (through a delaying proxy)"
    )
    print("chains of answers waited for one after another (the last run):")
    seconds = last.chain_seconds()
    for name, chain in sorted(last.chains().items(), key=lambda item: seconds[item[0]]):
        print(f"  {name:<12} {len(chain):>2} x: {_describe(chain):<62} {seconds[name]:6.2f} s")
    critical_chain = max(seconds, key=lambda name: seconds[name])
    if seconds[critical_chain] > CHECK_TIMEOUT:
        critical_chain += f", capped at WATCHER_CHECK_TIMEOUT={CHECK_TIMEOUT:g}"
    slowest, slowest_seconds = last.slowest_check
    print(
        f"critical path: {last.critical_path:.2f} s ({critical_chain}); the slowest check on its"
        f" own: {slowest} {slowest_seconds:.2f} s"
    )
    print(
        f"wall time: median {result.median_wall:.2f} s of {args.runs}"
        f" ({', '.join(f'{w:.2f}' for w in walls)}), process start-up included"
    )
    ok = result.ratio <= TARGET_RATIO
    print(
        f"ratio wall / critical path: {result.ratio:.2f} (median of the runs' own ratios);"
        f" target <= {TARGET_RATIO}: {'PASS' if ok else 'FAIL'}"
    )
    if slowest_seconds < last.critical_path:
        print(
            f"  against the slowest check on its own: {result.median_wall / slowest_seconds:.2f}"
            " (the SQL checks share one connection, so their statements queue)"
        )
    print(
        f"naive sum (a serial watcher): {last.naive_sum:.2f} s; wall / naive sum:"
        f" {result.median_wall / last.naive_sum:.2f}"
    )
    opened = ", ".join(f"{n} {purpose}" for purpose, n in sorted(last.connections.items()))
    print(f"connections opened to PostgreSQL in the last run (through the proxy): {opened}")
    print(f"every check OK in every run: {'yes' if result.all_ok else 'NO'}")
    if not result.all_ok:
        for run in result.runs:
            print("  states:", ", ".join(f"{n} {s}" for n, s in run.states.items()))
    return 0 if ok and result.all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
