"""The app's recent log as one run sees it: what was counted, and how much of the log it covers.

`logs` judges it; the checks that read router and Postgres metrics lines share it, so a run
opens one log session (or reads the daemon's follower), never one per check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checks.logparse.log_patterns import LogMatcher
from checks.logparse.log_tally import LogTally
from checks.pg_metrics import PgSamples
from checks.router import RouterStats


@dataclass(frozen=True)
class Coverage:
    """How much of the log the counts stand on, in words for the summary."""

    text: str
    problem: str | None = None  # a stream problem, reported as its own finding
    # Recent stream gaps the replay could not cover ("lines between ... may be lost").
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogWindow:
    """The counts of the recent log, the matcher that made them, and when it was read; the
    router requests and Postgres samples read from the same lines."""

    tally: LogTally
    matcher: LogMatcher
    read_at: datetime
    coverage: Coverage
    router: RouterStats
    postgres: PgSamples
