"""`grants`: the app role's privileges as runbook step 4.6 set them up (SOP 4.6, 7.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.check import GATE, Advice, Check, Doc, Need
from checks.result import Finding, Observation, Result, State
from checks.sources.database import Database

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


@dataclass(frozen=True)
class Privileges:
    """What the probe read: whether the role logs in (None: no such role), and its grants."""

    can_login: bool | None
    # (table, [SELECT, INSERT, UPDATE, DELETE held], any privilege held) per table in public
    tables: list[tuple[str, list[bool], bool]] = field(default_factory=list)
    sequences_without_usage: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GrantsObservation(Observation):
    """How many application tables, how many lack a 4.6 privilege, sequences lacking USAGE."""

    application_tables: int
    tables_drifted: int
    sequences_without_usage: int


def check(db: Database, role: str) -> Result:
    """Login, DML on every application table, USAGE on sequences, nothing on migration tables."""
    return evaluate(probe(db, role), role)


def probe(db: Database, role: str) -> Privileges:
    """The role's login and its privileges on the tables and sequences of `public`."""
    rows = db.query(_ROLE, (role,))
    if not rows:
        return Privileges(None)
    tables = [
        (str(name), [bool(p) for p in privileges], bool(any_privilege))
        for name, *privileges, any_privilege in db.query(_TABLES, (_ANY_PRIVILEGE, role))
    ]
    sequences = [str(r[0]) for r in db.query(_SEQUENCES, (role,))]
    return Privileges(bool(rows[0][0]), tables, sequences)


def evaluate(held: Privileges, role: str) -> Result:
    """Findings for what step 4.6 granted (or revoked) and the role no longer has."""
    if held.can_login is None:
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
    if not held.can_login:
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
    for name, privileges, any_privilege in held.tables:
        if name in MIGRATION_TABLES:
            if any_privilege:
                migration_access.append(name)
            continue
        app_tables += 1
        lacking = [p for p, ok in zip(TABLE_PRIVILEGES, privileges, strict=True) if not ok]
        if lacking:
            drifted.append(f"{name} ({', '.join(lacking)})")
    if drifted:
        findings.append(
            Finding(
                f"{NAME}.table_privileges",
                State.CRITICAL,
                f"{role} lacks privileges on {len(drifted)} table(s): {_names(drifted)}"
                " (grant drift)",
            )
        )
    sequences = held.sequences_without_usage
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
    observed = GrantsObservation(app_tables, len(drifted), len(sequences))
    ok = f"{role} can log in and holds the 4.6 grants on {app_tables} application tables"
    return Result.from_findings(findings, ok, observed)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.DATABASE,),
    probe=lambda sources: probe(sources.database(), sources.settings.app_role),
    evaluate=lambda held, sources: evaluate(held, sources.settings.app_role),
    advice=(
        (
            "migration_tables",
            Advice(
                "4.6", f"the app role can touch migration tables: re-run the 4.6 REVOKEs; {GATE}"
            ),
        ),
        (
            "role_",
            Advice(
                "4.4, 4.6", f"the app role is missing or cannot log in: recreate it (4.4); {GATE}"
            ),
        ),
        ("", Advice("4.6, 7.3", f"grant drift: re-run step 4.6 grants; {GATE}")),
    ),
    doc=Doc(
        "`has_table_privilege`, `has_sequence_privilege`, `pg_roles`",
        "app role missing or cannot log in; a missing SELECT/INSERT/UPDATE/DELETE on an"
        " application table or USAGE on a sequence; any privilege on"
        " `alembic_version`/`schema_migrations`",
    ),
)
