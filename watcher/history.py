"""The check history `watcher record` reads: every observation the watch made."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from watcher.runner import CheckReport
from watcher.state import HistoryRow, StateStore


def record(store: StateStore, reports: Iterable[CheckReport], at: datetime) -> None:
    """Keep each report's state, summary and metrics."""
    store.record_checks(
        [
            HistoryRow(at, r.name, r.result.state.name, r.result.summary, dict(r.result.metrics))
            for r in reports
        ]
    )
