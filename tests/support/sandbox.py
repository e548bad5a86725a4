"""Run `watcher once` against a local stand-in of production (used by scripts/try-locally).

The stand-in is `tests.support.stand_in`, the same `scripts/fakes` serves: a throwaway
PostgreSQL with the runbook's schema and grants, and local stand-ins for /healthz, the Sentry
API, the Heroku Platform and Data APIs, Logplex and Slack; the cutover is two hours ago.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from tests.support.stand_in import add_options, stand_in

# What each option makes `watcher once` show: (check, state, finding id). `--help` prints it;
# tests/test_sandbox.py runs every one and holds it to this.
EFFECTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("--healthz", "sqlite"): ("healthz", "CRITICAL", "healthz.db_sqlite"),
    ("--healthz", "maintenance"): ("healthz", "CRITICAL", "healthz.maintenance"),
    ("--sentry", "unrelated"): ("sentry", "WARNING", "a new KeyError issue"),
    ("--sentry", "operational"): ("sentry", "CRITICAL", "a new OperationalError issue"),
    ("--log", "grant-drift"): ("logs", "CRITICAL", "logs.permission_denied"),
    ("--log", "memory"): ("logs", "WARNING", "logs.memory"),
    ("--pg", "busy"): ("pg_info", "CRITICAL", "pg_info.connections"),
    ("--pg", "over-capacity"): ("pg_info", "CRITICAL", "pg_info.status"),
    ("--break", "grant"): ("grants", "CRITICAL", "grants.table_privileges"),
    ("--break", "alembic-grant"): ("grants", "CRITICAL", "grants.migration_tables"),
    ("--break", "nologin"): ("grants", "CRITICAL", "grants.role_nologin"),
    ("--break", "table"): ("tables", "CRITICAL", "tables.fewer"),
    ("--break", "revision"): ("migrations", "WARNING", "migrations.changed"),
    ("--break", "sequence"): ("pg_activity", "CRITICAL", "pg_activity.sequence_behind"),
    ("--break", "analyze"): ("pg_activity", "WARNING", "pg_activity.not_analyzed"),
    ("--session", "long-query"): ("pg_activity", "WARNING", "pg_activity.long_query"),
    ("--session", "idle-in-transaction"): (
        "pg_activity",
        "WARNING",
        "pg_activity.idle_in_transaction",
    ),
    ("--session", "blocked"): ("pg_activity", "WARNING", "pg_activity.blocked"),
    ("--credential", "limited"): ("pg_activity", "UNKNOWN", "pg_activity.visibility"),
}
# --session shows only past the thresholds; the stand-in holds sessions for 2 s.
SESSION_SETTINGS = "WATCHER_PG_LONG_QUERY_SECONDS=1 WATCHER_PG_IDLE_IN_TRANSACTION_SECONDS=1 WATCHER_PG_BLOCKED_SECONDS=1"


def epilog() -> str:
    """The help's table: which state each option produces."""
    rows = [f"  {o} {v}".ljust(36) + f"{c} {s} ({f})" for (o, v), (c, s, f) in EFFECTS.items()]
    return "\n".join(
        [
            "Without options every check is OK (exit 0). Each option breaks one thing;"
            " `watcher once` then shows:",
            *rows,
            f"--session needs low thresholds to be reported, e.g. {SESSION_SETTINGS}"
            " scripts/try-locally --session blocked.",
            "",
            "The watcher's own options go to `watcher once`: scripts/try-locally --json,"
            " --check NAME (repeatable), --notify (posts to the stand-in Slack); or put them"
            " after --, e.g. scripts/try-locally --break grant -- --json --check grants.",
        ]
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3, as the watcher's own do: 2 would read as CRITICAL."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(3, f"{self.prog}: error: {message}\n")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The stand-in's options, and the rest for `watcher once`: after `--`, and any option
    of `watcher once` (`--json`, `--check NAME`) given without it."""
    parser = _Parser(
        prog="scripts/try-locally",
        description="watcher once against a throwaway PostgreSQL and local stand-ins for /healthz,"
        " Sentry, Heroku, Logplex and Slack (what scripts/fakes serves); the cutover was two"
        " hours ago.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # `--c` must not be taken for `--credential` when `watcher once --check` was meant.
        allow_abbrev=False,
    )
    add_options(parser)
    parser.add_argument(
        "--run",
        action="store_true",
        help="watcher run (the daemon) with short intervals instead of once; Slack's messages"
        " are printed, and typed commands break things while it runs (help lists them)",
    )
    split = argv.index("--") if "--" in argv else len(argv)
    args, passed = parser.parse_known_args(argv[:split])
    return args, [*passed, *argv[split + 1 :]]


def main(argv: list[str]) -> int:
    args, once_args = parse(argv)
    with stand_in(args) as running:
        if args.run:
            from tests.support.watch_locally import run_locally

            return run_locally(running)
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            **running.environment(),
            "DYNO": "worker.1",
        }
        with tempfile.TemporaryDirectory(prefix="watcher-try-") as cwd:
            command = [sys.executable, "-m", "watcher", "once", *once_args]
            # On stderr, so `-- --json | jq` reads only the JSON.
            print("$ watcher once", *once_args, file=sys.stderr, flush=True)
            return subprocess.run(command, env=env, cwd=cwd, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
