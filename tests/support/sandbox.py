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


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3, as the watcher's own do: 2 would read as CRITICAL."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(3, f"{self.prog}: error: {message}\n")


def main(argv: list[str]) -> int:
    parser = _Parser(
        prog="scripts/try-locally",
        description="watcher once against a throwaway PostgreSQL and local stand-ins for /healthz,"
        " Sentry, Heroku, Logplex and Slack (what scripts/fakes serves); "
        "arguments after -- go to `watcher once` (e.g. -- --json)",
    )
    add_options(parser)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    once_args = argv[split + 1 :]
    with stand_in(args) as running:
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
