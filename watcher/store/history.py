"""The watch's history: every check observation, with its numbers and facts kept as data
(docs/state-store.md: `record`, `status` and `report` read fields, never summaries), and the
log pattern matches per minute."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from watcher.store.columns import Transaction, epoch, epoch_or, time
from watcher.store.database import Execute

SCHEMA = (
    """
    CREATE TABLE observation_numbers (
        history_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value {float} NOT NULL,
        PRIMARY KEY (history_id, name)
    )
    """,
    """
    CREATE TABLE observation_facts (
        history_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (history_id, name)
    )
    """,
)


# How long counted line digests are kept: far longer than any replay reaches back.
LOG_LINES_KEPT_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class LogMatchCount:
    """A matched line to count: its pattern, its minute, and the line's digest (hex)."""

    pattern: str
    minute: datetime
    digest: str


@dataclass(frozen=True)
class HistoryRow:
    """One check's observation: its state and summary, its numbers and its facts."""

    at: datetime
    check: str
    state: str
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)


class History:
    """Observations and log counts; each method is one transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def keep(self, rows: Sequence[HistoryRow]) -> None:
        """Keep observations, each with its numbers and facts."""

        def work(execute: Execute) -> None:
            for row in rows:
                (history_id,) = execute(
                    "INSERT INTO check_history (at, check_name, state, summary, metrics)"
                    " VALUES (?, ?, ?, ?, '{}') RETURNING id",
                    (epoch(row.at), row.check, row.state, row.summary),
                )[0]
                _keep_values(execute, int(history_id), row.metrics, row.facts)

        self._transaction(work)

    def observations(
        self,
        check: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[HistoryRow]:
        """Observations in time order within [since, until), of one check or all."""
        where = "WHERE h.at >= ? AND h.at < ?"
        params: list[object] = [epoch_or(since, float("-inf")), epoch_or(until, float("inf"))]
        if check is not None:
            where += " AND h.check_name = ?"
            params.append(check)

        def work(execute: Execute) -> list[HistoryRow]:
            rows = execute(
                "SELECT h.id, h.at, h.check_name, h.state, h.summary FROM check_history h"
                f" {where} ORDER BY h.at, h.id",
                params,
            )
            numbers: dict[int, dict[str, float]] = {}
            facts: dict[int, dict[str, str]] = {}
            for table, into in (("observation_numbers", numbers), ("observation_facts", facts)):
                found = execute(
                    f"SELECT v.history_id, v.name, v.value FROM {table} v"
                    f" JOIN check_history h ON h.id = v.history_id {where}",
                    params,
                )
                for history_id, name, value in found:
                    into.setdefault(int(history_id), {})[str(name)] = value
            return [
                HistoryRow(
                    time(at),
                    str(name),
                    str(state),
                    str(summary),
                    {k: float(v) for k, v in numbers.get(int(i), {}).items()},
                    facts.get(int(i), {}),
                )
                for i, at, name, state, summary in rows
            ]

        return self._transaction(work)

    def add_log_counts(self, counts: Mapping[tuple[str, datetime], int]) -> None:
        """Add matches per (pattern, minute)."""
        if not counts:
            return

        def work(execute: Execute) -> None:
            for (pattern, minute), count in counts.items():
                execute(
                    "INSERT INTO log_counts (pattern, minute, count) VALUES (?, ?, ?)"
                    " ON CONFLICT (pattern, minute) DO UPDATE"
                    " SET count = log_counts.count + excluded.count",
                    (pattern, epoch(minute), count),
                )

        self._transaction(work)

    def count_log_matches(
        self, matches: Sequence[LogMatchCount], at: datetime
    ) -> list[LogMatchCount]:
        """Count each line's matches once, with the line's digest, in one transaction.

        A line already counted (by this process before a restart, or by another watcher on
        the same store) adds nothing; returns the matches that were new.
        """
        if not matches:
            return []

        def work(execute: Execute) -> list[LogMatchCount]:
            fresh: dict[str, bool] = {}
            counted: list[LogMatchCount] = []
            for match in matches:
                if match.digest not in fresh:
                    fresh[match.digest] = bool(
                        execute(
                            "INSERT INTO log_lines (digest, at) VALUES (?, ?)"
                            " ON CONFLICT (digest) DO NOTHING RETURNING digest",
                            (match.digest, epoch(at)),
                        )
                    )
                if not fresh[match.digest]:
                    continue
                counted.append(match)
                execute(
                    "INSERT INTO log_counts (pattern, minute, count) VALUES (?, ?, 1)"
                    " ON CONFLICT (pattern, minute) DO UPDATE"
                    " SET count = log_counts.count + 1",
                    (match.pattern, epoch(match.minute)),
                )
            execute("DELETE FROM log_lines WHERE at < ?", (epoch(at) - LOG_LINES_KEPT_SECONDS,))
            return counted

        return self._transaction(work)

    def counted_lines(self, since: datetime) -> list[str]:
        """Digests (hex) of the lines counted since `since`, oldest first."""
        rows = self._transaction(
            lambda execute: execute(
                "SELECT digest FROM log_lines WHERE at >= ? ORDER BY at", (epoch(since),)
            )
        )
        return [str(row[0]) for row in rows]

    def log_counts(self, since: datetime, until: datetime | None = None) -> dict[str, int]:
        """Matches per pattern whose minute is in [since, until)."""
        rows = self._transaction(
            lambda execute: execute(
                "SELECT pattern, sum(count) FROM log_counts WHERE minute >= ? AND minute < ?"
                " GROUP BY pattern",
                (epoch(since), epoch_or(until, float("inf"))),
            )
        )
        return {str(pattern): int(total) for pattern, total in rows}

    def log_minutes(self, since: datetime) -> list[tuple[str, datetime, int]]:
        """Matches per pattern and minute from `since` on, oldest first."""
        rows = self._transaction(
            lambda execute: execute(
                "SELECT pattern, minute, count FROM log_counts WHERE minute >= ? ORDER BY minute",
                (epoch(since),),
            )
        )
        return [(str(p), time(m), int(c)) for p, m, c in rows]


def _keep_values(
    execute: Execute, history_id: int, numbers: Mapping[str, float], facts: Mapping[str, str]
) -> None:
    for name, value in numbers.items():
        execute(
            "INSERT INTO observation_numbers (history_id, name, value) VALUES (?, ?, ?)",
            (history_id, name, float(value)),
        )
    for name, text in facts.items():
        execute(
            "INSERT INTO observation_facts (history_id, name, value) VALUES (?, ?, ?)",
            (history_id, name, text),
        )


# How the healthz summaries of the old history named the db: `db=postgresql`, `db='other'`.
_DB = re.compile(r"\bdb='?([^',;\s]+)")


def from_metrics_json(execute: Execute) -> None:
    """Migration: the old history's JSON bag of floats into rows, and healthz's `db` fact
    (which the old code wrote only into the summary) read out of it once, here."""
    rows = execute("SELECT id, check_name, summary, metrics FROM check_history")
    for history_id, check, summary, metrics in rows:
        try:
            data = json.loads(metrics or "{}")
        except ValueError:
            data = {}
        numbers = {
            str(k): float(v)
            for k, v in (data.items() if isinstance(data, dict) else ())
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        facts = {}
        if check == "healthz" and (found := _DB.search(str(summary))) and found[1] != "missing":
            facts["db"] = found[1]
        _keep_values(execute, int(history_id), numbers, facts)
    execute("UPDATE check_history SET metrics = '{}'")
