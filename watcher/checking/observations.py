"""The check history `watcher record` reads: every observation the watch made."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from watcher.checking.runner import CheckReport
from watcher.store.history import HistoryRow
from watcher.store.state import StateStore


def keep_observations(store: StateStore, reports: Iterable[CheckReport], at: datetime) -> None:
    """Keep each report's state, summary, numbers and facts."""
    store.history.keep(
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
