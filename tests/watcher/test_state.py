"""The SQLite state store: baselines kept once, across runs, and failures as errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.support.clock import CUTOVER
from watcher.state import StateStore, StateStoreError


def test_first_baseline_wins_and_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/watcher.db"
    store = StateStore.from_url(url)
    assert store.baseline("tables") is None
    store.keep_baseline("tables", "35", CUTOVER)
    store.keep_baseline("tables", "36", CUTOVER)
    store.close()
    kept = StateStore.from_url(url).baseline("tables")
    assert kept is not None
    assert (kept.value, kept.observed_at) == ("35", CUTOVER)


def test_relative_url_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    store = StateStore.from_url("sqlite:///watcher-state.db")
    store.keep_baseline("revision", "0001", CUTOVER)
    store.close()
    assert (tmp_path / "watcher-state.db").exists()


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    StateStore(str(tmp_path / "s.db")).baseline("x")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)


def test_a_version_1_store_is_upgraded_and_keeps_its_baselines(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE baselines (name TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " observed_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO baselines VALUES ('tables', '35', ?)", (CUTOVER.isoformat(),))
        conn.execute("PRAGMA user_version = 1")
    store = StateStore(str(path))
    assert store.keep_watch_start(CUTOVER) == CUTOVER
    assert store.baseline("tables").value == "35"  # type: ignore[union-attr]


def test_watch_start_is_kept_once(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path / "s.db"))
    assert store.watch_start() is None
    assert store.keep_watch_start(CUTOVER) == CUTOVER
    assert store.keep_watch_start(CUTOVER.replace(hour=20)) == CUTOVER
    assert store.watch_start() == CUTOVER


def test_unusable_file_is_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateStoreError, match="not-a-db"):
        StateStore(str(tmp_path / "not-a-db")).baseline("tables")


def test_locked_store_is_an_error_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    StateStore(str(path)).baseline("x")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateStoreError, match="locked"):
            StateStore(str(path), busy_timeout=0.1).keep_baseline("x", "1", CUTOVER)
    finally:
        holder.rollback()
        holder.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path / "s.db"))
    errors: list[Exception] = []

    def keep(i: int) -> None:
        try:
            store.keep_baseline(f"b{i}", str(i), CUTOVER)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=keep, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert errors == []
    assert [store.baseline(f"b{i}").value for i in range(20)] == [str(i) for i in range(20)]  # type: ignore[union-attr]


def test_a_directory_that_cannot_be_created_is_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateStoreError, match=r"state store .*file/state/x\.db: Not a directory"):
        StateStore(str(tmp_path / "file" / "state" / "x.db")).baseline("tables")
