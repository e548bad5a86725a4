"""The `pg_metrics` check: the newest DATABASE sample, judged as SPEC section 3 says."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from checks import pg_metrics
from checks.logparse.log_line import parse
from checks.pg_metrics import LoadThresholds, PgSamples
from checks.result import State
from tests.support.clock import CUTOVER

T0 = CUTOVER
NOW = T0 + timedelta(hours=2)
LOAD = LoadThresholds()


def metrics_line(
    at: datetime,
    source: str = "DATABASE",
    addon: str | None = "postgresql-adjacent-27271",
    load: float = 0.2,
    waiting: int = 0,
    index: float = 0.999,
    table: float = 0.995,
    used: float | None = None,
) -> str:
    addon_field = f" addon={addon}" if addon else ""
    size = f" sample#db-size-percentage-used={used}" if used is not None else ""
    return (
        f"{at.isoformat()} app[heroku-postgres]: source={source}{addon_field}"
        f" sample#current_transaction=5401 sample#db_size=16012956bytes{size} sample#tables=35"
        f" sample#active-connections=7 sample#waiting-connections={waiting}"
        f" sample#index-cache-hit-rate={index} sample#table-cache-hit-rate={table}"
        f" sample#load-avg-1m={load} sample#load-avg-5m={load} sample#load-avg-15m={load}"
    )


def judge(*lines: str, now: datetime = NOW, t0: datetime | None = T0) -> pg_metrics.Result:  # type: ignore[name-defined]
    samples = PgSamples(t0)
    for raw in lines:
        samples.add(parse(raw), now)
    return pg_metrics.evaluate(samples, now, LOAD)


def test_healthy_sample_is_ok() -> None:
    result = judge(metrics_line(NOW - timedelta(minutes=2)))
    assert result.state is State.OK
    assert result.summary.startswith("postgresql-adjacent-27271 at ")
    assert result.metrics["load_5m"] == 0.2 and result.metrics["active_connections"] == 7


def test_no_sample_is_unknown_and_names_the_plans() -> None:
    result = judge()
    assert result.state is State.UNKNOWN
    assert "Standard and Premium" in result.summary and "Fir" in result.summary


@pytest.mark.parametrize(
    ("age", "state"),
    [(timedelta(minutes=15), State.OK), (timedelta(minutes=15, seconds=1), State.UNKNOWN)],
)
def test_newest_sample_must_be_within_15_minutes(age: timedelta, state: State) -> None:
    assert judge(metrics_line(NOW - age)).state is state


@pytest.mark.parametrize(
    ("load", "state"),
    [(0.99, State.OK), (1.0, State.WARNING), (1.99, State.WARNING), (2.0, State.CRITICAL)],
)
def test_load_boundaries(load: float, state: State) -> None:
    result = judge(metrics_line(NOW - timedelta(minutes=1), load=load))
    assert result.state is state
    if state is not State.OK:
        assert [f.id for f in result.findings] == ["pg_metrics.load"]


def test_waiting_connections_five_samples_in_a_row() -> None:
    waiting = [metrics_line(NOW - timedelta(minutes=10 - i), waiting=2) for i in range(4)]
    assert judge(*waiting).state is State.OK
    fifth = metrics_line(NOW - timedelta(minutes=5), waiting=1)
    result = judge(*waiting, fifth)
    assert result.state is State.WARNING
    assert [f.id for f in result.findings] == ["pg_metrics.waiting"]
    broken = [*waiting[:2], metrics_line(NOW - timedelta(minutes=7)), *waiting[2:], fifth]
    assert judge(*broken).state is State.OK


@pytest.mark.parametrize(
    ("used", "state"),
    [(0.79, State.OK), (0.8, State.WARNING), (0.89, State.WARNING), (0.9, State.CRITICAL)],
)
def test_db_size_boundaries(used: float, state: State) -> None:
    result = judge(metrics_line(NOW - timedelta(minutes=1), used=used))
    assert result.state is state


def test_cold_cache_is_fine_in_the_first_hour_after_t0() -> None:
    cold = metrics_line(T0 + timedelta(minutes=59), index=0.5, table=0.98)
    assert judge(cold, now=T0 + timedelta(minutes=59, seconds=59)).state is State.OK
    later = metrics_line(T0 + timedelta(hours=1), index=0.5, table=0.98)
    result = judge(later, now=T0 + timedelta(hours=1))
    assert result.state is State.WARNING
    assert [f.id for f in result.findings] == ["pg_metrics.cache_hit"]
    assert "index 50.00%" in result.summary and "table 98.00%" in result.summary
    edge = metrics_line(NOW - timedelta(minutes=1), index=0.99, table=0.99)
    assert judge(edge).state is State.OK


def test_followers_and_other_attachments_are_ignored() -> None:
    follower = metrics_line(
        NOW - timedelta(minutes=1),
        source="HEROKU_POSTGRESQL_SILVER",
        addon="postgresql-f-1",
        load=9,
    )
    result = judge(metrics_line(NOW - timedelta(minutes=3)), follower)
    assert result.state is State.OK and result.metrics["load_5m"] == 0.2


def test_the_database_addon_under_another_attachment_name_counts() -> None:
    alias = metrics_line(NOW - timedelta(minutes=1), source="HEROKU_POSTGRESQL_RED", load=2.5)
    assert judge(metrics_line(NOW - timedelta(minutes=3)), alias).state is State.CRITICAL


def test_without_addon_names_source_database_decides() -> None:
    mine = metrics_line(NOW - timedelta(minutes=3), addon=None, load=1.5)
    other = metrics_line(NOW - timedelta(minutes=1), source="HEROKU_POSTGRESQL_SILVER", addon=None)
    result = judge(mine, other)
    assert result.state is State.WARNING and result.metrics["load_5m"] == 1.5


def test_a_promoted_follower_becomes_the_database() -> None:
    old = metrics_line(NOW - timedelta(minutes=6), addon="postgresql-old-1")
    promoted = metrics_line(NOW - timedelta(minutes=4), addon="postgresql-new-2", load=1.2)
    old_elsewhere = metrics_line(
        NOW - timedelta(minutes=2), source="HEROKU_POSTGRESQL_OLD", addon="postgresql-old-1"
    )
    result = judge(old, promoted, old_elsewhere)
    assert result.state is State.WARNING and result.metrics["load_5m"] == 1.2


def test_peak_load_since_t0() -> None:
    lines = [
        metrics_line(T0 - timedelta(minutes=5), load=7),  # before T0: not the watch's
        metrics_line(T0 + timedelta(minutes=30), load=1.7),
        metrics_line(NOW - timedelta(minutes=1), load=0.3),
    ]
    result = judge(*lines)
    assert result.metrics["peak_load_5m"] == 1.7
    assert result.metrics["peak_load_at"] == (T0 + timedelta(minutes=30)).timestamp()
