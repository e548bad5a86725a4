"""`watcher rehearse`'s options, apart from its module so `watcher scan` imports nothing more."""

from __future__ import annotations

import argparse
from typing import Any

from watcher.cli import help as texts

# The incidents a rehearsal can stand in for (docs/before-t0.md); canned lines in rehearsal.py.
INCIDENTS = ("sqlite", "grant-drift", "crash", "healthz-sqlite", "pg-unavailable")


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600")
    return seconds


def add_rehearse_parser(commands: Any) -> None:
    rehearse = commands.add_parser(
        "rehearse",
        help="before T0: a labelled REHEARSAL incident to Slack (and Alertmanager):"
        " fired, reminded, resolved",
        **texts.described(texts.REHEARSE, texts.REHEARSE_EXIT),
    )
    rehearse.add_argument(
        "--incident",
        choices=INCIDENTS,
        help="post exactly what this incident would post (canned log lines or answers)",
    )
    rehearse.add_argument(
        "--seconds",
        type=_seconds,
        default=60.0,
        metavar="N",
        help="from the first post to the resolve, in all (default 60)",
    )
