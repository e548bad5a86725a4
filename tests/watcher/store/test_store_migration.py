"""A state store written before the store split is read after it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes import slack as slack_fake
from tests.fakes.slack import FakeSlack
from tests.support import legacy_store
from tests.support.clock import CUTOVER, FakeClock
from tests.support.postgres import PgServer, empty_database
from watcher.notify.delivery import Delivery, Failure
from watcher.notify.slack import SlackTransport
from watcher.notify.slack_messages import Composer
from watcher.store.alerts import FIRING
from watcher.store.database import PostgresDb, SqliteDb
from watcher.store.state import StateStore
from watcher.store.watch_facts import DeliveryFailure
from watcher.timeline.section8 import record_markdown


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store the pre-split code wrote: a file, or schema `watcher` of a fresh database."""
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        db = SqliteDb(str(path))
        legacy_store.write(db)
        db.close()
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with empty_database(server) as database:
        pg = PostgresDb(database.url)
        legacy_store.write(pg)
        pg.close()
        yield database.url


@pytest.fixture
def store(legacy_url: str) -> Iterator[StateStore]:
    opened = StateStore.from_url(legacy_url)
    yield opened
    opened.close()


def test_the_watch_and_its_baselines_are_read(store: StateStore) -> None:
    assert store.facts.watch_start() == CUTOVER
    baseline = store.facts.baseline("tables")
    assert baseline is not None and (baseline.value, baseline.observed_at) == ("35", CUTOVER)


def test_key_value_settings_became_typed_columns(store: StateStore) -> None:
    assert store.facts.gate() is False
    assert store.facts.transport_streak("healthz") == 1
    assert store.facts.transport_streak("pg_info") == 0
    assert store.facts.delivery_failure() == DeliveryFailure("ratelimited", "wait")
    assert store.facts.keep_store_id("another") == "5f0e1d2c3b4a5968"
    assert store.facts.follower_memory() == ["a1b2c3", "d4e5f6"]
    assert store.history.counted_lines(CUTOVER) == ["d4e5f6"]


def test_the_open_alert_is_read_and_not_paged_again(store: StateStore) -> None:
    (alert,) = store.alerts.find()
    assert (alert.id, alert.status, alert.fired_at) == (
        "healthz.db_sqlite",
        FIRING,
        legacy_store.FIRED_AT,
    )
    assert alert.message_id == 1
    assert [m.kind for m in store.outbox.messages("pending")] == ["reply"]


def test_the_check_history_keeps_its_numbers_and_facts_as_data(store: StateStore) -> None:
    rows = store.history.observations("pg_info")
    assert [(r.state, r.metrics["connections"]) for r in rows] == [("OK", 21.0)]
    healthz = store.history.observations("healthz")
    assert [r.metrics["latency_seconds"] for r in healthz] == [0.038, 0.041]
    # The db healthz named was only in the summary: the migration read it out, once.
    assert [r.facts for r in healthz] == [{"db": "postgresql"}, {"db": "sqlite"}]


def test_record_reads_the_old_history(store: StateStore) -> None:
    text = record_markdown(store, CUTOVER, "raxx-api-prod", CUTOVER + timedelta(hours=5))
    assert "**Section 5.1 healthz db field:** `sqlite`" in text
    assert "**Connection peak:** 21 of 25 (84%)" in text


def test_a_reply_queued_before_the_split_goes_to_its_thread_as_it_was(
    store: StateStore, slack: FakeSlack
) -> None:
    transport = SlackTransport(
        slack_fake.TOKEN, slack.api_url, "#ops-alerts", 5, Composer("raxx-api-prod")
    )
    delivery = Delivery(store, [transport], FakeClock(CUTOVER + timedelta(hours=2)))
    assert delivery.health() == Failure("ratelimited", "wait")
    assert delivery.deliver().sent == 1
    (reply,) = slack.messages
    assert (reply.text, reply.thread_ts) == (legacy_store.LEGACY_REPLY, legacy_store.POSTED[1])
    assert delivery.health() is None
