"""Metrics from check reports, read back from a fresh registry per test."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from checks import sentry
from checks.healthz import HealthzObservation
from checks.logparse.router_line import RouterRequest
from checks.pg_activity import PgActivityObservation
from checks.pg_connections import PgConnectionsObservation
from checks.pg_info import PgInfoObservation
from checks.pg_metrics import PgMetricsObservation
from checks.registry import NAMES as CHECK_NAMES
from checks.result import Finding, Result, State
from checks.router import RouterObservation
from checks.sentry import SentryObservation
from checks.tables import TablesObservation
from tests.support.clock import CUTOVER
from watcher.checking.runner import CheckReport
from watcher.telemetry.metrics import Metrics


def sentry_report(**counts: int) -> CheckReport:
    by_kind = {k: 0 for k in sentry.KINDS} | counts
    observed = SentryObservation(sum(counts.values()), 2, by_kind)
    state = State.CRITICAL if counts.get("operational_error") else State.OK
    return CheckReport("sentry", "5.5", Result(state, "s", observed), 0.25)


def test_check_state_duration_and_last_run() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.observe([sentry_report(operational_error=2, other=1)], CUTOVER)
    assert registry.get_sample_value("watcher_check_state", {"check": "sentry"}) == 2
    assert registry.get_sample_value("watcher_check_duration_seconds", {"check": "sentry"}) == 0.25
    assert (
        registry.get_sample_value("watcher_check_last_run_timestamp_seconds", {"check": "sentry"})
        == CUTOVER.timestamp()
    )
    assert registry.get_sample_value("watcher_build_info", {"version": "0.1.0"}) == 1


def test_sentry_new_issues_by_kind() -> None:
    registry = CollectorRegistry()
    Metrics(registry, "0.1.0").observe([sentry_report(operational_error=2, other=1)], CUTOVER)
    value = registry.get_sample_value
    assert value("watcher_sentry_new_issues", {"kind": "operational_error"}) == 2
    assert value("watcher_sentry_new_issues", {"kind": "other"}) == 1
    assert value("watcher_sentry_new_issues", {"kind": "fatal"}) == 0


def test_unknown_run_keeps_the_last_known_values() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.observe([sentry_report(other=3)], CUTOVER)
    unknown = CheckReport("sentry", "5.5", Result.unknown("Sentry API answered HTTP 502"), 1.0)
    metrics.observe([unknown], CUTOVER + timedelta(minutes=15))
    assert registry.get_sample_value("watcher_check_state", {"check": "sentry"}) == 3
    assert registry.get_sample_value("watcher_sentry_new_issues", {"kind": "other"}) == 3


def test_check_values_map_to_their_gauges() -> None:
    registry = CollectorRegistry()
    reports = [
        CheckReport(
            "healthz",
            "5.1",
            Result.from_findings(
                [Finding("healthz.slow", State.WARNING, "slow")],
                "",
                HealthzObservation(latency_seconds=2.5, status_code=200, up=True),
            ),
            2.5,
        ),
        CheckReport(
            "pg_connections",
            "7.3",
            Result.from_findings([], "", PgConnectionsObservation(7, 97)),
            0.01,
        ),
        CheckReport("tables", "7.2", Result.from_findings([], "", TablesObservation(35, 35)), 0.01),
    ]
    Metrics(registry, "0.1.0").observe(reports, CUTOVER)
    value = registry.get_sample_value
    assert (value("watcher_healthz_up"), value("watcher_healthz_latency_seconds")) == (1, 2.5)
    assert value("watcher_pg_connections", {"check": "pg_connections"}) == 7
    assert (value("watcher_public_tables"), value("watcher_public_tables_baseline")) == (35, 35)
    assert value("watcher_check_state", {"check": "healthz"}) == 1


def test_two_watchers_have_separate_registries() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    Metrics(first, "0.1.0").observe([sentry_report(other=1)], CUTOVER)
    Metrics(second, "0.1.0")
    unobserved = second.get_sample_value("watcher_sentry_new_issues", {"kind": "other"})
    assert unobserved is not None and math.isnan(unobserved)  # exported, not yet observed
    assert first.get_sample_value("watcher_sentry_new_issues", {"kind": "other"}) == 1


def test_pg_info_values_map_to_the_pg_gauges() -> None:
    registry = CollectorRegistry()
    metrics = PgInfoObservation(
        available=True, connections=9, connection_limit=25, plan_connection_limit=120
    )
    Metrics(registry, "0.1.0").observe(
        [CheckReport("pg_info", "7.2, 7.3", Result.from_findings([], "", metrics), 0.1)],
        CUTOVER,
        heroku_rate_limit_remaining=4321,
    )
    value = registry.get_sample_value
    assert value("watcher_pg_available") == 1
    assert value("watcher_pg_connections", {"check": "pg_info"}) == 9
    assert value("watcher_pg_connection_limit") == 25
    assert value("watcher_pg_plan_connection_limit") == 120
    assert value("watcher_heroku_rate_limit_remaining") == 4321


def test_rate_limit_is_current_even_when_the_check_failed() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.observe([], CUTOVER, heroku_rate_limit_remaining=4499)
    failed = CheckReport("pg_info", "7.2, 7.3", Result.unknown("rate limited (HTTP 429)"), 8.0)
    metrics.observe([failed], CUTOVER, heroku_rate_limit_remaining=0)
    assert registry.get_sample_value("watcher_heroku_rate_limit_remaining") == 0


def test_alerts_firing_go_to_0_when_they_stop() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.alerts(["healthz.db_sqlite", "grants.table_privileges"])
    metrics.alerts(["grants.table_privileges"])
    firing = {
        alert: registry.get_sample_value("watcher_alerts_firing", {"alert": alert})
        for alert in ("healthz.db_sqlite", "grants.table_privileges")
    }
    assert firing == {"healthz.db_sqlite": 0, "grants.table_privileges": 1}


def test_notifications_are_counted_by_channel_and_reason() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.notification_sent("slack")
    metrics.notification_failed("slack", "ratelimited")
    metrics.notification_failed("slack", "ratelimited")
    assert registry.get_sample_value("watcher_notifications_total", {"channel": "slack"}) == 1
    assert (
        registry.get_sample_value(
            "watcher_notification_failures_total", {"channel": "slack", "reason": "ratelimited"}
        )
        == 2
    )


def test_the_gate_is_exported_from_the_first_scrape_and_undecided_until_a_verdict() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    undecided = registry.get_sample_value("watcher_rm11_gate_open")
    assert undecided is not None and math.isnan(undecided)  # neither OPEN (1) nor CLOSED (0)
    metrics.watch(600, None)
    undecided = registry.get_sample_value("watcher_rm11_gate_open")
    assert undecided is not None and math.isnan(undecided)
    assert registry.get_sample_value("watcher_watch_elapsed_seconds") == 600
    metrics.watch(900, True)
    assert registry.get_sample_value("watcher_rm11_gate_open") == 1
    metrics.watch(14400, False)
    assert registry.get_sample_value("watcher_rm11_gate_open") == 0


# SPEC section 6 metrics this watcher has today whose label values are known at start (those
# of alerts and failure reasons appear with their first alert or failure).
FIRST_SCRAPE = {
    "watcher_check_state": {"check"},
    "watcher_check_duration_seconds": {"check"},
    "watcher_check_last_run_timestamp_seconds": {"check"},
    "watcher_healthz_up": set(),
    "watcher_healthz_latency_seconds": set(),
    "watcher_pg_available": set(),
    "watcher_pg_connections": {"check"},
    "watcher_pg_connection_limit": set(),
    "watcher_pg_plan_connection_limit": set(),
    "watcher_public_tables": set(),
    "watcher_public_tables_baseline": set(),
    "watcher_sentry_new_issues": {"kind"},
    "watcher_log_lines_total": set(),
    "watcher_log_matches_total": {"pattern"},
    "watcher_log_stream_up": set(),
    "watcher_log_stream_reconnects_total": set(),
    "watcher_notifications_total": {"channel"},
    "watcher_watch_elapsed_seconds": set(),
    "watcher_rm11_gate_open": set(),
    "watcher_build_info": {"version"},
    "watcher_pg_sessions": {"state"},
    "watcher_pg_sequences_behind": set(),
    "watcher_incident_open": set(),
    "watcher_incident_acknowledged": set(),
    "watcher_snoozes_active": set(),
    "watcher_router_requests_total": {"status_class"},
    "watcher_router_service_seconds_count": set(),
    "watcher_router_5xx_ratio": set(),
    "watcher_router_p95_seconds": set(),
    "watcher_pg_load_average": {"window"},
    "watcher_pg_active_connections": set(),
    "watcher_pg_waiting_connections": set(),
    "watcher_pg_cache_hit_ratio": {"kind"},
    "watcher_pg_db_size_bytes": set(),
}


def test_every_spec_metric_is_exported_from_the_first_scrape() -> None:
    registry = CollectorRegistry()
    Metrics(registry, "0.1.0")
    scraped = generate_latest(registry).decode()
    samples = {
        sample.name: set(sample.labels)
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    missing = {name for name in FIRST_SCRAPE if name not in samples}
    assert not missing, missing
    assert {name: samples[name] for name in FIRST_SCRAPE} == FIRST_SCRAPE
    states = {
        s.labels["check"]: s.value
        for f in text_string_to_metric_families(scraped)
        for s in f.samples
        if s.name == "watcher_check_state"
    }
    assert set(states) == set(CHECK_NAMES) and all(math.isnan(v) for v in states.values())
    assert registry.get_sample_value("watcher_log_matches_total", {"pattern": "log_dropped"}) == 0


def test_failed_attempts_and_messages_failed_for_good_are_counted_apart() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    metrics.notification_failed("slack", "ratelimited")
    metrics.notification_failed("slack", "channel_not_found")
    metrics.notification_failed_for_good("slack", "channel_not_found")
    labels = {"channel": "slack", "reason": "channel_not_found"}
    assert registry.get_sample_value("watcher_notification_failures_total", labels) == 1
    assert registry.get_sample_value("watcher_notifications_failed_total", labels) == 1
    assert (
        registry.get_sample_value(
            "watcher_notifications_failed_total", {"channel": "slack", "reason": "ratelimited"}
        )
        is None
    )
    assert registry.get_sample_value("watcher_notifications_pending") == 0


def test_pg_activity_sessions_by_state_and_sequences_behind() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    value = registry.get_sample_value
    # The states are known from the start: every one is exported from the first scrape.
    assert math.isnan(value("watcher_pg_sessions", {"state": "idle_in_transaction"}))
    counts = PgActivityObservation(3, 2, 1, 0, 33, 33, 1, 0)
    behind = Finding("pg_activity.sequence_behind", State.CRITICAL, "users_id_seq")
    metrics.observe(
        [CheckReport("pg_activity", "7.2, 7.3", Result.from_findings([behind], "", counts), 0.02)],
        CUTOVER,
    )
    assert [
        value("watcher_pg_sessions", {"state": s})
        for s in ("active", "idle_in_transaction", "blocked")
    ] == [3, 2, 1]
    assert value("watcher_pg_sequences_behind") == 1


def test_router_and_pg_metrics_are_exported_from_the_first_scrape() -> None:
    registry = CollectorRegistry()
    Metrics(registry, "0.1.0")
    for status_class in ("2xx", "3xx", "4xx", "5xx"):
        value = registry.get_sample_value(
            "watcher_router_requests_total", {"status_class": status_class}
        )
        assert value == 0
    assert registry.get_sample_value("watcher_router_service_seconds_count") == 0
    for name in (
        "watcher_router_5xx_ratio",
        "watcher_router_p95_seconds",
        "watcher_pg_active_connections",
        "watcher_pg_waiting_connections",
        "watcher_pg_db_size_bytes",
    ):
        assert registry.get_sample_value(name) == 0, name
    # Known label values: exported from the first scrape, NaN until a sample says otherwise.
    for window in ("1m", "5m", "15m"):
        load = registry.get_sample_value("watcher_pg_load_average", {"window": window})
        assert load is not None and math.isnan(load)
    for kind in ("index", "table"):
        hit = registry.get_sample_value("watcher_pg_cache_hit_ratio", {"kind": kind})
        assert hit is not None and math.isnan(hit)


def test_router_requests_feed_the_counter_and_a_real_histogram() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    for status, service in ((200, 14), (200, 180), (503, 30001), (404, 3)):
        metrics.router_request(RouterRequest(status, None, "info", service))
    metrics.router_request(RouterRequest(503, "H10", "error", None))
    assert registry.get_sample_value("watcher_router_requests_total", {"status_class": "5xx"}) == 2
    assert registry.get_sample_value("watcher_router_requests_total", {"status_class": "2xx"}) == 2
    assert registry.get_sample_value("watcher_router_service_seconds_count") == 4
    assert registry.get_sample_value("watcher_router_service_seconds_bucket", {"le": "0.2"}) == 3
    assert registry.get_sample_value("watcher_router_service_seconds_bucket", {"le": "+Inf"}) == 4
    total = registry.get_sample_value("watcher_router_service_seconds_sum")
    assert total == pytest.approx(30.198)


def test_router_and_pg_metrics_results_set_their_gauges() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "0.1.0")
    routed = Result(
        State.OK,
        "r",
        RouterObservation(
            requests=100,
            errors=2,
            error_ratio=0.02,
            requests_since_t0=100,
            errors_since_t0=2,
            error_ratio_since_t0=0.02,
            p95_ms=310.0,
            p95_seconds=0.31,
        ),
    )
    sampled = Result(
        State.OK,
        "p",
        PgMetricsObservation(
            load_1m=0.5,
            load_5m=1.25,
            load_15m=0.75,
            active_connections=7,
            waiting_connections=2,
            index_cache_hit=0.995,
            table_cache_hit=0.97,
            db_size_bytes=16012956,
        ),
    )
    metrics.observe(
        [CheckReport("router", "7.1", routed, 0.0), CheckReport("pg_metrics", "7.2", sampled, 0.0)],
        CUTOVER,
    )
    assert registry.get_sample_value("watcher_router_5xx_ratio") == 0.02
    assert registry.get_sample_value("watcher_router_p95_seconds") == 0.31
    assert registry.get_sample_value("watcher_pg_load_average", {"window": "5m"}) == 1.25
    assert registry.get_sample_value("watcher_pg_active_connections") == 7
    assert registry.get_sample_value("watcher_pg_waiting_connections") == 2
    assert registry.get_sample_value("watcher_pg_cache_hit_ratio", {"kind": "table"}) == 0.97
    assert registry.get_sample_value("watcher_pg_db_size_bytes") == 16012956
