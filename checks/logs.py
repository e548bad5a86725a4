"""`logs`: incident patterns in the Heroku log in the last 30 minutes (SOP 7.1-7.3, 2.3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from checks.check import GATE, ROLLBACK, Advice, Check, Doc, Need
from checks.logparse.log_line import LogLine, parse
from checks.logparse.log_patterns import LogMatcher
from checks.logparse.log_stream import stream_lines
from checks.logparse.log_tally import LogTally
from checks.logparse.log_window import Coverage, LogWindow
from checks.pg_metrics import PgSamples
from checks.result import PREFIX, CheckError, Finding, Observation, Result, State
from checks.router import RouterStats
from checks.sources.clock import Clock
from checks.sources.heroku_api import FIR, HerokuApi
from checks.sources.http_api import transport_reason

NAME = "logs"
SOP = "7.1, 7.2, 7.3, 2.3"
WINDOW = timedelta(minutes=30)
# All Logplex keeps of an app's log (Cedar); Fir keeps none.
LOGPLEX_LINES = 1500
LOGPLEX = "Logplex"
# What the Heroku CLI sends: every log session, Cedar's too, answers server-sent events
# (heroku/cli since 2018). Older Cedar session URLs answered text/plain; both are read.
ACCEPT = "text/event-stream"


class LineReader(Protocol):
    """Something else that reads the same lines in the same pass (`router`, `pg_metrics`)."""

    def add(self, line: LogLine, received_at: datetime) -> object:
        """Take one line; what it found is the reader's own business."""
        ...


@dataclass(frozen=True)
class LogsObservation(Observation):
    """Lines read, and matches per pattern in the last 30 minutes."""

    lines: int
    matches: dict[str, int] = field(default_factory=dict, metadata={PREFIX: "matches_"})


def without_timestamp(sample: str) -> str:
    """A sample line without its leading timestamp (the summary gives the time as HH:MM:SSZ)."""
    line = parse(sample)
    if line.timestamp is None:
        return sample
    return sample.split(None, 1)[1] if " " in sample.strip() else sample


def evaluate(tally: LogTally, matcher: LogMatcher, now: datetime, coverage: Coverage) -> Result:
    """A finding per pattern matched in the last 30 minutes, by each line's own time."""
    since = now - WINDOW
    findings: list[Finding] = []
    matches: dict[str, int] = {}
    for pattern in matcher.patterns:
        recent = tally.count_since(pattern.id, since)
        matches[pattern.id] = recent
        counts = tally.patterns.get(pattern.id)
        if recent and counts is not None and counts.last is not None:
            # What it means, and the last line with its time once, as HH:MM:SSZ; what to do
            # is the alert's advice (posted once beside it), not the summary's.
            findings.append(
                Finding(
                    f"{NAME}.{pattern.id}",
                    pattern.state,
                    f"{pattern.id}: {recent} line(s) in the last 30 min ({pattern.means}), the"
                    f" last at {counts.last:%H:%M:%S}Z: {without_timestamp(counts.sample)}",
                )
            )
    if coverage.problem:
        findings.append(Finding(f"{NAME}.stream", State.UNKNOWN, coverage.problem))
    if coverage.gaps:
        # Logplex keeps only so many lines: what was written meanwhile was not seen.
        findings.append(Finding(f"{NAME}.stream_gap", State.WARNING, "; ".join(coverage.gaps[-3:])))
    return Result.from_findings(
        findings,
        f"no incident patterns in the last 30 min; {coverage.text}",
        LogsObservation(tally.lines, matches),
    )


def check_recent(
    api: HerokuApi, http: httpx.Client, matcher: LogMatcher, clock: Clock, budget: float
) -> Result:
    """`watcher once`: a one-shot log session of what Logplex keeps, scanned."""
    window = read_recent(api, http, matcher, clock, budget, RouterStats(None), PgSamples(None))
    return evaluate(window.tally, window.matcher, window.read_at, window.coverage)


