"""How the repositories keep values in columns: times as epoch seconds (UTC)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from watcher.store.database import Execute, Row

T = TypeVar("T")


class Transaction(Protocol):
    """Runs work in one transaction of the store (upgrading it first, errors made readable)."""

    def __call__(self, work: Callable[[Execute], T]) -> T: ...


def epoch(at: datetime) -> float:
    return at.timestamp()


def epoch_or(at: datetime | None, default: float) -> float:
    return default if at is None else at.timestamp()


def maybe_epoch(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def time(value: float) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def maybe_time(value: float | None) -> datetime | None:
    return None if value is None else time(value)


class Repository:
    """One concern's tables, reached through the store's transactions."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._transaction(lambda execute: execute(sql, params))
