"""tables against a real PostgreSQL: the runbook's count against its baseline."""

from __future__ import annotations

from checks import tables
from checks.result import Baseline, State
from checks.sources.database import Database
from tests.support.postgres import WatchedDatabase
from tests.support.runbook_schema import TABLE_COUNT

BASELINE = Baseline(str(TABLE_COUNT), "from WATCHER_EXPECTED_TABLES")


def test_runbook_schema_has_35_tables(database: Database) -> None:
    assert tables.probe(database) == TABLE_COUNT == 35


def test_same_count_as_baseline_is_ok(database: Database) -> None:
    result = tables.evaluate(tables.probe(database), BASELINE)
    assert result.state == State.OK
    assert result.metrics == {"tables": 35.0, "baseline": 35.0}
    assert "35 tables" in result.summary and "WATCHER_EXPECTED_TABLES" in result.summary


def test_dropped_table_is_critical(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute("DROP TABLE backup_codes")
    result = tables.evaluate(tables.probe(database), BASELINE)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["tables.fewer"]
    assert "34 tables" in result.summary and "1 fewer" in result.summary


def test_added_table_is_warning(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute("SET ROLE raxx_owner", "CREATE TABLE scratch (id int)")
    result = tables.evaluate(tables.probe(database), BASELINE)
    assert result.state == State.WARNING
    assert [f.id for f in result.findings] == ["tables.more"]
    assert "1 more" in result.summary
