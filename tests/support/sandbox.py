"""Run `watcher once` against a local stand-in of production (used by scripts/try-locally).

A throwaway PostgreSQL with the runbook's schema and grants, and local stand-ins for /healthz,
the Sentry API, the Heroku Platform and Data APIs and Logplex; the cutover is two hours ago.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.heroku import FakeHeroku
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.support.postgres import PgServer, prepare_server, throwaway_server, watched_database

BREAKAGES = {
    "grant": "REVOKE INSERT ON historical_bars FROM {role}",
    "alembic-grant": "GRANT SELECT ON alembic_version TO {role}",
    "nologin": "ALTER ROLE {role} NOLOGIN",
    "table": "DROP TABLE backup_codes",
    "revision": "UPDATE alembic_version SET version_num = '0002_unexpected'",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3, as the watcher's own do: 2 would read as CRITICAL."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(3, f"{self.prog}: error: {message}\n")


def _server() -> contextlib.AbstractContextManager[PgServer]:
    """WATCHER_TEST_DATABASE_URL (a superuser URL) if set, as the tests do; else a throwaway one."""
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    return contextlib.nullcontext(PgServer(url)) if url else throwaway_server()


def main(argv: list[str]) -> int:
    parser = _Parser(
        prog="scripts/try-locally",
        description="watcher once against a throwaway PostgreSQL and local stand-ins for /healthz,"
        " Sentry, Heroku and Logplex; "
        "arguments after -- go to `watcher once` (e.g. -- --json)",
    )
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
        choices=["quiet", "grant-drift", "memory"],
        default="quiet",
        help="what the app's log shows in the last minutes",
    )
    parser.add_argument(
        "--pg",
        choices=["healthy", "busy", "over-capacity"],
        default="healthy",
        help="what Heroku's pg:info says",
    )
    parser.add_argument(
        "--break",
        dest="breakages",
        action="append",
        default=[],
        choices=sorted(BREAKAGES),
        help="break the database this way (repeatable)",
    )
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    once_args = argv[split + 1 :]
    with (
        _server() as server,
        FakeHealthz() as healthz_server,
        FakeSentry() as sentry,
        FakeHeroku() as heroku,
        FakeLogplex() as logplex,
    ):
        prepare_server(server)
        with watched_database(server) as db:
            healthz_server.reply = {
                "postgresql": healthy(),
                "sqlite": healthy(db="sqlite"),
                "maintenance": maintenance(),
            }[args.healthz]
            cutover = datetime.now(UTC) - timedelta(hours=2)
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
            status, connections = {
                "healthy": ("Available", "7/120"),
                "busy": ("Available", "21/120"),
                "over-capacity": ("Over Plan Capacity: Action Required", "7/120"),
            }[args.pg]
            heroku.set_info(
                heroku.add_postgres(), status=status, connections=connections, plan="Standard 0"
            )
            heroku.logplex_url = logplex.session_url
            now = datetime.now(UTC)
            logplex.history = [
                f"{(now - timedelta(seconds=s)).isoformat()} app[web.1]: GET /api/quotes/AAPL 200"
                for s in range(2400, 0, -20)
            ]
            incident = {
                "quiet": None,
                "grant-drift": "app[web.1]: psycopg2.errors.InsufficientPrivilege:"
                " permission denied for table historical_bars",
                "memory": "heroku[web.2]: Error R14 (Memory quota exceeded)",
            }[args.log]
            if incident:
                logplex.history.append(f"{now.isoformat()} {incident}")
            baseline_taken = tempfile.TemporaryDirectory(prefix="watcher-try-")
            env = {
                **os.environ,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                "DATABASE_URL": db.owner_url,
                "WATCHER_APP_ROLE": db.app_role,
                "WATCHER_HEALTHZ_URL": healthz_server.healthz_url,
                "WATCHER_EXPECTED_TABLES": "35",
                "WATCHER_EXPECTED_REVISION": "0001_raptor_baseline",
                "WATCHER_CUTOVER_AT": cutover.isoformat(),
                "WATCHER_SENTRY_API_URL": sentry.url,
                "WATCHER_SENTRY_ORG": sentry_fake.ORG,
                "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
                "HEROKU_API_KEY": heroku_fake.TOKEN,
                "WATCHER_HEROKU_API_URL": heroku.url,
                "WATCHER_HEROKU_DATA_API_URL": heroku.url,
                "DYNO": "worker.1",
            }
            db.execute(*(BREAKAGES[b].format(role=db.app_role) for b in args.breakages))
            with baseline_taken as cwd:
                command = [sys.executable, "-m", "watcher", "once", *once_args]
                # On stderr, so `-- --json | jq` reads only the JSON.
                print("$ watcher once", *once_args, file=sys.stderr, flush=True)
                return subprocess.run(command, env=env, cwd=cwd, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
