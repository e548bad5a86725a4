"""Serve every fake on 127.0.0.1 until stopped (used by scripts/fakes).

Prints `export NAME=value` lines for the watcher's settings and for the real Heroku CLI
(`HEROKU_HOST`, `HEROKU_DATA_HOST`, `HEROKU_API_KEY`), then a line `# ready`; stops on
Ctrl-C or SIGTERM. Eval the lines in another shell and run `watcher once` or `heroku pg:info`.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

from tests.support.stand_in import add_options, stand_in


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3, as the watcher's own do."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(3, f"{self.prog}: error: {message}\n")


def main(argv: list[str]) -> int:
    parser = _Parser(
        prog="scripts/fakes",
        description="serve a throwaway PostgreSQL and local stand-ins for /healthz, Sentry,"
        " Heroku (Platform and Data APIs), Logplex and Slack on 127.0.0.1 until stopped;"
        " prints `export NAME=value` lines pointing the watcher and the Heroku CLI at them",
    )
    add_options(parser)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with stand_in(args) as running:
        for name, value in running.environment().items():
            print(f"export {name}={shlex.quote(value)}")
        print("# ready: eval these lines in another shell; Ctrl-C stops the fakes", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
