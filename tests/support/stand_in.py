"""A local stand-in of production: every fake on 127.0.0.1, and a throwaway PostgreSQL.

Used by `scripts/try-locally` (runs `watcher once` against it) and `scripts/fakes` (serves it
until stopped). `environment()` is what points the watcher, and the real Heroku CLI, at it.
The cutover was two hours ago; options break it the ways production breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.heroku import FakeHeroku
from tests.fakes.log_lines import postgres_metrics_line, router_line
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.postgres import (
    PgServer,
    WatchedDatabase,
    limited_credential,
    prepare_server,
    throwaway_server,
    watched_database,
)
from tests.support.sessions import SESSIONS, app_sessions

BREAKAGES = {
    "grant": "REVOKE INSERT ON historical_bars FROM {role}",
    "alembic-grant": "GRANT SELECT ON alembic_version TO {role}",
    "nologin": "ALTER ROLE {role} NOLOGIN",
    "table": "DROP TABLE backup_codes",
    "revision": "UPDATE alembic_version SET version_num = '0002_unexpected'",
    # A data copy with explicit ids: users_id_seq stays at 1 (pg_activity.sequence_behind).
    "sequence": "INSERT INTO users (id, payload) SELECT g, '{{}}' FROM generate_series(1, 50) g",
    # Rows the planner has no statistics for (pg_activity.not_analyzed; autovacuum is off here).
    "analyze": "INSERT INTO historical_bars (payload) SELECT '{{}}' FROM generate_series(1, 1500)",
}
INCIDENT_LINES = {
    "quiet": None,
    "grant-drift": "app[web.1]: psycopg2.errors.InsufficientPrivilege:"
    " permission denied for table historical_bars",
    "memory": "heroku[web.2]: Error R14 (Memory quota exceeded)",
}
PG_INFO = {
    "healthy": ("Available", "7/120"),
    "busy": ("Available", "21/120"),
    "over-capacity": ("Over Plan Capacity: Action Required", "7/120"),
}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ways to break the stand-in, shared by both scripts."""
    parser.add_argument(
        "--healthz",
        choices=["postgresql", "sqlite", "maintenance"],
        default="postgresql",
        help="what /healthz answers",
    )
    parser.add_argument(
        "--sentry",
        choices=["clean", "unrelated", "operational"],
        default="clean",
        help="what Sentry holds since the cutover",
    )
    parser.add_argument(
        "--log",
        choices=sorted(INCIDENT_LINES),
        default="quiet",
        help="what the app's log shows in the last minutes",
    )
    parser.add_argument(
        "--pg", choices=sorted(PG_INFO), default="healthy", help="what Heroku's pg:info says"
    )
    parser.add_argument(
        "--break",
        dest="breakages",
        action="append",
        default=[],
        choices=sorted(BREAKAGES),
        help="break the database this way (repeatable)",
    )
    parser.add_argument(
        "--session",
        dest="sessions",
        action="append",
        default=[],
        choices=SESSIONS,
        help="hold an app session in this state (repeatable); set WATCHER_PG_*_SECONDS low"
        " (e.g. 1) to see it reported",
    )
    parser.add_argument(
        "--session-age",
        type=float,
        default=2.0,
        help="seconds the sessions are held before the stand-in is ready (default 2)",
    )
    parser.add_argument(
        "--credential",
        choices=["owner", "limited"],
        default="owner",
        help="the watcher's credential: the owner (a member of pg_monitor, as on Heroku's"
        " production plans) or one made by pg:credentials:create (no pg_monitor)",
    )


