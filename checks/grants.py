"""`grants`: the app role's privileges as runbook step 4.6 set them up (SOP 4.6, 7.3)."""

from __future__ import annotations

from checks.database import Database
from checks.result import Finding, Result, State

NAME = "grants"
SOP = "4.6, 7.3"

MIGRATION_TABLES = ("alembic_version", "schema_migrations")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# has_table_privilege with a list answers "any of these": all a role could hold on a table.
_ANY_PRIVILEGE = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
_NAMES_SHOWN = 8

_ROLE = "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s"
_TABLES = """
SELECT c.relname,
       has_table_privilege(r.oid, c.oid, 'SELECT'),
       has_table_privilege(r.oid, c.oid, 'INSERT'),
       has_table_privilege(r.oid, c.oid, 'UPDATE'),
       has_table_privilege(r.oid, c.oid, 'DELETE'),
       has_table_privilege(r.oid, c.oid, %s)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN pg_roles r
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND r.rolname = %s
ORDER BY c.relname
"""
_SEQUENCES = """
SELECT c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN pg_roles r
WHERE n.nspname = 'public' AND c.relkind = 'S' AND r.rolname = %s
  AND NOT has_sequence_privilege(r.oid, c.oid, 'USAGE')
ORDER BY c.relname
"""


def check(db: Database, role: str) -> Result:
    """Login, DML on every application table, USAGE on sequences, nothing on migration tables."""
    rows = db.query(_ROLE, (role,))
    if not rows:
        return Result.from_findings(
            [
                Finding(
                    f"{NAME}.role_missing",
                    State.CRITICAL,
                    f'role "{role}" does not exist: re-run steps 4.4-4.6',
                )
            ],
            "",
        )
    findings: list[Finding] = []
    if not rows[0][0]:
        findings.append(
            Finding(
                f"{NAME}.role_nologin",
                State.CRITICAL,
                f'role "{role}" cannot log in (rolcanlogin is false): the app cannot connect',
            )
        )
    drifted: list[str] = []
    migration_access: list[str] = []
    app_tables = 0
    for name, *privileges, any_privilege in db.query(_TABLES, (_ANY_PRIVILEGE, role)):
        if name in MIGRATION_TABLES:
            if any_privilege:
                migration_access.append(name)
            continue
        app_tables += 1
        lacking = [p for p, held in zip(TABLE_PRIVILEGES, privileges, strict=True) if not held]
        if lacking:
            drifted.append(f"{name} ({', '.join(lacking)})")
    if drifted:
        findings.append(
            Finding(
                f"{NAME}.table_privileges",
                State.CRITICAL,
                f"{role} lacks privileges on {len(drifted)} table(s): {_names(drifted)}"
                " (grant drift: re-run step 4.6 grants)",
            )
        )
    sequences = [str(r[0]) for r in db.query(_SEQUENCES, (role,))]
    if sequences:
        findings.append(
            Finding(
                f"{NAME}.sequence_usage",
                State.CRITICAL,
                f"{role} lacks USAGE on {len(sequences)} sequence(s): {_names(sequences)}"
                " (INSERTs into serial columns fail: re-run step 4.6 grants)",
            )
        )
    if migration_access:
        findings.append(
            Finding(
                f"{NAME}.migration_tables",
                State.CRITICAL,
                f"{role} has privileges on {', '.join(migration_access)}"
                " (step 4.6 revokes them: the app could stamp a migration)",
            )
        )
    metrics = {
        "application_tables": float(app_tables),
        "tables_drifted": float(len(drifted)),
        "sequences_without_usage": float(len(sequences)),
    }
    ok = f"{role} can log in and holds the 4.6 grants on {app_tables} application tables"
    return Result.from_findings(findings, ok, metrics)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
