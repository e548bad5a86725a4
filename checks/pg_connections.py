"""`pg_connections`: client backends on the whole server against the limit (SOP 7.3)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.check import Check, Doc, GaugeSpec, Need
from checks.pg_info import CONNECTIONS_ADVICE
from checks.result import Observation, Result
from checks.sources.connection_limit import (
    ConnectionThresholds,
    evaluate_connections,
    thresholds_of,
)
from checks.sources.database import Database

NAME = "pg_connections"
SOP = "7.3"

# Without pg_read_all_stats (Heroku's owner credential on Essential plans, a credential made
# by pg:credentials:create), other roles' rows show backend_type as NULL but keep datid and
# usesysid: a row with a database and a user is a client. Background workers have no user;
# autovacuum workers no user either.
_COUNT = """
SELECT
  (SELECT count(*) FROM pg_stat_activity
   WHERE backend_type = 'client backend'
      OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL)),
  current_setting('max_connections')::int
    - current_setting('superuser_reserved_connections')::int
"""


@dataclass(frozen=True)
class PgConnectionsObservation(Observation):
    """Client backends on the server, and the server's limit for them."""

    connections: int
    server_limit: int


def check(db: Database, thresholds: ConnectionThresholds) -> Result:
    """Count every client backend, the watcher's own included, across all databases."""
    return evaluate(probe(db), thresholds)


def probe(db: Database) -> PgConnectionsObservation:
    """The server-wide count of client backends and `max_connections` less the reserved."""
    ((used, server_limit),) = db.query(_COUNT)
    return PgConnectionsObservation(int(used), int(server_limit))


def evaluate(counted: PgConnectionsObservation, thresholds: ConnectionThresholds) -> Result:
    """At or over a ratio of the effective limit: WARNING, then CRITICAL."""
    finding, summary = evaluate_connections(
        f"{NAME}.connections",
        counted.connections,
        thresholds,
        counted.server_limit,
        "server",
        counted="counted server-wide, this watcher's own included",
    )
    return Result.from_findings([finding] if finding else [], summary, counted)


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.DATABASE,),
    probe=lambda sources: probe(sources.database()),
    evaluate=lambda counted, sources: evaluate(counted, thresholds_of(sources.settings)),
    advice=(("", CONNECTIONS_ADVICE),),
    gauges=(
        GaugeSpec(
            "watcher_pg_connections",
            "connections on the watched PostgreSQL",
            "connections",
            (("check", NAME),),
        ),
    ),
    doc=Doc(
        "`pg_stat_activity`, server-wide",
        "at or over 80% of the effective limit",
        "at or over 60%",
    ),
)
