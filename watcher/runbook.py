"""What the runbook (RM-10) says to do about each finding: its section and the next step."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Advice:
    """The runbook sections a finding belongs to, and the next step for whoever is paged."""

    sop: str
    next_step: str


_GATE = "RM-11 stays closed"
_ROLLBACK = "fix forward, or roll back (Section 6: only while `users` has no customer rows)"

# By finding id, most specific first: the first prefix that matches gives the advice.
_ADVICE: tuple[tuple[str, Advice], ...] = (
    (
        "healthz.db_sqlite",
        Advice(
            "5.1, 7.3", f"the app runs on SQLite again: check DATABASE_URL; {_ROLLBACK}; {_GATE}"
        ),
    ),
    (
        "healthz.db_unexpected",
        Advice("5.1", f"healthz names an unexpected database: check DATABASE_URL (4.8); {_GATE}"),
    ),
    (
        "healthz.maintenance",
        Advice("4.9, 5.1", "maintenance mode is on: turn it off only once healthz passes (4.9)"),
    ),
    (
        "healthz.slow",
        Advice(
            "7.1", "healthz is slow: look at pg:info connections and the router's service times"
        ),
    ),
    (
        "healthz.",
        Advice("5.1, 7.3", f"the API is failing: read `heroku logs` for the reason (5.1); {_GATE}"),
    ),
    (
        "logs.permission_denied",
        Advice("4.6, 7.3", f"grant drift: re-run step 4.6 grants; {_GATE}"),
    ),
    (
        "logs.role_missing",
        Advice("4.4, 4.8", f"the app role is gone: recreate it (4.4), re-run 4.6; {_ROLLBACK}"),
    ),
    (
        "logs.sqlite",
        Advice("7.1, 7.2", f"SQLite in the logs: the app writes to an ephemeral file; {_ROLLBACK}"),
    ),
    (
        "logs.too_many_connections",
        Advice(
            "7.3", f"connections exhausted: find the pool leak (pg:info, pg_stat_activity); {_GATE}"
        ),
    ),
    (
        "logs.crash",
        Advice("2.3, 5.5", f"the dyno crashed: read the crash in the logs; {_ROLLBACK}; {_GATE}"),
    ),
    (
        "logs.restart_loop",
        Advice("2.3", f"the dyno is in a restart loop: read why it stops; {_ROLLBACK}; {_GATE}"),
    ),
    (
        "logs.stream",
        Advice(
            "7.1", "the log stream broke: the watcher reconnects; `heroku logs --tail` meanwhile"
        ),
    ),
    (
        "logs.",
        Advice("7.1", f"errors after the cutover: open them in Sentry and the logs; {_GATE}"),
    ),
    (
        "sentry.",
        Advice(
            "5.5, 7.4", f"a new error since the cutover: triage it in Sentry; {_ROLLBACK}; {_GATE}"
        ),
    ),
    (
        "pg_info.status",
        Advice("1.3, 7.3", f"Postgres is not Available: STOP and wait for Heroku support; {_GATE}"),
    ),
    (
        "pg_info.plan",
        Advice("1.3", "the database is not on Standard 0: check the plan the runbook assumes"),
    ),
    (
        "pg_info.connections",
        Advice("7.3", f"connections near the limit: find the pool leak; page the on-call; {_GATE}"),
    ),
    (
        "pg_connections.",
        Advice("7.3", f"connections near the limit: find the pool leak; page the on-call; {_GATE}"),
    ),
    (
        "grants.migration_tables",
        Advice("4.6", f"the app role can touch migration tables: re-run the 4.6 REVOKEs; {_GATE}"),
    ),
    (
        "grants.role_",
        Advice("4.4, 4.6", f"the app role is missing or cannot log in: recreate it (4.4); {_GATE}"),
    ),
    (
        "grants.",
        Advice("4.6, 7.3", f"grant drift: re-run step 4.6 grants; {_GATE}"),
    ),
    (
        "tables.",
        Advice(
            "7.2, 5.4", f"the table count moved from the baseline: compare with step 4.2; {_GATE}"
        ),
    ),
    (
        "migrations.",
        Advice(
            "4.10, 5.4", "the alembic revision differs from 4.10: re-run step 4.1 if below head"
        ),
    ),
)

BLIND = Advice("7", "the watch cannot see this source: fix what the summary names")


def advice(alert_id: str) -> Advice:
    """The runbook's advice for a finding id (or `<check>.blind`)."""
    if alert_id.endswith(".blind"):
        return BLIND
    return next(
        (a for prefix, a in _ADVICE if alert_id.startswith(prefix)),
        Advice("7", "see runbook RM-10 Section 7"),
    )
