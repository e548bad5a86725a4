"""Fixtures every test shares: the test PostgreSQL, the fakes, a clock, a clean environment."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from checks.sources.clock import SystemClock
from checks.sources.database import Database, DatabaseOptions
from tests.fakes.healthz import FakeHealthz
from tests.fakes.slack import FakeSlack
from tests.support.alertmanager import Alertmanager
from tests.support.clock import FakeClock
from tests.support.postgres import (
    PgServer,
    WatchedDatabase,
    prepare_server,
    throwaway_server,
    watched_database,
)

# Variables the watcher reads: removed for every test, so a developer's shell or .env
# cannot change what a test sees.
_WATCHER_VARS = (
    "HEROKU_API_KEY",
    "SENTRY_AUTH_TOKEN",
    "SENTRY_DSN",
    "SLACK_BOT_TOKEN",
    "DATABASE_URL",
    "PORT",
)


# Every outside API points at a closed loopback port unless a test gives its fake's URL.
LOOPBACK_DEFAULTS = {
    name: "http://127.0.0.1:9/"
    for name in (
        "WATCHER_HEALTHZ_URL",
        "WATCHER_HEROKU_API_URL",
        "WATCHER_HEROKU_DATA_API_URL",
        "WATCHER_SENTRY_API_URL",
        "WATCHER_SLACK_API_URL",
    )
}
_LOOPBACK_NAMES = ("localhost", "::1")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach beyond this machine: resolving any other host fails the call."""
    resolve = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not (name.startswith("127.") or name in _LOOPBACK_NAMES):
            raise OSError(f"test tried to reach {name}: tests use 127.0.0.1 only")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        test_only = name == "WATCHER_TEST_DATABASE_URL"
        if (name.startswith("WATCHER_") and not test_only) or name in _WATCHER_VARS:
            monkeypatch.delenv(name)
    for name, value in LOOPBACK_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """WATCHER_TEST_DATABASE_URL (a superuser URL) if set, else a throwaway local server."""
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    with contextlib.nullcontext(PgServer(url)) if url else throwaway_server() as server:
        prepare_server(server)
        yield server


@pytest.fixture
def watched_db(pg_server: PgServer) -> Iterator[WatchedDatabase]:
    """A fresh copy of the runbook's database with its own app role and the 4.6 grants."""
    with watched_database(pg_server) as db:
        yield db


@pytest.fixture
def database(watched_db: WatchedDatabase) -> Iterator[Database]:
    """The watcher's read-only session on `watched_db`, as the owner credential."""
    db = Database(
        DatabaseOptions(watched_db.owner_url, connect_timeout=3, statement_timeout=3), SystemClock()
    )
    yield db
    db.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An HTTP client as the watcher makes one; the tests point it at the fakes."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def healthz_server() -> Iterator[FakeHealthz]:
    with FakeHealthz() as server:
        yield server


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Alertmanager]:
    """One real Alertmanager for the session: filter `alerts()` by a label unique to the test."""
    with Alertmanager() as server:
        yield server


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


# Property-based tests (issue 7): the same examples on every run, so CI never fails on a new
# draw that nobody can reproduce; no example database, so nothing outside the repo changes
# what runs. HYPOTHESIS_PROFILE=explore searches wider and at random while developing.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=150, print_blob=True
)
settings.register_profile("explore", deadline=None, max_examples=2000, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
