"""What `ack`, `snooze` and `status` share: who is acting, one-line usage errors, the store."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

# Usage errors exit 3 (UNKNOWN), like every usage error of the watcher.
EXIT_USAGE = 3


class UsageError(Exception):
    """A usage error: one line on stderr, exit 3."""


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Argparse's own errors as one line on stderr (no usage block), exit 3."""

    def error(message: str) -> NoReturn:
        parser.exit(EXIT_USAGE, f"{parser.prog}: {message}\n")

    setattr(parser, "error", error)  # noqa: B010 (an instance's method, replaced)
    return parser


def default_by() -> str:
    """Who acts: $USER, else the dyno (`heroku run` sets DYNO), else unknown."""
    return os.environ.get("USER") or os.environ.get("DYNO") or "unknown"


def fail(command: str, problem: str) -> int:
    print(f"watcher {command}: {problem}", file=sys.stderr)
    return EXIT_USAGE


NO_STORE = (
    "the state store has not been created: nothing has been watched yet"
    " (is WATCHER_STATE_URL the daemon's store?)"
)
