"""Fixtures of the steering tests (incidents, `watcher ack`, `snooze`, `status`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack import FakeSlack
from tests.support.clock import FakeClock
from tests.support.postgres import PgServer, empty_database
from tests.support.steering import Watcher, recording_changes


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A state store URL: a SQLite file, or an empty database on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with empty_database(server) as database:
        yield database.url


@pytest.fixture
def watcher(
    tmp_path: Path, slack: FakeSlack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watcher]:
    """A watcher on a SQLite state store."""
    w = Watcher(f"sqlite:///{tmp_path / 'state.db'}", slack, clock, monkeypatch)
    yield w
    w.close()


@pytest.fixture
def changes() -> Iterator[list[logging.LogRecord]]:
    yield from recording_changes()
