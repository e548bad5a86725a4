"""A realistic Heroku log of any length, the same every time for the same seed.

Shapes follow Heroku's documented formats (router, dyno manager, app output, Postgres metrics);
the mix is mostly healthy traffic with a few incidents and the near misses the catalogue
must not count: a `Cycling` restart, `OperationalError` inside a URL path, H80 maintenance.

Router traffic has a realistic status mix and log-normal service times (p50 about 40 ms, p95
about 150 ms); Heroku Postgres metrics lines come once a minute for the DATABASE add-on and
for a follower (which the `pg_metrics` check must ignore). At fixed places in the log (a
share of its length, so any length has them) come the incidents the `router` and
`pg_metrics` checks exist for: a 5xx burst, a latency regression, a load spike with lock
waits, and a Logplex L11 drop notice. `--before-t0 MINUTES` starts the log that long before
T0 (`START`), so that the router baseline can be measured from it.

    python -m benchmarks.heroku_log COUNT [--before-t0 MINUTES] > file.log
"""

from __future__ import annotations

import argparse
import math
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


# The incidents, as shares of the log's length: (start, end).
ERROR_BURST = (0.20, 0.205)  # a quarter of requests answered 5xx: router.errors CRITICAL
ERROR_BURST_SHARE = 0.25
LATENCY_REGRESSION = (0.30, 0.40)  # service times x4 (N+1 queries): router.latency
LATENCY_FACTOR = 4.0
LOAD_SPIKE = (0.50, 0.52)  # load-avg-5m 2.6, lock waits: pg_metrics.load and .waiting
SPIKE_LOAD = 2.6
LOG_DROP_AT = 0.70  # a Logplex L11 notice: the follower missed lines
LOG_DROP = (
    "heroku[logplex]: Error L11 (Tail buffer overflow) -> This tail session dropped 1101"
    " messages since {since}"
)
METRICS_EVERY = timedelta(minutes=1)
DATABASE_ADDON = "postgresql-adjacent-27271"
FOLLOWER = ("HEROKU_POSTGRESQL_SILVER", "postgresql-shallow-81337")
# Status codes of healthy traffic, with weights: a few redirects and 404s, rare 500s.
STATUSES = ((200, 850), (201, 30), (204, 20), (302, 30), (304, 30), (404, 35), (500, 1))
MEDIAN_MS, SIGMA = 40.0, 0.8


def _inside(span: tuple[float, float], share: float) -> bool:
    return span[0] <= share < span[1]


def _router(rng: random.Random, ts: str, share: float = 0.0) -> str:
    path = rng.choice(PATHS)
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    if _inside(ERROR_BURST, share) and rng.random() < ERROR_BURST_SHARE:
        status = rng.choice((500, 502, 503))
    service = rng.lognormvariate(math.log(MEDIAN_MS), SIGMA)
    if _inside(LATENCY_REGRESSION, share):
        service *= LATENCY_FACTOR
    return (
        f'{ts} heroku[router]: at=info method={rng.choice(METHODS)} path="{path}"'
        f" host=api.raxx.app request_id={rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        f' fwd="203.0.113.{rng.randrange(1, 255)}" dyno=web.{rng.randrange(1, 3)}'
        f" connect={rng.randrange(0, 3)}ms service={min(29999, int(service))}ms"
        f" status={status} bytes={rng.randrange(200, 90000)} protocol=https"
    )


def _metrics(rng: random.Random, ts: str, share: float, source: str, addon: str) -> str:
    """A Heroku Postgres metrics line as Standard and Premium databases write them."""
    spike = _inside(LOAD_SPIKE, share) and source == "DATABASE"
    load = SPIKE_LOAD + rng.random() / 10 if spike else rng.random() / 4
    waiting = rng.randrange(1, 4) if spike else 0
    return (
        f"{ts} app[heroku-postgres]: source={source} addon={addon}"
        f" sample#current_transaction={rng.randrange(5000, 9000)}"
        f" sample#db_size=16012956bytes sample#db-size-percentage-used=0.00025 sample#tables=35"
        f" sample#active-connections={rng.randrange(3, 12)} sample#waiting-connections={waiting}"
        f" sample#index-cache-hit-rate=0.9{rng.randrange(950, 999)}"
        f" sample#table-cache-hit-rate=0.9{rng.randrange(920, 999)}"
        f" sample#load-avg-1m={load:.3f} sample#load-avg-5m={load:.3f}"
        f" sample#load-avg-15m={load * 0.8:.3f} sample#read-iops=0 sample#write-iops=0.12"
        " sample#tmp-disk-used=33849344 sample#tmp-disk-available=72944943104"
        " sample#memory-total=3944416kB sample#memory-free=1296764kB"
        " sample#memory-cached=2189948kB sample#memory-postgres=68232kB"
    )


def _app(rng: random.Random, ts: str) -> str:
    dyno = f"web.{rng.randrange(1, 3)}"
    kind = rng.randrange(3)
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
    return f"{ts} app[{dyno}]: INFO raptor.auth session refreshed user_id={rng.randrange(10**6)}"


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


def lines(count: int, seed: int = 1, before_t0: timedelta = timedelta(0)) -> Iterator[str]:
    """`count` log lines over about 24 hours from T0 (and `before_t0` before it, at the same
    rate), incidents sprinkled in, planned restarts too."""
    rng = random.Random(seed)
    loop_at = int(count * RESTART_LOOP_AT) if count >= 1000 else -1
    drop_at = int(count * LOG_DROP_AT) if count >= 100 else -1
    step = timedelta(days=1) / max(count, 1)
    rare = [(per_million / 1_000_000, text) for per_million, text in INCIDENTS]
    at = START
    emitted = 0
    prelude = int(before_t0 / step)
    for index in range(prelude):
        at_before = START - step * (prelude - index)
        yield _router(rng, at_before.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"))
    next_metrics = START
    follower_due = False
    while emitted < count:
        at += step
        ts = at.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        share = emitted / count
        if 0 <= drop_at <= emitted:
            drop_at = -1  # once
            since = (at - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
            yield f"{ts} {LOG_DROP.format(since=since)}"
            emitted += 1
            continue
        if 0 <= loop_at <= emitted:
            loop_at = -1  # once
            for _ in range(3):
                yield f"{ts} heroku[web.2]: Stopping all processes with SIGTERM"
            emitted += 3
            continue
        # A time slot per line: the database's sample, and the follower's in the next slot.
        if follower_due or at >= next_metrics:
            if follower_due:
                yield _metrics(rng, ts, share, *FOLLOWER)
            else:
                next_metrics += METRICS_EVERY
                yield _metrics(rng, ts, share, "DATABASE", DATABASE_ADDON)
            follower_due = not follower_due
            emitted += 1
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
                yield _router(rng, ts, share)
            else:
                yield _app(rng, ts)
        emitted += 1


def main(argv: list[str]) -> int:
    """`python -m benchmarks.heroku_log COUNT [--before-t0 MINUTES] > file.log`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heroku_log")
    parser.add_argument("count", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--before-t0", type=float, default=0.0, metavar="MINUTES")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out = sys.stdout
    for line in lines(args.count, args.seed, timedelta(minutes=args.before_t0)):
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
