"""The Heroku Postgres metrics line parser against real lines, and whatever else arrives."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from checks.logparse.log_line import parse
from checks.logparse.pg_sample import PgSample, parse_sample

# Dev Center, "Heroku Postgres Metrics Logs" (devcenter.heroku.com/articles/
# heroku-postgres-metrics-logs), its "Log Format" example, first fields as published.
DEVCENTER = (
    "2024-03-15T12:10:39.000000+00:00 app[heroku-postgres]: source=HEROKU_POSTGRESQL_SILVER"
    " addon=postgresql-devcenter-123456 sample#current_transaction=54017686"
    " sample#db_size=16012956319bytes sample#tables=97 sample#active-connections=7"
    " sample#waiting-connections=0 sample#index-cache-hit-rate=0.9239"
    " sample#table-cache-hit-rate=0.93609"
)
# Captured from real apps in public parsers' test suites:
# pganalyze/collector input/system/heroku (a 2023 line with tmp-disk and wal fields),
SILVER_2023 = (
    "2023-06-05T19:27:18+00:00 app[heroku-postgres]: source=HEROKU_POSTGRESQL_YELLOW"
    " addon=postgresql-reticulated-12345 sample#current_transaction=19028263"
    " sample#db_size=10311979679bytes sample#tables=1443 sample#active-connections=11"
    " sample#waiting-connections=0 sample#index-cache-hit-rate=0.99814"
    " sample#table-cache-hit-rate=0.96729 sample#load-avg-1m=0 sample#load-avg-5m=0"
    " sample#load-avg-15m=0 sample#read-iops=0 sample#write-iops=0.21311"
    " sample#tmp-disk-used=543600640 sample#tmp-disk-available=72435191808"
    " sample#memory-total=8036340kB sample#memory-free=80640kB sample#memory-cached=7319340kB"
    " sample#memory-postgres=23380kB sample#wal-percentage-used=0.06427136779541504"
)
# a 2016 `source=DATABASE` line without `addon=` and with float sizes (`.0bytes`), quoted in
# a public log-forwarder's source comment,
DATABASE_2016 = (
    "2016-06-09T07:52:53+00:00 app[heroku-postgres]: source=DATABASE"
    " sample#current_transaction=48441 sample#db_size=247529644.0bytes sample#tables=28"
    " sample#active-connections=3 sample#waiting-connections=0"
    " sample#index-cache-hit-rate=0.99991 sample#table-cache-hit-rate=0.99994"
    " sample#load-avg-1m=0.055 sample#load-avg-5m=0.035 sample#load-avg-15m=0.025"
    " sample#read-iops=0 sample#write-iops=0.29701 sample#memory-total=3786332.0kB"
    " sample#memory-free=531500kB sample#memory-cached=2685020.0kB sample#memory-postgres=52128kB"
)
# and a 2026 line with the newer size and connection fields (a Heroku drain handler's test).
NEWER = (
    "2026-09-26T10:00:00.000000+00:00 app[heroku-postgres]: source=DATABASE"
    " addon=postgresql-curly-12345 sample#current_transaction=1873"
    " sample#db_size=26219348792bytes sample#db-size-percentage-used=0.02767 sample#tables=13"
    " sample#active-connections=92 sample#waiting-connections=1 sample#max-connections=200"
    " sample#connections-percentage-used=0.46 sample#index-cache-hit-rate=0.99723"
    " sample#table-cache-hit-rate=0.99118 sample#load-avg-1m=0.39 sample#load-avg-5m=0.325"
    " sample#load-avg-15m=0.3 sample#read-iops=0 sample#write-iops=112.73"
)
# A Redis add-on writes the same shape: it has no `sample#` field the check judges but load.
REDIS = (
    "2024-03-15T12:10:39.000000+00:00 app[heroku-redis]: source=REDIS addon=redis-metric-98068"
    " sample#active-connections=404 sample#load-avg-1m=0.115 sample#load-avg-5m=0.075"
)


def sample(raw: str) -> PgSample | None:
    line = parse(raw)
    return parse_sample(line.message)


def test_devcenter_example() -> None:
    assert sample(DEVCENTER) == PgSample(
        "HEROKU_POSTGRESQL_SILVER",
        "postgresql-devcenter-123456",
        active_connections=7,
        waiting_connections=0,
        index_cache_hit=0.9239,
        table_cache_hit=0.93609,
        db_size_bytes=16012956319,
    )


def test_full_line_with_load_and_wal() -> None:
    got = sample(SILVER_2023)
    assert got is not None
    assert (got.source, got.addon) == ("HEROKU_POSTGRESQL_YELLOW", "postgresql-reticulated-12345")
    assert (got.load_1m, got.load_5m, got.load_15m) == (0, 0, 0)
    assert got.db_size_used is None


def test_old_line_without_addon_and_with_float_sizes() -> None:
    got = sample(DATABASE_2016)
    assert got is not None
    assert (got.source, got.addon) == ("DATABASE", None)
    assert got.db_size_bytes == 247529644.0
    assert got.load_5m == 0.035


def test_newer_line_with_size_share() -> None:
    got = sample(NEWER)
    assert got is not None
    assert got.db_size_used == 0.02767 and got.waiting_connections == 1 and got.load_5m == 0.325


def test_reference_shape_from_the_heroku_notes() -> None:
    got = parse_sample(
        "source=DATABASE addon=postgresql-adjacent-27271 sample#current_transaction=5401"
        " sample#db_size=16012956bytes sample#tables=35 sample#active-connections=7"
        " sample#waiting-connections=0"
    )
    assert got == PgSample(
        "DATABASE",
        "postgresql-adjacent-27271",
        active_connections=7,
        waiting_connections=0,
        db_size_bytes=16012956,
    )


def test_lines_that_are_no_sample() -> None:
    assert parse_sample("") is None
    assert parse_sample("sample#load-avg-5m=1") is None  # no source
    assert parse_sample("source=DATABASE sample#tables=3") is None  # nothing judged
    assert parse_sample("source=DATABASE sample#load-avg-5m=abc") is None
    assert parse_sample("source=DATABASE sample#load-avg-5m=nan") is None


def test_redis_line_parses_but_is_told_apart_by_its_dyno() -> None:
    line = parse(REDIS)
    assert line.dyno == "heroku-redis"  # the check takes only `heroku-postgres` lines


@given(st.text())
@example("source=DATABASE sample#load-avg-5m=1e400")
@example("source=DATABASE sample#load-avg-5m=99999999999999999999.99999999999999999999")
@example("source=DATABASE sample#load-avg-5m=\u0661")
def test_property_any_message_parses_or_is_none(text: str) -> None:
    got = parse_sample(text)
    if got is not None:
        assert got.source
        for value in (got.load_5m, got.waiting_connections, got.db_size_used):
            assert value is None or value >= 0


@given(
    st.from_regex(r"\A[A-Z][A-Z0-9_]{0,30}\Z"),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1),
)
def test_property_round_trip(source: str, load: float, waiting: int, hit: float) -> None:
    got = parse_sample(
        f"source={source} addon=postgresql-x-1 sample#load-avg-5m={load:f}"
        f" sample#waiting-connections={waiting} sample#index-cache-hit-rate={hit:f}"
    )
    assert got is not None
    assert got.source == source and got.waiting_connections == waiting
    assert got.load_5m == float(f"{load:f}") and got.index_cache_hit == float(f"{hit:f}")
