"""Every finding id the SPEC names gets its own runbook section and next step."""

from __future__ import annotations

import pytest

from watcher.alerting.runbook import Runbook

advice = Runbook().advice

FALLBACK = "see runbook RM-10 Section 7"
SPEC_FINDINGS = [
    "healthz.db_sqlite",
    "healthz.db_unexpected",
    "healthz.unhealthy",
    "healthz.maintenance",
    "healthz.http_status",
    "healthz.bad_body",
    "healthz.unreachable",
    "healthz.timeout",
    "healthz.slow",
    "logs.permission_denied",
    "logs.role_missing",
    "logs.sqlite",
    "logs.too_many_connections",
    "logs.crash",
    "logs.restart_loop",
    "logs.operational_error",
    "logs.programming_error",
    "logs.memory",
    "logs.request_timeout",
    "logs.stream",
    "sentry.4100",
    "pg_info.status",
    "pg_info.connections",
    "pg_info.plan",
    "pg_connections.connections",
    "tables.fewer",
    "tables.more",
    "grants.role_missing",
    "grants.role_nologin",
    "grants.table_privileges",
    "grants.sequence_usage",
    "grants.migration_tables",
    "migrations.missing",
    "migrations.changed",
    "pg_activity.sequence_behind",
    "pg_activity.long_query",
    "pg_activity.idle_in_transaction",
    "pg_activity.blocked",
    "pg_activity.not_analyzed",
    "pg_activity.visibility",
]


@pytest.mark.parametrize("finding_id", SPEC_FINDINGS)
def test_each_finding_has_specific_advice(finding_id: str) -> None:
    tips = advice(finding_id)
    assert tips.next_step != FALLBACK
    assert tips.sop[0].isdigit()


def test_grant_drift_says_what_the_issue_asks() -> None:
    assert advice("logs.permission_denied").next_step == (
        "grant drift: re-run step 4.6 grants; RM-11 stays closed"
    )


def test_a_sequence_behind_gives_the_setval_statement_to_run() -> None:
    assert "run `SELECT setval('<sequence>', (SELECT max(<column>) FROM <table>));`" in (
        advice("pg_activity.sequence_behind").next_step
    )


def test_each_pg_activity_kind_has_its_own_advice() -> None:
    kinds = ("sequence_behind", "long_query", "idle_in_transaction", "blocked", "not_analyzed")
    steps = {advice(f"pg_activity.{kind}").next_step for kind in kinds}
    assert len(steps) == len(kinds)


def test_an_unknown_id_falls_back_to_section_7() -> None:
    assert advice("nothing.known").next_step == FALLBACK
    assert advice("sentry.blind").sop == "7"
