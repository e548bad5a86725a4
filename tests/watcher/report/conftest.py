"""One simulated 24-hour watch with an incident, shared by the report's tests.

The jobs of `watcher run` on a moved clock (as tests/watcher/test_watch.py drives them) at the
default intervals: healthz every minute, a full cycle every 15 minutes, against the real fakes
and the test PostgreSQL. What the follower would read is fed through the real matcher, tally
and `Watch.on_log_match`. Built once: the store is then read by every report test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz, healthy
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import json_reply
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.clock import CUTOVER, FakeClock
from tests.support.fake_settings import settings_against
from tests.support.postgres import PgServer, watched_database
from watcher.logs.follower import LogFollower
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import Settings
from watcher.store.state import StateStore
from watcher.watch import Watch

HOUR = 3600
# SPEC section 2's defaults.
HEALTHZ_EVERY, CYCLE_EVERY = 60, 900
# The incident: healthz says sqlite from T0+2h for half an hour, the app logs it.
INCIDENT_START, INCIDENT_END = 2 * HOUR, 2 * HOUR + 30 * 60
# Connections climb over the WARNING ratio (15 of 25) for two cycles.
BUSY_START, BUSY_END = 3 * HOUR, 3 * HOUR + 30 * 60
# Sentry answers 503 for an hour: the watch is blind on it.
SENTRY_DOWN_START, SENTRY_DOWN_END = 12 * HOUR, 13 * HOUR


@dataclass(frozen=True)
class WatchedDay:
    """The store a 24-hour watch left behind, and the settings it ran with."""

    settings: Settings
    state_path: Path
    t0: datetime
    now: datetime
    # Each top-level Slack post: its first line and the permalink Slack gives it.
    posts: tuple[tuple[str, str], ...]

    def store(self) -> StateStore:
        return StateStore.sqlite(str(self.state_path))


def connections_at(elapsed: int) -> int:
    """The connection count pg:info reports `elapsed` seconds after T0."""
    if BUSY_START <= elapsed < BUSY_END:
        return 17
    return 6 + (elapsed // HOUR) % 5


def feed(watch: Watch, follower: LogFollower, raw: str) -> None:
    """One log line as the follower takes it: counted, matched, handed to the watch."""
    follower.take(raw.encode())
    watch.escalate_logs()


def app_line(at: datetime, text: str) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%S.000000+00:00} app[web.1]: {text}"


def simulate(settings: Settings, fakes: dict[str, object], clock: FakeClock, hours: int) -> None:
    healthz = fakes["healthz"]
    heroku = fakes["heroku"]
    sentry = fakes["sentry"]
    addon = fakes["addon"]
    assert isinstance(healthz, FakeHealthz) and isinstance(heroku, FakeHeroku)
    assert isinstance(sentry, FakeSentry)
    with httpx.Client() as http:
        # The composition root the daemon uses, on the test's clock.
        parts = Parts(settings, clock, Redactor([]), http=http)
        watch = parts.watch()
        # Wired as the daemon wires it, so the cycle judges the tally the lines are fed into;
        # its thread is not started: `feed` hands it the lines.
        follower = parts.follower(watch)
        assert follower is not None
        watch.attach(follower)
        try:
            # Past the end, so that the 24-hour mark is posted (it waits for a running check).
            for elapsed in range(0, hours * HOUR + 2 * HEALTHZ_EVERY + 1, HEALTHZ_EVERY):
                now = clock.now()
                sick = INCIDENT_START <= elapsed < INCIDENT_END
                healthz.reply = healthy(db="sqlite" if sick else "postgresql")
                if sick and elapsed % 300 == 0:
                    feed(
                        watch,
                        follower,
                        app_line(now, "sqlite3.OperationalError: database is locked"),
                    )
                if elapsed == SENTRY_DOWN_START:
                    sentry.failures = [json_reply({"detail": "unavailable"}, 503)] * 40
                if elapsed == SENTRY_DOWN_END:
                    sentry.failures = []
                if elapsed % CYCLE_EVERY == 0:
                    heroku.set_info(addon, connections=f"{connections_at(elapsed)}/120")  # type: ignore[arg-type]
                    watch.full_cycle()
                watch.healthz_probe()
                watch.post_marks()
                watch.deliver()
                clock.advance(HEALTHZ_EVERY)
        finally:
            parts.close()


@pytest.fixture(scope="session")
def watched_day(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WatchedDay]:
    """A 24-hour watch, run once for the session."""
    folder = tmp_path_factory.mktemp("watched-day")
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("WATCHER_") and name != "WATCHER_TEST_DATABASE_URL":
            del os.environ[name]
    try:
        with (
            watched_database(pg_server) as db,
            FakeHealthz() as healthz,
            FakeSlack() as slack,
            FakeSentry() as sentry,
            FakeHeroku() as heroku,
            FakeLogplex() as logplex,
        ):
            addon = heroku.add_postgres()
            heroku.set_info(addon, status="Available", connections="6/120")
            heroku.logplex_url = logplex.session_url
            settings = settings_against(
                db,
                healthz,
                heroku,
                sentry,
                slack,
                cutover_at=CUTOVER,
                state_url=f"sqlite:///{folder}/state.db",
            )
            clock = FakeClock(CUTOVER)
            fakes = {"healthz": healthz, "heroku": heroku, "sentry": sentry, "addon": addon}
            simulate(settings, fakes, clock, hours=24)
            links = tuple(
                (
                    (m.text or "").splitlines()[0],
                    f"{slack_fake.WORKSPACE_URL}archives/{m.channel}/p{m.ts.replace('.', '')}",
                )
                for m in slack.top_level()
            )
            yield WatchedDay(settings, folder / "state.db", CUTOVER, clock.now(), links)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def at_hours(t0: datetime, hours: float) -> datetime:
    return t0 + timedelta(hours=hours)
