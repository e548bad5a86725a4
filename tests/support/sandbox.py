"""Run `watcher once` against a local stand-in of production (used by scripts/try-locally)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fakes.healthz import FakeHealthz, healthy, maintenance
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
        description="watcher once against a throwaway PostgreSQL and a local /healthz; "
        "arguments after -- go to `watcher once` (e.g. -- --json)",
    )
    parser.add_argument(
        "--healthz",
        choices=["postgresql", "sqlite", "maintenance"],
        default="postgresql",
        help="what /healthz answers",
    )
    parser.add_argument(
        "--break",
        dest="breakages",
        action="append",
        default=[],
        choices=sorted(BREAKAGES),
        help="break the database this way (repeatable)",
    )
    args, rest = parser.parse_known_args(argv)
    once_args = [a for a in rest if a != "--"]
    with throwaway_server() as server, FakeHealthz() as healthz_server:
        prepare_server(server)
        with watched_database(server) as db:
            healthz_server.reply = {
                "postgresql": healthy(),
                "sqlite": healthy(db="sqlite"),
                "maintenance": maintenance(),
            }[args.healthz]
            baseline_taken = tempfile.TemporaryDirectory(prefix="watcher-try-")
            env = {
                **os.environ,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                "DATABASE_URL": db.owner_url,
                "WATCHER_APP_ROLE": db.app_role,
                "WATCHER_HEALTHZ_URL": healthz_server.healthz_url,
                "WATCHER_EXPECTED_TABLES": "35",
                "WATCHER_EXPECTED_REVISION": "0001_raptor_baseline",
            }
            db.execute(*(BREAKAGES[b].format(role=db.app_role) for b in args.breakages))
            with baseline_taken as cwd:
                command = [sys.executable, "-m", "watcher", "once", *once_args]
                print("$ watcher once", *once_args, flush=True)
                return subprocess.run(command, env=env, cwd=cwd, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
