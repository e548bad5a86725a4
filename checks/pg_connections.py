"""`pg_connections`: client backends on the whole server against the limit (SOP 7.3)."""

from __future__ import annotations

from checks.connection_limit import ConnectionThresholds, evaluate_connections
from checks.database import Database
from checks.result import Result

NAME = "pg_connections"
SOP = "7.3"

_COUNT = """
SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
  current_setting('max_connections')::int
    - current_setting('superuser_reserved_connections')::int
"""


def check(db: Database, thresholds: ConnectionThresholds) -> Result:
    """Count every client backend, the watcher's own included, across all databases."""
    ((used, server_limit),) = db.query(_COUNT)
    finding, summary = evaluate_connections(
        f"{NAME}.connections", int(used), thresholds, int(server_limit), "server"
    )
    metrics = {"connections": float(used), "server_limit": float(server_limit)}
    summary += " (server-wide client backends, this watcher's own included)"
    if finding is None:
        return Result.from_findings((), summary, metrics)
    return Result.from_findings([finding], summary, metrics)
