"""The charts read the numbers the checks record, under the names their observations give them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.clock import CUTOVER
from watcher.report.charts import Thresholds
from watcher.report.from_store import build_report, thresholds_from
from watcher.store.history import HistoryRow
from watcher.store.state import StateStore

MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    kept = StateStore.sqlite(str(tmp_path / "state.db"))
    yield kept
    kept.close()


def test_router_and_load_charts_read_the_observations_field_names(store: StateStore) -> None:
    # RouterObservation.p95_seconds and .error_ratio, PgMetricsObservation.load_5m (issue 14).
    store.history.keep(
        [
            HistoryRow(CUTOVER + MINUTE, "router", "OK", "s", {"p95_seconds": 0.25}),
            HistoryRow(
                CUTOVER + MINUTE, "router", "OK", "s", {"error_ratio": 0.02, "requests": 50}
            ),
            # A window without requests has no 5xx share: no point, not 0%.
            HistoryRow(
                CUTOVER + 20 * MINUTE, "router", "OK", "s", {"error_ratio": 0, "requests": 0}
            ),
            HistoryRow(CUTOVER + 20 * MINUTE, "pg_metrics", "OK", "s", {"load_5m": 1.5}),
        ]
    )
    report = build_report(store, "raxx-api-prod", CUTOVER, CUTOVER + 30 * MINUTE)
    charts = {chart.key: chart for chart in report.charts}
    assert charts["router-p95"].series[0].values == (250.0, None)
    assert charts["router-5xx"].series[0].values == (2.0, None)
    assert charts["pg-load"].series[0].values == (None, 1.5)


def test_the_limits_come_from_the_settings_it_has() -> None:
    class Known:
        pg_connection_limit = 30
        router_5xx_warn = 0.02
        pg_load_crit = 3.0

    limits = thresholds_from(Known())  # type: ignore[arg-type]
    assert limits == Thresholds(connection_ceiling=30, router_5xx_warn=0.02, pg_load_crit=3.0)
