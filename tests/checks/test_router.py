"""The `router` check: the window's 5xx share and p95 against thresholds and the baseline."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import router
from checks.logparse.latency_histogram import LatencyHistogram, bucket_of
from checks.logparse.log_line import parse
from checks.result import Baseline, State
from checks.router import RouterStats, RouterThresholds
from tests.support.clock import CUTOVER

T0 = CUTOVER
NOW = T0 + timedelta(hours=2)
THRESHOLDS = RouterThresholds()


def line(at: datetime, status: int = 200, service: int | None = 20, code: str = "") -> str:
    level = "error" if code and code != "H80" else "info"
    code_field = f" code={code}" if code else ""
    timing = "" if service is None else f"{service}ms"
    return (
        f'{at.isoformat()} heroku[router]: at={level}{code_field} method=GET path="/api/x"'
        f' host=api.raxx.app request_id=r fwd="203.0.113.9" dyno=web.1 connect=1ms'
        f" service={timing} status={status} bytes=10 protocol=https"
    )


def fed(lines: list[str], t0: datetime | None = T0) -> RouterStats:
    stats = RouterStats(t0, THRESHOLDS.window)
    for raw in lines:
        stats.add(parse(raw), NOW)
    return stats


def recent(count: int, **kwargs: object) -> list[str]:
    return [line(NOW - timedelta(seconds=1 + i % 600), **kwargs) for i in range(count)]  # type: ignore[arg-type]


def judge(lines: list[str], base: Baseline | None = None) -> router.Result:  # type: ignore[name-defined]
    return router.evaluate(fed(lines), NOW, THRESHOLDS, base)


def test_healthy_window_is_ok_and_names_the_figures() -> None:
    result = judge(recent(100))
    assert result.state is State.OK
    assert "100 requests in the last 15 min" in result.summary
    assert "p95 20 ms" in result.summary
    assert result.metrics["p95_ms"] == 20 and result.metrics["error_ratio"] == 0


@pytest.mark.parametrize(
    ("failed", "state"),
    [(0, State.OK), (1, State.OK), (2, State.WARNING), (9, State.WARNING), (10, State.CRITICAL)],
)
def test_error_share_boundaries(failed: int, state: State) -> None:
    # 200 requests: 2 failed is 1.0% (warn, at or over), 10 is 5.0% (crit, at or over).
    lines = recent(200 - failed) + recent(failed, status=502)
    result = judge(lines)
    assert result.state is state
    if state is not State.OK:
        assert [f.id for f in result.findings] == ["router.errors"]
        assert f"{failed} of 200 requests failed" in result.summary


def test_h_error_without_status_counts_as_failed() -> None:
    lines = (
        recent(90) + [line(NOW - timedelta(seconds=5), status=503, service=None, code="H10")] * 10
    )
    result = judge(lines)
    assert result.state is State.CRITICAL
    assert result.metrics["errors"] == 10


def test_h80_maintenance_lines_are_not_requests() -> None:
    lines = recent(100) + recent(50, status=503, service=None, code="H80")
    result = judge(lines)
    assert result.state is State.OK
    assert result.metrics["requests"] == 100


def test_too_few_requests_is_ok_and_says_so() -> None:
    result = judge(recent(19, status=500))
    assert result.state is State.OK
    assert "too few requests to judge: 19 in the last 15 min (at least 20 needed)" in result.summary
    assert judge(recent(20, status=500)).state is State.CRITICAL


@pytest.mark.parametrize(("slow_ms", "state"), [(1999, State.OK), (2000, State.WARNING)])
def test_p95_threshold_boundary(slow_ms: int, state: State) -> None:
    # 100 requests, 6 slow: the 95th by rank is a slow one.
    result = judge(recent(94) + recent(6, service=slow_ms))
    assert result.metrics["p95_ms"] == bucket_of(slow_ms)
    assert result.state is state
    if state is State.WARNING:
        assert [f.id for f in result.findings] == ["router.latency"]


def test_p95_is_nearest_rank() -> None:
    # 100 requests: 95 fast, 5 slow: the 95th is fast; a 6th slow one makes it slow.
    assert judge(recent(95) + recent(5, service=5000)).metrics["p95_ms"] == 20
    assert judge(recent(94) + recent(6, service=5000)).metrics["p95_ms"] == 5000


@pytest.mark.parametrize(("p95", "state"), [(199, State.OK), (200, State.WARNING)])
def test_twice_the_baseline_boundary(p95: int, state: State) -> None:
    base = Baseline("100", "from WATCHER_ROUTER_BASELINE_P95_MS")
    result = judge(recent(94) + recent(6, service=p95), base)
    assert result.state is state
    if state is State.WARNING:
        assert "twice the baseline p95 of 100 ms" in result.summary


def test_baseline_is_measured_from_lines_before_t0() -> None:
    before = [line(T0 - timedelta(minutes=30, seconds=i), service=40) for i in range(50)]
    stats = fed(before + recent(100, service=90))
    base = router.baseline(stats, None)
    assert base == Baseline("40", "measured from 50 requests before T0")
    result = router.evaluate(stats, NOW, THRESHOLDS, base)
    assert result.state is State.WARNING  # 90 ms is over twice 40 ms
    assert "slower since the cutover" in result.summary
    # Lines before T0 are not in the since-T0 figures, nor in the window.
    assert result.metrics["requests_since_t0"] == 100


def test_too_few_lines_before_t0_make_no_baseline() -> None:
    before = [line(T0 - timedelta(minutes=30, seconds=i), service=40) for i in range(49)]
    assert router.baseline(fed(before), None) is None
    configured = router.baseline(fed(before), 250.0)
    assert configured == Baseline("250", "from WATCHER_ROUTER_BASELINE_P95_MS")


def test_lines_outside_the_window_do_not_count() -> None:
    old = [line(NOW - timedelta(minutes=20), status=500)] * 50
    result = judge(old + recent(100))
    assert result.state is State.OK
    assert result.metrics["requests"] == 100
    assert result.metrics["requests_since_t0"] == 150


def test_memory_is_bounded_by_minutes_and_buckets() -> None:
    stats = RouterStats(T0, THRESHOLDS.window)
    fed_lines = 0
    for minute in range(0, 24 * 60, 7):
        at = T0 + timedelta(minutes=minute)
        for service in range(minute % 11, 30000, 97):
            stats.add(parse(line(at, service=service)), at)
            fed_lines += 1
    assert len(stats.minutes) <= 17
    assert len(stats.since_t0.latency.buckets) <= 1000 + 900 + 200
    assert stats.since_t0.requests == fed_lines > 60_000


def test_non_router_lines_are_ignored() -> None:
    stats = fed(
        [
            "2026-05-16T16:00:00+00:00 app[web.1]: at=info status=500 service=5ms",
            "2026-05-16T16:00:00+00:00 heroku[web.1]: at=error code=H12 status=503",
        ]
    )
    assert stats.since_t0.requests == 0


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=300),
    st.floats(0.01, 1),
)
def test_property_histogram_percentile_is_the_true_one_cut_to_three_digits(
    values: list[int], q: float
) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    ordered = sorted(values)
    true = ordered[max(1, math.ceil(q * len(values))) - 1]
    assert histogram.percentile(q) == bucket_of(true)
    assert 0 <= true - bucket_of(true) <= true * 0.01
