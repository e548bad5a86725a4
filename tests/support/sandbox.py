"""Run `watcher once` against a local stand-in of production (used by scripts/try-locally).

A throwaway PostgreSQL with the runbook's schema and grants, a local /healthz and a local
Sentry API; the cutover is two hours ago.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes import sentry as sentry_fake
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.sentry import FakeSentry
from tests.support.postgres import prepare_server, throwaway_server, watched_database

BREAKAGES = {
    "grant": "REVOKE INSERT ON historical_bars FROM {role}",
    "alembic-grant": "GRANT SELECT ON alembic_version TO {role}",
    "nologin": "ALTER ROLE {role} NOLOGIN",
    "table": "DROP TABLE backup_codes",
    "revision": "UPDATE alembic_version SET version_num = '0002_unexpected'",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/try-locally",
        description="watcher once against a throwaway PostgreSQL, a local /healthz and Sentry; "
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
    with throwaway_server() as server, FakeHealthz() as healthz_server, FakeSentry() as sentry:
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
            }
            db.execute(*(BREAKAGES[b].format(role=db.app_role) for b in args.breakages))
            with baseline_taken as cwd:
                command = [sys.executable, "-m", "watcher", "once", *once_args]
                print("$ watcher once", *once_args, flush=True)
                return subprocess.run(command, env=env, cwd=cwd, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