def read_recent(
    api: HerokuApi,
    http: httpx.Client,
    matcher: LogMatcher,
    clock: Clock,
    budget: float,
    router: RouterStats,
    postgres: PgSamples,
) -> LogWindow:
    """A one-shot log session of what Logplex keeps, read once: matches counted, every line
    also given to the router and Postgres readers (the probe of `watcher once`).

    Cedar or Fir comes from the app (`generation`), never from how the stream is framed.
    """
    deadline = clock.monotonic() + budget
    if api.app_generation(deadline) == FIR:
        raise CheckError(
            "this app's log (Fir) keeps no history: only the follower of `watcher run`"
            " sees the last 30 min"
        )
    url = api.create_log_session(deadline, lines=LOGPLEX_LINES, tail=False)
    tally = LogTally()
    problem = None
    try:
        _read(http, url, deadline, matcher, tally, clock, (router, postgres))
    except httpx.HTTPError as exc:
        # The URL carries its own token: the reason never quotes it.
        reason = (
            f"no complete answer within {budget:.0f} s"
            if isinstance(exc, httpx.TimeoutException)
            else transport_reason(exc)
        )
        if tally.lines == 0:
            raise CheckError(f"{LOGPLEX} stream unusable: {reason}") from None
        problem = f"log stream broke after {tally.lines} lines: {reason}; counted those"
    now = clock.now()
    coverage = Coverage(_covered(tally, now), problem)
    return LogWindow(tally, matcher, now, coverage, router, postgres)


def _read(
    http: httpx.Client,
    url: str,
    deadline: float,
    matcher: LogMatcher,
    tally: LogTally,
    clock: Clock,
    readers: Sequence[LineReader],
) -> None:
    remaining = max(0.1, deadline - clock.monotonic())
    # No Authorization header: the session URL carries its own token.
    with http.stream("GET", url, headers={"Accept": ACCEPT}, timeout=remaining) as response:
        if response.status_code != 200:
            raise CheckError(f"{LOGPLEX} answered HTTP {response.status_code}")
        for raw in stream_lines(response):
            if clock.monotonic() > deadline:
                raise httpx.ReadTimeout("deadline")
            line = parse(raw.decode("utf-8", "replace"))
            now = clock.now()
            tally.count_lines(1, line.timestamp, line.timestamp)
            for match in matcher.match(line, now):
                tally.count_match(match, now)
            for reader in readers:
                reader.add(line, now)


def _covered(tally: LogTally, now: datetime) -> str:
    first, last = tally.first_line_at, tally.last_line_at
    if not tally.lines:
        return "Logplex returned no lines"
    if first is None or last is None:
        return f"read the last {tally.lines} lines Logplex keeps (no timestamps)"
    # How far back from now the answer reaches: a quiet app's lines reach far back.
    minutes = (now - first).total_seconds() / 60
    reach = f"they reach back {minutes:.0f} min" + (
        ", less than 30 min: older lines are gone" if minutes < 30 else ""
    )
    return (
        f"read the last {tally.lines} lines Logplex keeps, {first:%H:%M}Z to {last:%H:%M}Z; {reach}"
    )


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.HEROKU,),
    reads_log=True,
    probe=lambda sources: sources.log(),
    evaluate=lambda window, sources: evaluate(
        window.tally, window.matcher, window.read_at, window.coverage
    ),
    advice=(
        ("permission_denied", Advice("4.6, 7.3", f"grant drift: re-run step 4.6 grants; {GATE}")),
        (
            "role_missing",
            Advice("4.4, 4.8", f"the app role is gone: recreate it (4.4), re-run 4.6; {ROLLBACK}"),
        ),
        (
            "sqlite",
            Advice(
                "7.1, 7.2", f"SQLite in the logs: the app writes to an ephemeral file; {ROLLBACK}"
            ),
        ),
        (
            "too_many_connections",
            Advice(
                "7.3",
                f"connections exhausted: find the pool leak (pg:info, pg_stat_activity); {GATE}",
            ),
        ),
        (
            "crash",
            Advice("2.3, 5.5", f"the dyno crashed: read the crash in the logs; {ROLLBACK}; {GATE}"),
        ),
        (
            "restart_loop",
            Advice("2.3", f"the dyno is in a restart loop: read why it stops; {ROLLBACK}; {GATE}"),
        ),
        (
            "stream",
            Advice(
                "7.1",
                "the log stream broke: the watcher reconnects; `heroku logs --tail` meanwhile",
            ),
        ),
        ("", Advice("7.1", f"errors after the cutover: open them in Sentry and the logs; {GATE}")),
    ),
    doc=Doc(
        "Heroku log stream",
        "a CRITICAL pattern (docs/patterns.md) matched in the last 30 min",
        "a WARNING pattern matched in the last 30 min",
    ),
)
