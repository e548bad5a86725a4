"""A realistic Heroku log of any length, the same every time for the same seed.

Shapes follow Heroku's documented formats (router, dyno manager, app output, Postgres metrics);
the mix is mostly healthy traffic with a few incidents and the near misses the catalogue
must not count: a `Cycling` restart, `OperationalError` inside a URL path, H80 maintenance.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

START = datetime(2026, 5, 16, 14, 48, 42, tzinfo=UTC)
PATHS = (
    "/api/historical-data/AAPL",
    "/api/billing/snapshot",
    "/api/system/whoami",
    "/healthz",
    "/api/portfolios/42",
    "/api/watchlists",
    "/api/auth/login",
    "/api/quotes/MSFT",
)
METHODS = ("GET", "GET", "GET", "POST")


def _router(rng: random.Random, ts: str) -> str:
    path = rng.choice(PATHS)
    return (
        f'{ts} heroku[router]: at=info method={rng.choice(METHODS)} path="{path}"'
        f" host=api.raxx.app request_id={rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        f' fwd="203.0.113.{rng.randrange(1, 255)}" dyno=web.{rng.randrange(1, 3)}'
        f" connect={rng.randrange(0, 3)}ms service={rng.randrange(2, 400)}ms"
        f" status=200 bytes={rng.randrange(200, 90000)} protocol=https"
    )


def _app(rng: random.Random, ts: str) -> str:
    dyno = f"web.{rng.randrange(1, 3)}"
    kind = rng.randrange(4)
    if kind == 0:
        return (
            f'{ts} app[{dyno}]: 10.1.{rng.randrange(255)}.{rng.randrange(255)} - - "GET'
            f' {rng.choice(PATHS)} HTTP/1.1" 200 {rng.randrange(100, 9000)} "-" "python-httpx/0.28"'
        )
    if kind == 1:
        return (
            f"{ts} app[{dyno}]: INFO raptor.repositories.historical_bars fetched"
            f" {rng.randrange(1, 500)} bars for AAPL in {rng.randrange(1, 90)} ms"
        )
    if kind == 2:
        return (
            f"{ts} app[{dyno}]: INFO raptor.auth session refreshed user_id={rng.randrange(10**6)}"
        )
    return (
        f"{ts} app[heroku-postgres]: source=DATABASE addon=postgresql-adjacent-27271"
        f" sample#current_transaction={rng.randrange(5000, 9000)} sample#db_size=16012956bytes"
        f" sample#tables=35 sample#active-connections={rng.randrange(3, 12)}"
        " sample#waiting-connections=0"
    )


# Rare lines, with how often each appears (per million).
INCIDENTS: tuple[tuple[int, str], ...] = (
    (
        40,
        "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars",
    ),
    (
        25,
        "app[web.2]: sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
    ),
    (15, "app[web.1]: sqlite3.OperationalError: database is locked"),
    (
        10,
        'app[web.2]: sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "fills" does not exist',
    ),
    (
        10,
        'heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/api/historical-data/AAPL" host=api.raxx.app dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https',
    ),
    (8, "heroku[web.2]: Error R14 (Memory quota exceeded)"),
    (
        5,
        'heroku[router]: at=error code=H10 desc="App crashed" method=GET path="/healthz" host=api.raxx.app dyno= connect= service= status=503 bytes= protocol=https',
    ),
    (
        4,
        "app[web.1]: FATAL:  remaining connection slots are reserved for non-replication superuser connections",
    ),
    (4, 'app[web.1]: psycopg2.OperationalError: FATAL:  role "raptor_app" does not exist'),
    # Near misses: none of these may count.
    (
        30,
        'heroku[router]: at=info method=GET path="/api/docs/OperationalError-sqlite" host=api.raxx.app dyno=web.1 connect=0ms service=5ms status=404 bytes=120 protocol=https',
    ),
    (
        20,
        'heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" host=api.raxx.app status=503 bytes= protocol=https',
    ),
    (10, 'app[worker.1]: level=info msg="an operator pasted: permission denied for table users"'),
)


# One genuine restart loop (three SIGTERMs of web.2, no Cycling) this far into the log: the
# pattern grep cannot express, counted once (at the third SIGTERM).
RESTART_LOOP_AT = 0.6
RESTART_LOOPS = 1


def lines(count: int, seed: int = 1) -> Iterator[str]:
    """`count` log lines over about 24 hours, incidents sprinkled in, planned restarts too."""
    rng = random.Random(seed)
    loop_at = int(count * RESTART_LOOP_AT) if count >= 1000 else -1
    step = timedelta(days=1) / max(count, 1)
    rare = [(per_million / 1_000_000, text) for per_million, text in INCIDENTS]
    at = START
    emitted = 0
    while emitted < count:
        at += step
        ts = at.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        if emitted == loop_at:
            for _ in range(3):
                yield f"{ts} heroku[web.2]: Stopping all processes with SIGTERM"
            emitted += 3
            continue
        roll = rng.random()
        for chance, text in rare:
            if roll < chance:
                yield f"{ts} {text}"
                break
            roll -= chance
        else:
            if rng.random() < 0.00002:  # the daily restart: Cycling, then its SIGTERM
                dyno = f"web.{rng.randrange(1, 3)}"
                yield f"{ts} heroku[{dyno}]: Cycling"
                yield f"{ts} heroku[{dyno}]: Stopping all processes with SIGTERM"
                emitted += 1
            elif rng.random() < 0.5:
                yield _router(rng, ts)
            else:
                yield _app(rng, ts)
        emitted += 1


def main(argv: list[str]) -> int:
    """`python -m benchmarks.heroku_log COUNT > file.log`."""
    count = int(argv[0]) if argv else 1_000_000
    out = sys.stdout
    for line in lines(count):
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
