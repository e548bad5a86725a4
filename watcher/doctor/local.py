"""database (the watched PostgreSQL, read only) and state (the watcher's own store)."""

from __future__ import annotations

from checks import grants
from checks.result import CheckError
from checks.sources.database import Database, DatabaseOptions
from watcher.doctor.rows import Context, Row, fail, ok, skip
from watcher.store.state import StateStore, StateStoreError

_WHO = (
    "SELECT current_setting('server_version'), current_user,"
    " current_setting('transaction_read_only')"
)
_SEES_ROLES = "SELECT count(*) FROM pg_roles"
# pg_monitor (or pg_read_all_stats, or a superuser) lets pg_stat_activity show other roles'
# sessions: without it their state and queries are hidden from pg_activity.
_SEES_SESSIONS = (
    "SELECT pg_has_role('pg_read_all_stats', 'USAGE')"
    " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
)


def database_row(ctx: Context) -> Row:
    settings = ctx.settings
    if settings.database_url is None:
        return skip("database", "WATCHER_DATABASE_URL (or DATABASE_URL)")
    options = DatabaseOptions(
        settings.database_url.get_secret_value(),
        connect_timeout=ctx.timeout,
        statement_timeout=ctx.timeout,
        budget=ctx.timeout * 3,
    )
    db = Database(options, ctx.clock)
    role = settings.app_role
    try:
        try:
            version, user, read_only = db.query(_WHO)[0]
        except CheckError as exc:
            return fail(
                "database",
                str(exc),
                "check WATCHER_DATABASE_URL (heroku config:get DATABASE_URL -a <app>)",
            )
        try:
            db.query(_SEES_ROLES)
        except CheckError as exc:
            return fail(
                "database",
                f"{user} cannot read pg_roles ({exc}): the grants check cannot work",
                f"GRANT SELECT ON pg_catalog.pg_roles TO {user}, or use the database's default"
                " credential",
            )
        try:
            held = grants.probe(db, role)
        except CheckError as exc:
            return fail(
                "database",
                f"{user} cannot read {role}'s privileges ({exc})",
                f"use a credential that can read information_schema and {role}'s grants",
            )
        if held.can_login is None:
            return fail(
                "database",
                f'role "{role}" does not exist in this database',
                "set WATCHER_APP_ROLE to the app's role (RM-10 4.4), or create it first",
            )
        session = "a read-only session" if read_only == "on" else "NOT read-only"
        shown = (
            f"PostgreSQL {version} as {user} ({session}); sees pg_roles and"
            f" {role}'s privileges on {len(held.tables)} tables"
        )
        (sees_sessions,) = db.query(_SEES_SESSIONS)[0]
        if not sees_sessions:
            return fail(
                "database",
                f"{shown}; cannot see other roles' sessions",
                f"grant pg_monitor to see other sessions: GRANT pg_monitor TO {user}"
                " (Heroku's default credential has it)",
            )
        return ok("database", f"{shown} and other roles' sessions")
    finally:
        db.close()


def state_row(ctx: Context) -> Row:
    url = ctx.settings.state_url.get_secret_value()
    kind = "PostgreSQL" if url.startswith(("postgres://", "postgresql://")) else "SQLite"
    fix = (
        "give WATCHER_STATE_URL's credential CREATE and write rights on its own database"
        if kind == "PostgreSQL"
        else "point WATCHER_STATE_URL at a writable file (on Heroku: a postgresql:// URL)"
    )
    store = StateStore.from_url(url)
    try:
        try:
            existed = store.exists()
        except StateStoreError as exc:
            return fail("state", f"unreachable: {exc}", fix)
        try:
            store.try_write()
            version, latest = store.schema_version()
        except StateStoreError as exc:
            return fail("state", f"{kind} store not writable: {exc}", fix)
    finally:
        store.close()
    created = "" if existed else " (created now)"
    note = "" if kind == "PostgreSQL" else "; a dyno's file is lost at restart: use postgresql://"
    return ok(
        "state", f"{kind} store reachable and writable{created}, schema {version}/{latest}{note}"
    )
