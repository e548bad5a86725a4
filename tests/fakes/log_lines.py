"""Router and Heroku Postgres metrics lines as Heroku writes them, for the fakes to serve.

Shapes from Dev Center's "HTTP Routing" and "Heroku Postgres Metrics Logs" (see
tests/checks/logparse/test_router_line.py and test_pg_sample.py for the real lines they follow).
"""

from __future__ import annotations

from datetime import datetime

DATABASE_ADDON = "postgresql-adjacent-27271"


def router_line(at: datetime, status: int = 200, service_ms: int = 40, path: str = "/api/x") -> str:
    """One request the router passed to web.1."""
    return (
        f'{at.isoformat()} heroku[router]: at=info method=GET path="{path}" host=api.raxx.app'
        f' request_id=5b1f0c2e-1d7a-4e55-9a0b-3c1e2f4d5a6b fwd="203.0.113.9" dyno=web.1'
        f" connect=1ms service={service_ms}ms status={status} bytes=255 protocol=https"
    )


def postgres_metrics_line(
    at: datetime,
    source: str = "DATABASE",
    addon: str = DATABASE_ADDON,
    load_5m: float = 0.2,
    waiting: int = 0,
    cache_hit: float = 0.999,
) -> str:
    """One sample of a Standard or Premium database."""
    return (
        f"{at.isoformat()} app[heroku-postgres]: source={source} addon={addon}"
        " sample#current_transaction=5401 sample#db_size=16012956bytes"
        " sample#db-size-percentage-used=0.00025 sample#tables=35 sample#active-connections=7"
        f" sample#waiting-connections={waiting} sample#index-cache-hit-rate={cache_hit}"
        f" sample#table-cache-hit-rate={cache_hit} sample#load-avg-1m={load_5m}"
        f" sample#load-avg-5m={load_5m} sample#load-avg-15m={load_5m} sample#read-iops=0"
        " sample#write-iops=0.12"
    )
