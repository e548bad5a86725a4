"""`pg_connections`: client backends on the whole server against the limit (SOP 7.3)."""

from __future__ import annotations

from checks.connection_limit import ConnectionThresholds, evaluate_connections
from checks.database import Database
from checks.result import Result

NAME = "pg_connections"
SOP = "7.3"

# Without pg_read_all_stats (Heroku's owner credential has none), other roles' rows show
# backend_type as NULL but keep datid and usesysid: a row with a database and a user is a
# client. Background workers have no user; autovacuum workers no user either.
_COUNT = """
SELECT
  (SELECT count(*) FROM pg_stat_activity
   WHERE backend_type = 'client backend'
      OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL)),
  current_setting('max_connections')::int
    - current_setting('superuser_reserved_connections')::int
"""


def check(db: Database, thresholds: ConnectionThresholds) -> Result:
    """Count every client backend, the watcher's own included, across all databases."""
    ((used, server_limit),) = db.query(_COUNT)
    finding, summary = evaluate_connections(
        f"{NAME}.connections",
        int(used),
        thresholds,
        int(server_limit),
        "server",
        counted="counted server-wide, this watcher's own included",
    )
    metrics = {"connections": float(used), "server_limit": float(server_limit)}
    return Result.from_findings([finding] if finding else [], summary, metrics)
