"""`pg_metrics`: Heroku Postgres's own metrics lines for the `DATABASE` attachment (SOP 7.2, 7.3).

Heroku writes a `app[heroku-postgres]: source=<attachment> addon=<add-on> sample#...` line for
each Standard and Premium database every few minutes. Followers and other attachments write
theirs too: only the add-on attached as `DATABASE` is judged. Its `addon=` name is learned from
the newest `source=DATABASE` line, so a line of the same add-on under another attachment
counts, and after a follower is promoted the new primary's lines do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from checks.check import Advice, Check, CheckSettings, Doc, GaugeSpec, Need, Sources
from checks.logparse.log_line import LogLine
from checks.logparse.pg_sample import DYNO, SOURCE, PgSample, parse_sample
from checks.result import Finding, Observation, Result, State

if TYPE_CHECKING:
    from checks.logparse.log_window import LogWindow

NAME = "pg_metrics"
SOP = "7.2, 7.3"
ATTACHMENT = "DATABASE"
FRESH = timedelta(minutes=15)
WAITING_IN_A_ROW = 5
CACHE_HIT_MIN = 0.99
# The cache starts cold after a cutover: a low hit rate is normal this long after T0.
CACHE_WARM_AFTER = timedelta(hours=1)
DB_SIZE_WARN, DB_SIZE_CRIT = 0.8, 0.9
NO_SAMPLE = (
    "no Heroku Postgres metrics line for the DATABASE attachment in the last 15 min:"
    " Heroku writes them only for Standard and Premium plans (Essential plans have none),"
    " and Fir apps have none"
)


@dataclass(frozen=True)
class PgMetricsObservation(Observation):
    """The newest sample's figures (None: not in the line), its age, the peak load since T0."""

    load_1m: float | None = None
    load_5m: float | None = None
    load_15m: float | None = None
    active_connections: float | None = None
    waiting_connections: float | None = None
    index_cache_hit: float | None = None
    table_cache_hit: float | None = None
    db_size_bytes: float | None = None
    db_size_used: float | None = None
    sample_age_seconds: float | None = None
    peak_load_5m: float | None = None
    peak_load_at: float | None = None  # epoch seconds
    addon: str | None = None


@dataclass(frozen=True)
class LoadThresholds:
    """WATCHER_PG_LOAD_WARN / _CRIT: `heroku pg:diagnose`'s Load check is yellow over 1, red
    over 2 (pgdiagnose's load_checks.go); the docs make them "at or over"."""

    warn: float = 1.0
    crit: float = 2.0


@dataclass(frozen=True)
class Peak:
    """The highest `load-avg-5m` seen since T0, and when."""

    load: float
    at: datetime


class PgSamples:
    """The newest sample of the DATABASE add-on, the run of waiting samples, the peak load."""

    def __init__(self, t0: datetime | None) -> None:
        self.t0 = t0
        self.addon: str | None = None
        self.newest: PgSample | None = None
        self.newest_at: datetime | None = None
        self.waiting_run = 0
        self.peak: Peak | None = None
        self.ignored = 0  # lines of other databases (followers, other attachments)

    def add(self, line: LogLine, received_at: datetime) -> PgSample | None:
        """Take `line` if it is a metrics line of the DATABASE add-on; the sample, or None."""
        if line.dyno != DYNO or line.source != SOURCE:
            return None
        sample = parse_sample(line.message)
        if sample is None:
            return None
        if sample.source == ATTACHMENT and sample.addon:
            self.addon = sample.addon
        if not self._is_database(sample):
            self.ignored += 1
            return None
        at = line.timestamp or received_at
        if self.newest_at is not None and at < self.newest_at:
            return sample  # an older sample arriving late: the newest stands
        self.newest, self.newest_at = sample, at
        if sample.waiting_connections is not None:
            self.waiting_run = self.waiting_run + 1 if sample.waiting_connections > 0 else 0
        load = sample.load_5m
        since_t0 = self.t0 is None or at >= self.t0
        if load is not None and since_t0 and (self.peak is None or load > self.peak.load):
            self.peak = Peak(load, at)
        return sample

    def _is_database(self, sample: PgSample) -> bool:
        if sample.source == ATTACHMENT:
            return True
        return self.addon is not None and sample.addon == self.addon


def evaluate(samples: PgSamples, now: datetime, load: LoadThresholds) -> Result:
    """The newest sample of the last 15 minutes, judged as docs/checks.md says."""
    sample, at = samples.newest, samples.newest_at
    peak = samples.peak
    peaked = PgMetricsObservation(
        peak_load_5m=None if peak is None else peak.load,
        peak_load_at=None if peak is None else peak.at.timestamp(),
        addon=samples.addon,
    )
    if sample is None or at is None or now - at > FRESH:
        return Result.unknown(NO_SAMPLE, peaked)
    observation = replace(
        peaked,
        load_1m=sample.load_1m,
        load_5m=sample.load_5m,
        load_15m=sample.load_15m,
        active_connections=sample.active_connections,
        waiting_connections=sample.waiting_connections,
        index_cache_hit=sample.index_cache_hit,
        table_cache_hit=sample.table_cache_hit,
        db_size_bytes=sample.db_size_bytes,
        db_size_used=sample.db_size_used,
        sample_age_seconds=max(0.0, (now - at).total_seconds()),
    )
    findings = [
        *_load(sample, load),
        *_waiting(sample, samples.waiting_run),
        *_db_size(sample),
        *_cache(sample, now, samples.t0),
    ]
    name = samples.addon or ATTACHMENT
    return Result.from_findings(findings, f"{name} at {at:%H:%M}Z: {_figures(sample)}", observation)


