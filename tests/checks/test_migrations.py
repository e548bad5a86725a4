"""migrations against a real PostgreSQL: alembic_version present, empty, missing, changed."""

from __future__ import annotations

from checks import migrations
from checks.result import Baseline, State
from checks.sources.database import Database
from tests.support.postgres import REVISION, WatchedDatabase

BASELINE = Baseline(REVISION, "from WATCHER_EXPECTED_REVISION")


def test_current_revision_matching_baseline_is_ok(database: Database) -> None:
    revisions = migrations.probe(database)
    assert revisions == [REVISION]
    result = migrations.evaluate(revisions, BASELINE)
    assert result.state == State.OK
    assert REVISION in result.summary


def test_changed_revision_is_warning(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute("UPDATE alembic_version SET version_num = '0002_add_fills'")
    result = migrations.evaluate(migrations.probe(database), BASELINE)
    assert result.state == State.WARNING
    assert [f.id for f in result.findings] == ["migrations.changed"]
    assert "0002_add_fills" in result.summary and REVISION in result.summary


def test_empty_alembic_version_is_critical(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute("DELETE FROM alembic_version")
    result = migrations.evaluate(migrations.probe(database), BASELINE)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["migrations.missing"]
    assert "is empty" in result.summary


def test_missing_alembic_version_is_critical(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute("DROP TABLE alembic_version")
    result = migrations.evaluate(migrations.probe(database), BASELINE)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["migrations.missing"]
    assert "is missing" in result.summary


def test_branches_are_one_sorted_revision(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute("INSERT INTO alembic_version VALUES ('0000_branch')")
    assert migrations.revision_of(migrations.probe(database)) == f"0000_branch,{REVISION}"
