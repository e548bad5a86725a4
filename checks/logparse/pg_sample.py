"""One Heroku Postgres metrics line (`app[heroku-postgres]: source=DATABASE addon=... sample#...`).

Shapes from Dev Center's "Heroku Postgres Metrics Logs" (`source=` is the attachment name,
`addon=` the add-on's; emitted for Standard and Premium databases only, not on Fir) and from
lines captured off real apps by public log parsers (pganalyze/collector's Heroku input tests,
heroku-log-parser fixtures): older lines lack `addon=`, some write floats with a unit
(`sample#db_size=247529644.0bytes`, `sample#memory-total=3786332.0kB`), newer ones add
`db-size-percentage-used`, `max-connections`, `wal-percentage-used`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SOURCE = "app"
DYNO = "heroku-postgres"
_FIELD = re.compile(r"(?:^|\s)(source|addon|sample#[a-z0-9_-]+)=(\S*)")
_NUMBER = re.compile(r"([0-9]{1,20}(?:\.[0-9]{1,20})?)(?:bytes|kB)?")


@dataclass(frozen=True)
class PgSample:
    """The figures of one metrics line that the `pg_metrics` check judges; None: not written."""

    source: str  # the attachment name (`DATABASE`, `HEROKU_POSTGRESQL_SILVER`)
    addon: str | None  # the add-on's name (`postgresql-adjacent-27271`)
    load_1m: float | None = None
    load_5m: float | None = None
    load_15m: float | None = None
    active_connections: float | None = None
    waiting_connections: float | None = None
    index_cache_hit: float | None = None
    table_cache_hit: float | None = None
    db_size_bytes: float | None = None
    db_size_used: float | None = None  # share of the plan's maximum, 0..1


_SAMPLES = {
    "sample#load-avg-1m": "load_1m",
    "sample#load-avg-5m": "load_5m",
    "sample#load-avg-15m": "load_15m",
    "sample#active-connections": "active_connections",
    "sample#waiting-connections": "waiting_connections",
    "sample#index-cache-hit-rate": "index_cache_hit",
    "sample#table-cache-hit-rate": "table_cache_hit",
    "sample#db_size": "db_size_bytes",
    "sample#db-size-percentage-used": "db_size_used",
}


def parse_sample(message: str) -> PgSample | None:
    """The sample a metrics line's message holds; None without `source=` or any sample."""
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(message):
        fields.setdefault(key, value)
    source = fields.get("source")
    if not source:
        return None
    values: dict[str, float] = {}
    for key, name in _SAMPLES.items():
        number = _number(fields.get(key, ""))
        if number is not None:
            values[name] = number
    if not values:
        return None
    return PgSample(source, fields.get("addon") or None, **values)


def _number(value: str) -> float | None:
    found = _NUMBER.fullmatch(value)
    if found is None:
        return None
    number = float(found[1])
    return number if math.isfinite(number) else None
