"""A stand-in of every integration `watcher doctor` checks, healthy until a test breaks it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.log_lines import router_line
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.alertmanager import Alertmanager
from tests.support.clock import CUTOVER, FakeClock
from tests.support.postgres import WatchedDatabase
from tests.support.pushgateway import Pushgateway
from watcher.doctor.examine import Diagnosis, examine
from watcher.doctor.rows import Context, Row
from watcher.settings import load_settings


@dataclass
class World:
    """The fakes, the watched database, the settings pointing at them, and a clock."""

    healthz: FakeHealthz
    heroku: FakeHeroku
    logplex: FakeLogplex
    sentry: FakeSentry
    slack: FakeSlack
    db: WatchedDatabase
    env: dict[str, str]
    clock: FakeClock
    monkeypatch: pytest.MonkeyPatch

    def diagnose(self, **changes: str | None) -> Diagnosis:
        """Run every row with the settings changed as given (None unsets one)."""
        for name, value in {**self.env, **changes}.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        with httpx.Client() as http:
            return examine(Context(load_settings(), http, self.clock))

    def row(self, name: str, **changes: str | None) -> Row:
        (found,) = [r for r in self.diagnose(**changes).rows if r.name == name]
        return found


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[Pushgateway]:
    with Pushgateway() as server:
        yield server


@pytest.fixture
def world(
    watched_db: WatchedDatabase,
    alertmanager: Alertmanager,
    pushgateway: Pushgateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    clock = FakeClock(CUTOVER - timedelta(hours=3))
    with (
        FakeHealthz() as healthz,
        FakeHeroku() as heroku,
        FakeLogplex() as logplex,
        FakeSentry() as sentry,
        FakeSlack() as slack,
    ):
        heroku.add_postgres()
        heroku.serve_logs(logplex)
        logplex.history = [router_line(CUTOVER - timedelta(hours=3, minutes=1))]
        env = {
            "WATCHER_APP": heroku_fake.APP,
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "WATCHER_HEROKU_API_URL": heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": heroku.url,
            "WATCHER_HEALTHZ_URL": healthz.healthz_url,
            "DATABASE_URL": watched_db.owner_url,
            "WATCHER_APP_ROLE": watched_db.app_role,
            "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
            "WATCHER_SENTRY_API_URL": sentry.url,
            "WATCHER_SENTRY_ORG": sentry_fake.ORG,
            "SLACK_BOT_TOKEN": slack_fake.TOKEN,
            "WATCHER_SLACK_API_URL": slack.api_url,
            "WATCHER_SLACK_CHANNEL": slack_fake.CHANNEL,
            "WATCHER_SLACK_MENTION": f"<@{slack_fake.ON_CALL}>",
            "WATCHER_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "WATCHER_ALERTMANAGER_URL": alertmanager.url,
            "WATCHER_PUSHGATEWAY_URL": pushgateway.url,
            "WATCHER_CUTOVER_AT": CUTOVER.isoformat(),
            "WATCHER_CHECK_TIMEOUT": "5",
        }
        yield World(healthz, heroku, logplex, sentry, slack, watched_db, env, clock, monkeypatch)
