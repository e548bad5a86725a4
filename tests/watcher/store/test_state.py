"""The state store: the same behaviour in SQLite and PostgreSQL, and each one's failures."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.clock import CUTOVER
from tests.support.postgres import PgServer, empty_database
from watcher.notify.notices import Notice
from watcher.store.alerts import FIRING, AlertChange, AlertEvent, AlertRecord
from watcher.store.history import HistoryRow, LogMatchCount
from watcher.store.outbox import Message
from watcher.store.state import StateStore, StateStoreError
from watcher.store.timeline import Mark
from watcher.store.watch_facts import DeliveryFailure

MINUTE = timedelta(minutes=1)


# `store_url` (each backend, empty) is tests/watcher/conftest.py's.


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    kept = StateStore.from_url(store_url)
    yield kept
    kept.close()


def _alert(alert_id: str = "grants.table_privileges", **changes: object) -> AlertRecord:
    base = AlertRecord(
        alert_id, "grants", "CRITICAL", FIRING, "raptor_app lacks INSERT on users", CUTOVER, CUTOVER
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_first_baseline_wins(store: StateStore) -> None:
    assert store.facts.baseline("tables") is None
    store.facts.keep_baseline("tables", "35", CUTOVER)
    store.facts.keep_baseline("tables", "36", CUTOVER)
    kept = store.facts.baseline("tables")
    assert kept is not None
    assert (kept.value, kept.observed_at) == ("35", CUTOVER)


def test_watch_start_is_kept_once(store: StateStore) -> None:
    assert store.facts.watch_start() is None
    assert store.facts.keep_watch_start(CUTOVER) == CUTOVER
    assert store.facts.keep_watch_start(CUTOVER.replace(hour=20)) == CUTOVER
    assert store.facts.watch_start() == CUTOVER
    store.facts.keep_delivery_failure(DeliveryFailure("invalid_auth", "fix the token"))
    store.facts.keep_delivery_failure(DeliveryFailure("channel_not_found", "fix the channel"))
    assert store.facts.delivery_failure() == DeliveryFailure("channel_not_found", "fix the channel")
    store.facts.keep_delivery_failure(None)
    assert store.facts.delivery_failure() is None


def test_an_alert_change_is_kept_with_its_messages_and_events(store: StateStore) -> None:
    fired = _alert(fired_at=CUTOVER, bad_streak=1)
    kept = store.alerts.change(
        fired.id,
        lambda old: AlertChange(
            fired,
            [Message("post", Notice.text("fire"))],
            [AlertEvent(fired.id, "fired", "CRITICAL", fired.summary, CUTOVER)],
        ),
    )
    assert kept is not None and kept.message_id is not None
    assert store.alerts.get(fired.id) == kept
    later = CUTOVER + 30 * MINUTE
    store.alerts.change(
        fired.id,
        lambda old: AlertChange(
            replace(old, reminded_at=later, last_seen=later),  # type: ignore[type-var]
            [Message("reply", Notice.text("still"))],
        ),
    )
    post, reply = store.outbox.messages()
    assert (post.kind, post.alert_id, post.notice) == ("post", fired.id, Notice.text("fire"))
    assert (reply.kind, reply.parent_id) == ("reply", post.id)
    assert store.alerts.get(fired.id).reminded_at == later  # type: ignore[union-attr]
    assert [e.event for e in store.alerts.events()] == ["fired"]
    assert store.alerts.find() == [store.alerts.get(fired.id)]


def test_deciding_nothing_changes_nothing(store: StateStore) -> None:
    assert store.alerts.change("healthz.timeout", lambda old: None) is None
    assert store.alerts.get("healthz.timeout") is None
    assert store.outbox.messages() == []


def test_a_failed_decision_keeps_nothing(store: StateStore) -> None:
    def broken(old: AlertRecord | None) -> AlertChange:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        store.alerts.change("healthz.timeout", broken)
    assert store.alerts.get("healthz.timeout") is None


def test_outbox_life_of_a_message(store: StateStore) -> None:
    (first, second) = store.outbox.enqueue(
        [
            Message("post", Notice.text("4-hour result")),
            Message("post", Notice.text("8-hour mark")),
        ],
        CUTOVER,
    )
    assert [m.id for m in store.outbox.due(CUTOVER)] == [first, second]
    store.outbox.set_retry(first, CUTOVER + MINUTE, "ratelimited")
    assert [m.id for m in store.outbox.due(CUTOVER)] == [second]
    assert store.outbox.next_attempt() == CUTOVER
    store.outbox.set_sent(second, CUTOVER, "C0OPS", "1747405862.000100")
    assert store.outbox.next_attempt() == CUTOVER + MINUTE
    sent = store.outbox.message(second)
    assert sent is not None and (sent.status, sent.posted_ts, sent.attempts) == (
        "sent",
        "1747405862.000100",
        1,
    )
    store.outbox.set_failed(first, "channel_not_found")
    assert store.outbox.counts() == {"sent": 1, "failed": 1}
    assert store.outbox.due(CUTOVER + MINUTE) == []
    assert store.outbox.requeue_failed(["invalid_auth"], CUTOVER) == 0
    assert store.outbox.requeue_failed(["channel_not_found"], CUTOVER) == 1
    assert [m.id for m in store.outbox.due(CUTOVER)] == [first]


def test_a_mark_is_posted_once(store: StateStore) -> None:
    mark = Mark("4h", CUTOVER + timedelta(hours=4), CUTOVER + timedelta(hours=4), late=False)
    assert store.timeline.post(mark, [Message("post", Notice.text("clean"))])
    again = replace(mark, posted_at=CUTOVER + timedelta(hours=5), late=True)
    assert not store.timeline.post(again, [Message("post", Notice.text("clean, late"))])
    assert store.timeline.mark("4h") == mark
    assert store.timeline.marks() == [mark]
    assert [m.notice.title for m in store.outbox.messages() if m.notice] == ["clean"]


def test_log_counts_add_up_per_pattern_and_minute(store: StateStore) -> None:
    store.history.add_log_counts({("sqlite", CUTOVER): 2, ("crash", CUTOVER + MINUTE): 1})
    store.history.add_log_counts({("sqlite", CUTOVER): 3, ("sqlite", CUTOVER + 5 * MINUTE): 1})
    assert store.history.log_counts(CUTOVER) == {"sqlite": 6, "crash": 1}
    assert store.history.log_counts(CUTOVER + MINUTE, CUTOVER + 5 * MINUTE) == {"crash": 1}


def test_check_history_in_time_order(store: StateStore) -> None:
    rows = [
        HistoryRow(CUTOVER + MINUTE, "healthz", "OK", "db=postgresql", {"latency_seconds": 0.04}),
        HistoryRow(CUTOVER, "pg_info", "OK", "7/25", {"connections": 7.0}),
    ]
    store.history.keep(rows)
    assert store.history.observations() == [rows[1], rows[0]]
    assert store.history.observations("healthz") == [rows[0]]
    assert store.history.observations(since=CUTOVER + MINUTE) == [rows[0]]


def test_alertmanager_hears_of_firing_alerts_and_each_resolution_once(store: StateStore) -> None:
    firing = _alert("grants.table_privileges")
    resolved_at = CUTOVER + 10 * MINUTE
    resolved = _alert(
        "healthz.db_sqlite", status="resolved", resolved_at=resolved_at, alertmanager_done=False
    )
    blind = _alert("sentry.blind", severity="UNKNOWN")
    for record in (firing, resolved, blind):
        store.alerts.change(record.id, lambda old, r=record: AlertChange(r))  # type: ignore[misc]
    assert [a.id for a in store.alerts.alertmanager_pending()] == [firing.id, resolved.id]
    store.alerts.alertmanager_done([resolved.id], {resolved.id: resolved_at})
    assert [a.id for a in store.alerts.alertmanager_pending()] == [firing.id]


def test_threads_share_one_store(store: StateStore) -> None:
    errors: list[Exception] = []

    def keep(i: int) -> None:
        try:
            store.facts.keep_baseline(f"b{i}", str(i), CUTOVER)
            store.outbox.enqueue([Message("post", Notice.text(str(i)))], CUTOVER)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=keep, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert [store.facts.baseline(f"b{i}").value for i in range(20)] == [str(i) for i in range(20)]  # type: ignore[union-attr]
    assert sorted(int(m.notice.title) for m in store.outbox.messages() if m.notice) == list(
        range(20)
    )


def test_postgres_store_lives_in_schema_watcher_and_survives_a_broken_connection(
    pg_server: PgServer,
) -> None:
    with empty_database(pg_server) as database:
        store = StateStore.from_url(database.url)
        try:
            store.facts.keep_baseline("tables", "35", CUTOVER)
            with pg_server.admin(database.name) as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT table_schema, count(*) FROM information_schema.tables"
                    " WHERE table_name IN ('baselines', 'outbox', 'alerts') GROUP BY table_schema"
                )
                assert cur.fetchall() == [("watcher", 3)]
                # The server ends the store's session, as a restart or failover would.
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'cutover-watcher-state'"
                )
            assert store.facts.baseline("tables").value == "35"  # type: ignore[union-attr]
        finally:
            store.close()


def test_an_unreachable_postgres_store_is_an_error_without_the_password() -> None:
    store = StateStore.from_url("postgresql://watcher:s3cret-pw@127.0.0.1:9/state")
    with pytest.raises(StateStoreError) as raised:
        store.facts.baseline("tables")
    assert "s3cret-pw" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


def test_first_baseline_wins_and_survives_reopening(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    url = f"sqlite:///{tmp_path}/state/watcher.db"
    store = StateStore.from_url(url)
    assert store.facts.baseline("tables") is None
    store.facts.keep_baseline("tables", "35", CUTOVER)
    store.facts.keep_baseline("tables", "36", CUTOVER)
    store.close()
    kept = StateStore.from_url(url).facts.baseline("tables")
    assert kept is not None
    assert (kept.value, kept.observed_at) == ("35", CUTOVER)


def test_a_missing_directory_is_an_error_not_made(tmp_path: Path) -> None:
    store = StateStore.from_url(f"sqlite:///{tmp_path}/nowhere/watcher.db")
    with pytest.raises(StateStoreError) as raised:
        store.facts.keep_baseline("tables", "35", CUTOVER)
    assert str(raised.value) == (
        f"state store {tmp_path}/nowhere/watcher.db: its directory {tmp_path}/nowhere does not"
        " exist: create it, or fix WATCHER_STATE_URL"
    )
    assert not (tmp_path / "nowhere").exists()


def test_relative_url_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    store = StateStore.from_url("sqlite:///watcher-state.db")
    store.facts.keep_baseline("revision", "0001", CUTOVER)
    store.close()
    assert (tmp_path / "watcher-state.db").exists()


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    StateStore.sqlite(str(tmp_path / "s.db")).facts.baseline("x")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (26,)


def test_a_version_1_store_is_upgraded_and_keeps_its_baselines(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE baselines (name TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " observed_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO baselines VALUES ('tables', '35', ?)", (CUTOVER.isoformat(),))
        conn.execute("PRAGMA user_version = 1")
    store = StateStore.sqlite(str(path))
    assert store.facts.keep_watch_start(CUTOVER) == CUTOVER
    assert store.facts.baseline("tables").value == "35"  # type: ignore[union-attr]


def test_unusable_file_is_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateStoreError, match="not-a-db"):
        StateStore.sqlite(str(tmp_path / "not-a-db")).facts.baseline("tables")


def test_locked_store_is_an_error_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    StateStore.sqlite(str(path)).facts.baseline("x")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateStoreError, match="locked"):
            StateStore.sqlite(str(path), busy_timeout=0.1).facts.keep_baseline("x", "1", CUTOVER)
    finally:
        holder.rollback()
        holder.close()


def test_a_path_through_a_file_is_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(
        StateStoreError, match=r"state store .*file/state/x\.db: its directory .*/file/state does"
    ):
        StateStore.sqlite(str(tmp_path / "file" / "state" / "x.db")).facts.baseline("tables")


def test_two_processes_deciding_a_new_alert_fire_it_once(store: StateStore, store_url: str) -> None:
    other = StateStore.from_url(store_url)
    barrier = threading.Barrier(2, timeout=5)
    fired: list[int] = []

    def decide(old: AlertRecord | None) -> AlertChange | None:
        if old is not None:
            return None  # the other process fired it first
        fired.append(1)
        return AlertChange(_alert("healthz.db_sqlite"), [Message("post", Notice.text("page"))])

    def run(s: StateStore) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        s.alerts.change("healthz.db_sqlite", decide)

    threads = [threading.Thread(target=run, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    other.close()
    assert len(store.outbox.messages()) == 1
    assert fired == [1]


def test_four_watchers_starting_at_once_all_migrate(store_url: str) -> None:
    stores = [StateStore.from_url(store_url) for _ in range(4)]
    barrier = threading.Barrier(4, timeout=5)
    errors: list[Exception] = []

    def start(s: StateStore) -> None:
        barrier.wait()
        try:
            s.facts.keep_baseline("tables", "35", CUTOVER)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    for s in stores:
        s.close()
    assert errors == []


# -- issue 12: claims, counted lines, the upgrade of a store written before them --------------


def test_a_claimed_message_is_nobody_elses_until_its_lease_expires(store_url: str) -> None:
    one, two = StateStore.from_url(store_url), StateStore.from_url(store_url)
    try:
        (message_id,) = one.outbox.enqueue([Message("post", Notice.text("page"))], CUTOVER)
        lease = CUTOVER + 2 * MINUTE
        claimed = one.outbox.claim_next(CUTOVER, lease, "one")
        assert claimed is not None and claimed.id == message_id and not claimed.in_flight
        assert two.outbox.claim_next(CUTOVER + MINUTE, lease, "two") is None
        # The holder died: after the lease, another takes it over, and knows it may be out.
        taken = two.outbox.claim_next(lease, lease + 2 * MINUTE, "two")
        assert taken is not None and taken.in_flight
        two.outbox.set_sent(message_id, lease, "C1", "1.2")
        assert one.outbox.claim_next(lease + 10 * MINUTE, lease + 12 * MINUTE, "one") is None
    finally:
        one.close()
        two.close()


def test_a_retry_that_cannot_have_reached_slack_is_not_in_flight(store: StateStore) -> None:
    (message_id,) = store.outbox.enqueue([Message("post", Notice.text("page"))], CUTOVER)
    store.outbox.claim_next(CUTOVER, CUTOVER + MINUTE, "me")
    store.outbox.set_retry(message_id, CUTOVER, "http_503")
    assert not store.outbox.message(message_id).in_flight  # type: ignore[union-attr]
    store.outbox.claim_next(CUTOVER, CUTOVER + MINUTE, "me")
    store.outbox.set_retry(message_id, CUTOVER, "timeout", uncertain=True)
    assert store.outbox.message(message_id).in_flight  # type: ignore[union-attr]


def test_a_line_is_counted_once_whichever_store_handle_counts_it(store_url: str) -> None:
    one, two = StateStore.from_url(store_url), StateStore.from_url(store_url)
    try:
        match = LogMatchCount("permission_denied", CUTOVER, "ab" * 12)
        assert one.history.count_log_matches([match], CUTOVER) == [match]
        # A second watcher, or a restart's replay, reads the same line again.
        assert two.history.count_log_matches([match], CUTOVER + MINUTE) == []
        assert two.history.log_counts(CUTOVER) == {"permission_denied": 1}
        assert one.history.counted_lines(CUTOVER) == ["ab" * 12]
    finally:
        one.close()
        two.close()


def test_a_store_written_before_claims_opens_and_keeps_its_outbox(tmp_path: Path) -> None:
    from watcher.store import state

    path = tmp_path / "old.db"
    # The schema as today's released code leaves it: the first ten migrations.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for ddl in state._MIGRATIONS[:10]:
            conn.execute(ddl.replace("{serial}", "INTEGER PRIMARY KEY").replace("{float}", "REAL"))
        conn.execute("PRAGMA user_version = 10")
        conn.execute(
            "INSERT INTO outbox (channel, kind, payload, status, created_at, next_attempt_at,"
            " attempts) VALUES ('slack', 'post', '{\"text\": \"queued before\"}', 'pending',"
            f" {CUTOVER.timestamp()}, {CUTOVER.timestamp()}, 0)"
        )
        conn.commit()
    store = StateStore.sqlite(str(path))
    try:
        item = store.outbox.claim_next(CUTOVER, CUTOVER + MINUTE, "me")
        assert item is not None and item.payload == {"text": "queued before"}
        assert not item.in_flight
    finally:
        store.close()


def test_asking_whether_a_store_exists_creates_nothing(store_url: str, tmp_path: Path) -> None:
    store = StateStore.from_url(store_url)
    try:
        assert store.exists() is False
        assert store.exists() is False  # still nothing: asking did not create it
        store.facts.keep_watch_start(CUTOVER)
        assert store.exists() is True
    finally:
        store.close()
    if store_url.startswith("sqlite:///"):
        other = tmp_path / "not-a-store.txt"
        other.write_text("hello")
        # Not a store: an error that says so (the command exits 3 with it), the file untouched.
        with pytest.raises(StateStoreError, match="file is not a database"):
            StateStore.sqlite(str(other)).exists()
        assert other.read_text() == "hello"


def test_a_permalink_is_kept_with_its_message(store: StateStore) -> None:
    (message_id,) = store.outbox.enqueue([Message("post", Notice.text("hi"))], CUTOVER)
    link = "https://raxx.slack.com/archives/C0OPSALRT/p1747405862000100"
    store.outbox.keep_permalink(message_id, link)
    assert store.outbox.message(message_id).permalink == link  # type: ignore[union-attr]