@dataclass
class StandIn:
    """The running stand-in: each fake, the watched database, and T0."""

    healthz: FakeHealthz
    sentry: FakeSentry
    heroku: FakeHeroku
    logplex: FakeLogplex
    slack: FakeSlack
    database: WatchedDatabase
    cutover: datetime
    # The watcher's credential: the owner's, or a limited one (--credential).
    database_url: str

    def environment(self) -> dict[str, str]:
        """The watcher's settings, and the Heroku CLI's, pointing at the stand-in."""
        return {
            "DATABASE_URL": self.database_url,
            "WATCHER_APP": heroku_fake.APP,
            "WATCHER_APP_ROLE": self.database.app_role,
            "WATCHER_HEALTHZ_URL": self.healthz.healthz_url,
            "WATCHER_EXPECTED_TABLES": "35",
            "WATCHER_EXPECTED_REVISION": "0001_raptor_baseline",
            "WATCHER_CUTOVER_AT": self.cutover.isoformat(),
            "WATCHER_SENTRY_API_URL": self.sentry.url,
            "WATCHER_SENTRY_ORG": sentry_fake.ORG,
            "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "WATCHER_HEROKU_API_URL": self.heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": self.heroku.url,
            "SLACK_BOT_TOKEN": slack_fake.TOKEN,
            "WATCHER_SLACK_API_URL": self.slack.api_url,
            "WATCHER_SLACK_CHANNEL": slack_fake.CHANNEL,
            # The real Heroku CLI: the Data API's host name only; its scheme and port are
            # HEROKU_HOST's, so both APIs are served on one port.
            "HEROKU_HOST": self.heroku.url,
            "HEROKU_DATA_HOST": urlsplit(self.heroku.url).hostname or "127.0.0.1",
        }


def _server() -> contextlib.AbstractContextManager[PgServer]:
    """WATCHER_TEST_DATABASE_URL (a superuser URL) if set, as the tests do; else a throwaway one."""
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    return contextlib.nullcontext(PgServer(url)) if url else throwaway_server()


def _app_role() -> str | None:
    """The runbook's role name on a throwaway server; a unique one on a shared server."""
    return None if os.environ.get("WATCHER_TEST_DATABASE_URL") else "raptor_app"


@contextlib.contextmanager
def stand_in(args: argparse.Namespace) -> Iterator[StandIn]:
    """Every fake started and filled as `args` says (see `add_options`), until the end."""
    with (
        _server() as server,
        FakeHealthz() as healthz,
        FakeSentry() as sentry,
        FakeHeroku() as heroku,
        FakeLogplex() as logplex,
        FakeSlack() as slack,
    ):
        prepare_server(server)
        with watched_database(server, _app_role()) as db:
            healthz.reply = {
                "postgresql": healthy(),
                "sqlite": healthy(db="sqlite"),
                "maintenance": maintenance(),
            }[args.healthz]
            now = datetime.now(UTC)
            cutover = now - timedelta(hours=2)
            if args.sentry == "unrelated":
                sentry.add("KeyError: 'AAPL'", cutover + timedelta(minutes=20), type="KeyError")
            if args.sentry == "operational":
                sentry.add(
                    "OperationalError: (psycopg2.OperationalError) server closed the connection"
                    " unexpectedly",
                    cutover + timedelta(minutes=5),
                    type="OperationalError",
                    count=12,
                )
            status, connections = PG_INFO[args.pg]
            heroku.set_info(
                heroku.add_postgres(), status=status, connections=connections, plan="Standard 0"
            )
            heroku.serve_logs(logplex)
            # The app's requests (and the router's lines of them) over the last 40 minutes,
            # and the metrics line a Standard database writes every few minutes.
            logplex.history = [
                line
                for s in range(2400, 0, -20)
                for line in (
                    f"{(now - timedelta(seconds=s)).isoformat()} app[web.1]:"
                    " GET /api/quotes/AAPL 200",
                    router_line(now - timedelta(seconds=s), path="/api/quotes/AAPL"),
                )
            ] + [postgres_metrics_line(now - timedelta(seconds=s)) for s in range(2400, 0, -300)]
            incident = INCIDENT_LINES[args.log]
            if incident:
                logplex.history.append(f"{now.isoformat()} {incident}")
            db.execute(*(BREAKAGES[b].format(role=db.app_role) for b in args.breakages))
            with contextlib.ExitStack() as held:
                url = db.owner_url
                if args.credential == "limited":
                    url = held.enter_context(limited_credential(db)).url
                held.enter_context(app_sessions(db, args.sessions))
                if args.sessions:
                    time.sleep(args.session_age)
                yield StandIn(healthz, sentry, heroku, logplex, slack, db, cutover, url)
