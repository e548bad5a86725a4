"""The check history `watcher record` reads: every observation the watch made."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from watcher.runner import CheckReport
from watcher.state import StateStore
from watcher.store.history import HistoryRow


def record(store: StateStore, reports: Iterable[CheckReport], at: datetime) -> None:
    """Keep each report's state, summary, numbers and facts."""
    store.history.record(
        [
            HistoryRow(
                at,
                r.name,
                r.result.state.name,
                r.result.summary,
                dict(r.result.metrics),
                {} if r.result.observation is None else r.result.observation.facts(),
            )
            for r in reports
        ]
    )
