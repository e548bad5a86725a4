"""grants against a real PostgreSQL with runbook step 4.6 applied, then broken."""

from __future__ import annotations

from checks import grants
from checks.result import State
from checks.sources.database import Database
from tests.support.postgres import WatchedDatabase
from tests.support.runbook_schema import APP_TABLES


def ids(db: Database, role: str) -> list[str]:
    return [f.id for f in grants.check(db, role).findings]


def test_runbook_grants_are_ok(database: Database, watched_db: WatchedDatabase) -> None:
    result = grants.check(database, watched_db.app_role)
    assert result.state == State.OK
    assert result.metrics["application_tables"] == len(APP_TABLES)
    assert f"{len(APP_TABLES)} application tables" in result.summary


def test_revoked_insert_names_the_table(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute(f"REVOKE INSERT ON historical_bars FROM {watched_db.app_role}")
    result = grants.check(database, watched_db.app_role)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["grants.table_privileges"]
    assert "historical_bars (INSERT)" in result.summary
    # What to do is the alert's advice, said once in Slack, not repeated in the summary.
    assert result.summary.endswith("historical_bars (INSERT) (grant drift)")
    assert result.metrics["tables_drifted"] == 1


def test_each_drifted_table_is_named_with_what_it_lacks(
    database: Database, watched_db: WatchedDatabase
) -> None:
    role = watched_db.app_role
    watched_db.execute(
        f"REVOKE DELETE, UPDATE ON users FROM {role}",
        f"REVOKE ALL ON paper_orders FROM {role}",
    )
    summary = grants.check(database, role).summary
    assert "2 table(s)" in summary
    assert "paper_orders (SELECT, INSERT, UPDATE, DELETE)" in summary
    assert "users (UPDATE, DELETE)" in summary


def test_many_drifted_tables_are_summarised(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute(f"REVOKE INSERT ON ALL TABLES IN SCHEMA public FROM {watched_db.app_role}")
    result = grants.check(database, watched_db.app_role)
    assert result.metrics["tables_drifted"] == len(APP_TABLES)
    assert f"and {len(APP_TABLES) - 8} more" in result.summary


def test_a_table_added_without_grants_is_drift(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute(
        "SET ROLE raxx_owner", "CREATE TABLE trade_journal (id BIGSERIAL PRIMARY KEY)"
    )
    assert ids(database, watched_db.app_role) == [
        "grants.table_privileges",
        "grants.sequence_usage",
    ]
    summary = grants.check(database, watched_db.app_role).summary
    assert "trade_journal (SELECT, INSERT, UPDATE, DELETE)" in summary
    assert "trade_journal_id_seq" in summary


def test_missing_sequence_usage(database: Database, watched_db: WatchedDatabase) -> None:
    watched_db.execute(f"REVOKE USAGE ON SEQUENCE paper_orders_id_seq FROM {watched_db.app_role}")
    result = grants.check(database, watched_db.app_role)
    assert [f.id for f in result.findings] == ["grants.sequence_usage"]
    assert "paper_orders_id_seq" in result.summary


def test_any_privilege_on_alembic_version_is_critical(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute(f"GRANT SELECT ON alembic_version TO {watched_db.app_role}")
    result = grants.check(database, watched_db.app_role)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["grants.migration_tables"]
    assert "alembic_version" in result.summary


def test_privilege_through_public_on_schema_migrations_counts(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute("GRANT UPDATE ON schema_migrations TO PUBLIC")
    result = grants.check(database, watched_db.app_role)
    assert [f.id for f in result.findings] == ["grants.migration_tables"]
    assert "schema_migrations" in result.summary


def test_dropped_role_is_role_missing(database: Database, watched_db: WatchedDatabase) -> None:
    role = watched_db.app_role
    watched_db.execute(f"DROP OWNED BY {role}", f"DROP ROLE {role}")
    result = grants.check(database, role)
    assert result.state == State.CRITICAL
    assert [f.id for f in result.findings] == ["grants.role_missing"]
    assert f'role "{role}" does not exist' in result.summary


def test_role_without_login_is_role_nologin(
    database: Database, watched_db: WatchedDatabase
) -> None:
    watched_db.execute(f"ALTER ROLE {watched_db.app_role} NOLOGIN")
    result = grants.check(database, watched_db.app_role)
    assert [f.id for f in result.findings] == ["grants.role_nologin"]
    assert "cannot log in" in result.summary