def _load(sample: PgSample, load: LoadThresholds) -> list[Finding]:
    value = sample.load_5m
    if value is None or value < load.warn:
        return []
    state, limit = (State.CRITICAL, load.crit) if value >= load.crit else (State.WARNING, load.warn)
    return [
        Finding(
            f"{NAME}.load",
            state,
            f"load-avg-5m {value:g}, at or over {limit:g} (pg:diagnose's Load):"
            " the database server is straining",
        )
    ]


def _waiting(sample: PgSample, run: int) -> list[Finding]:
    if run < WAITING_IN_A_ROW:
        return []
    return [
        Finding(
            f"{NAME}.waiting",
            State.WARNING,
            f"connections waiting on locks in {run} samples in a row"
            f" ({sample.waiting_connections:g} now)",
        )
    ]


def _db_size(sample: PgSample) -> list[Finding]:
    used = sample.db_size_used
    if used is None or used < DB_SIZE_WARN:
        return []
    state = State.CRITICAL if used >= DB_SIZE_CRIT else State.WARNING
    limit = DB_SIZE_CRIT if state is State.CRITICAL else DB_SIZE_WARN
    return [
        Finding(
            f"{NAME}.db_size",
            state,
            f"database at {used:.0%} of the plan's size, at or over {limit:.0%}",
        )
    ]


def _cache(sample: PgSample, now: datetime, t0: datetime | None) -> list[Finding]:
    if t0 is not None and now < t0 + CACHE_WARM_AFTER:
        return []  # still warming up after the cutover
    low = [
        f"{kind} {rate:.2%}"
        for kind, rate in (("index", sample.index_cache_hit), ("table", sample.table_cache_hit))
        if rate is not None and rate < CACHE_HIT_MIN
    ]
    if not low:
        return []
    return [
        Finding(
            f"{NAME}.cache_hit",
            State.WARNING,
            f"cache hit rate below {CACHE_HIT_MIN:.0%}: {', '.join(low)}"
            " (reads go to disk: the plan's memory may be too small for the data)",
        )
    ]


def _figures(sample: PgSample) -> str:
    parts = []
    if sample.load_5m is not None:
        parts.append(f"load-avg-5m {sample.load_5m:g}")
    if sample.active_connections is not None:
        parts.append(f"{sample.active_connections:g} active connections")
    if sample.waiting_connections is not None:
        parts.append(f"{sample.waiting_connections:g} waiting")
    if sample.index_cache_hit is not None and sample.table_cache_hit is not None:
        parts.append(
            f"cache hit index {sample.index_cache_hit:.2%}, table {sample.table_cache_hit:.2%}"
        )
    if sample.db_size_used is not None:
        parts.append(f"{sample.db_size_used:.0%} of the plan's size")
    return ", ".join(parts) or "no figures this check judges"


# -- the declaration ------------------------------------------------------------------------


def load_of(settings: CheckSettings) -> LoadThresholds:
    """WATCHER_PG_LOAD_WARN / _CRIT as thresholds."""
    return LoadThresholds(settings.pg_load_warn, settings.pg_load_crit)


def _judge(window: LogWindow, sources: Sources) -> Result:
    return evaluate(window.postgres, window.read_at, load_of(sources.settings))


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.HEROKU,),
    reads_log=True,
    probe=lambda sources: sources.log(),
    evaluate=_judge,
    advice=(
        (
            "load",
            Advice(
                "7.2, 7.3",
                "Heroku Postgres is straining: find the long or frequent queries (pg_activity,"
                " `heroku pg:diagnose`, `pg:outliers`); a Standard-0 is burstable",
            ),
        ),
        (
            "waiting",
            Advice("7.3", "sessions wait on locks: pg_activity names the blocked and the blockers"),
        ),
        (
            "cache_hit",
            Advice("7.2", "reads go to disk: the plan's memory may be too small for the data"),
        ),
        (
            "db_size",
            Advice("7.2", "the database nears its plan's size: plan an upgrade or prune data"),
        ),
    ),
    gauges=(
        *(
            GaugeSpec(
                "watcher_pg_load_average",
                "Heroku Postgres load average of the DATABASE add-on",
                f"load_{window}",
                (("window", window),),
            )
            for window in ("1m", "5m", "15m")
        ),
        GaugeSpec(
            "watcher_pg_active_connections",
            "Heroku Postgres sample#active-connections of the DATABASE add-on",
            "active_connections",
        ),
        GaugeSpec(
            "watcher_pg_waiting_connections",
            "Heroku Postgres sample#waiting-connections (waiting on a lock)",
            "waiting_connections",
        ),
        *(
            GaugeSpec(
                "watcher_pg_cache_hit_ratio",
                "Heroku Postgres cache hit rate of the DATABASE add-on",
                f"{kind}_cache_hit",
                (("kind", kind),),
            )
            for kind in ("index", "table")
        ),
        GaugeSpec("watcher_pg_db_size_bytes", "Heroku Postgres sample#db_size", "db_size_bytes"),
    ),
    doc=Doc(
        "Heroku Postgres metrics lines (`app[heroku-postgres]: source=DATABASE ... sample#...`)"
        " of the add-on attached as `DATABASE`, in the log `logs` reads",
        "`load-avg-5m` at or over `WATCHER_PG_LOAD_CRIT` (2.0); `db-size-percentage-used` at or"
        " over 0.9",
        "load at or over `_LOAD_WARN` (1.0); `waiting-connections` above 0 in 5 samples in a"
        " row; size at or over 0.8; an index or table cache hit rate below 0.99 once T0+1h has"
        " passed",
    ),
)
