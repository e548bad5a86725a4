"""A real Prometheus scraping a running `watcher run` on loopback (issue 6).

The watcher runs as a subprocess against the shared fakes and the test PostgreSQL; Debian's
`prometheus` scrapes its `/metrics` every second with the bearer token, as job
`cutover-watcher` (the job the rules and the dashboard name), and evaluates
`deploy/prometheus/alerts.yml`. The test drives the watcher until every metric exists (a log
line matches a pattern, Slack fails once and then takes the message), then: every query of the
Grafana dashboard returns data, the four alerts are loaded and evaluate, WatcherCheckCritical
fires once healthz reports SQLite, a scrape without the right token is refused, and SIGTERM
stops the watcher within 10 s. `promtool check rules` is tests/test_deploy.py's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from checks.registry import NAMES as CHECK_NAMES
from tests.conftest import LOOPBACK_DEFAULTS
from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz, healthy
from tests.fakes.heroku import FakeHeroku
from tests.fakes.log_lines import postgres_metrics_line, router_line
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.dashboard import dashboard_queries
from tests.support.postgres import WatchedDatabase
from tests.support.prometheus import Prometheus, ScrapeTarget, free_port

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
JOB = "cutover-watcher"  # the job the rules and the dashboard's `up` panel name
METRICS_TOKEN = "metrics-token-prom-4c2a9e"
ALERTS = {
    "WatcherDown",
    "WatcherCycleStale",
    "WatcherNotificationsFailing",
    "WatcherCheckCritical",
    "WatcherRouterSlow",
    "WatcherPostgresLoadHigh",
}
# One budget for everything Prometheus must see: its first scrape alone takes ~5 s (2.42).
DATA_TIMEOUT = 30.0
PERMISSION_DENIED = "psycopg2.errors.InsufficientPrivilege: permission denied for table users"


@dataclass
class Scraped:
    """The running watcher, what it talks to, and the Prometheus scraping it."""

    process: subprocess.Popen[str]
    metrics_url: str
    prometheus: Prometheus
    healthz: FakeHealthz
    logplex: FakeLogplex
    slack: FakeSlack


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _environment(
    db: WatchedDatabase,
    healthz: FakeHealthz,
    heroku: FakeHeroku,
    sentry: FakeSentry,
    slack: FakeSlack,
    port: int,
    state_dir: Path,
) -> dict[str, str]:
    cutover = datetime.now(UTC) - timedelta(minutes=10)
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "PYTHONPATH": str(ROOT),
        **LOOPBACK_DEFAULTS,
        "DATABASE_URL": db.owner_url,
        "WATCHER_APP_ROLE": db.app_role,
        "WATCHER_HEALTHZ_URL": healthz.healthz_url,
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "WATCHER_HEROKU_API_URL": heroku.url,
        "WATCHER_HEROKU_DATA_API_URL": heroku.url,
        "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
        "WATCHER_SENTRY_ORG": sentry_fake.ORG,
        "WATCHER_SENTRY_API_URL": sentry.url,
        "SLACK_BOT_TOKEN": slack_fake.TOKEN,
        "WATCHER_SLACK_API_URL": slack.api_url,
        "WATCHER_CUTOVER_AT": cutover.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "WATCHER_CHECK_INTERVAL": "2",
        "WATCHER_HEALTHZ_INTERVAL": "1",
        "WATCHER_CHECK_TIMEOUT": "3",
        "WATCHER_STATE_URL": f"sqlite:///{state_dir}/state.db",
        "WATCHER_METRICS_PORT": str(port),
        "WATCHER_METRICS_TOKEN": METRICS_TOKEN,
    }


@pytest.fixture
def scraped(
    watched_db: WatchedDatabase, healthz_server: FakeHealthz, slack: FakeSlack, tmp_path: Path
) -> Iterator[Scraped]:
    with FakeHeroku() as heroku, FakeLogplex(tail=True) as logplex, FakeSentry() as sentry:
        heroku.set_info(heroku.add_postgres(), status="Available", connections="3/120")
        heroku.logplex_url = logplex.session_url
        # The first Slack call meets an outage (transient): the failure counter gets its
        # {channel, reason} series, and the retry goes through.
        slack.fail_next(FakeSlack.unavailable())
        port = free_port()
        env = _environment(watched_db, healthz_server, heroku, sentry, slack, port, tmp_path)
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        address = f"127.0.0.1:{port}"
        targets = [
            ScrapeTarget(address, bearer_token=METRICS_TOKEN, job=JOB),
            ScrapeTarget(address, bearer_token="not-the-token", job="wrong-token"),
            ScrapeTarget(address, job="no-token"),
        ]
        try:
            with Prometheus(targets, rule_files=[RULES]) as prometheus:
                yield Scraped(
                    process,
                    f"http://{address}/metrics",
                    prometheus,
                    healthz_server,
                    logplex,
                    slack,
                )
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


def missing_data(prometheus: Prometheus, queries: list[str], timeout: float) -> list[str]:
    """Poll every query until each returned a series once; the ones that never did."""
    waiting = list(dict.fromkeys(queries))
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting = [q for q in waiting if not prometheus.query(q)]
        if waiting:
            time.sleep(0.5)
    return waiting


def value(prometheus: Prometheus, expr: str) -> float:
    [sample] = prometheus.query(expr)
    return float(sample["value"][1])


def alerts_for(prometheus: Prometheus, name: str, **labels: str) -> list[dict[str, Any]]:
    """Active (pending or firing) alerts of the rule `name` with these labels."""
    return [
        a
        for a in prometheus.alerts()
        if a["labels"]["alertname"] == name
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def test_prometheus_scrapes_the_watcher_and_every_dashboard_query_has_data(
    scraped: Scraped,
) -> None:
    prometheus, started = scraped.prometheus, time.monotonic()
    timings: dict[str, float] = {}

    # The follower is connected once Logplex has been asked for a session; then a line
    # of grant drift: watcher_log_matches_total{pattern="permission_denied"} counts it,
    # and its escalation meets Slack's outage before it goes through.
    wait_until(lambda: bool(scraped.logplex.requests), 20, "the watcher opened the log stream")
    scraped.logplex.push(f"{datetime.now(UTC).isoformat()} app[web.1]: {PERMISSION_DENIED}")
    # Router traffic (one request a 503) and a Heroku Postgres sample with a load over 1: the
    # router and Postgres panels have data that says something.
    now = datetime.now(UTC)
    scraped.logplex.push(
        *(router_line(now, status=503 if n == 0 else 200, service_ms=40 + n) for n in range(30)),
        postgres_metrics_line(now, load_5m=1.5, waiting=2),
    )

    # -- every query of the Grafana dashboard returns at least one series ------------------
    queries = dashboard_queries()
    assert f'up{{job="{JOB}"}}' in queries
    missing = missing_data(prometheus, queries, DATA_TIMEOUT)
    assert not missing, f"dashboard queries without data after {DATA_TIMEOUT} s: {missing}"
    timings["dashboard"] = time.monotonic() - started

    # -- and the data says what the watcher did --------------------------------------------
    assert value(prometheus, f'up{{job="{JOB}"}}') == 1
    [info] = prometheus.query("watcher_build_info")
    assert info["metric"]["job"] == JOB and info["metric"]["version"]
    states = {s["metric"]["check"] for s in prometheus.query("watcher_check_state")}
    assert states == {*CHECK_NAMES, "watcher"}
    prometheus.wait_for_result('watcher_log_matches_total{pattern="permission_denied"} > 0', 10)
    assert value(prometheus, "watcher_healthz_up") == 1
    assert value(prometheus, "watcher_pg_available") == 1
    assert value(prometheus, "watcher_pg_plan_connection_limit") == 120
    assert value(prometheus, "watcher_public_tables") > 0
    prometheus.wait_for_result('watcher_router_requests_total{status_class="5xx"} == 1', 10)
    prometheus.wait_for_result('watcher_router_requests_total{status_class="2xx"} == 29', 10)
    prometheus.wait_for_result("watcher_router_service_seconds_count == 30", 10)
    # A full cycle every 2 s judges the sample the follower read.
    prometheus.wait_for_result('watcher_pg_load_average{window="5m"} == 1.5', 10)
    prometheus.wait_for_result("watcher_pg_waiting_connections == 2", 10)
    failures = prometheus.query("watcher_notification_failures_total")
    # slack_sdk sees the outage's HTML page as HTTP 503: a transient failure, retried.
    assert [(f["metric"]["channel"], f["metric"]["reason"]) for f in failures] == [
        ("slack", "http_503")
    ]
    scraped.slack.wait_for(lambda: bool(scraped.slack.messages), timeout=10)
    prometheus.wait_for_result('watcher_notifications_total{channel="slack"} > 0', timeout=10)

    # -- the rules of deploy/prometheus/alerts.yml are loaded and evaluate -------------------
    groups = prometheus.rules()
    assert {Path(g["file"]).resolve() for g in groups} == {RULES.resolve()}
    rules = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert {r["name"] for r in rules} == ALERTS
    wait_until(
        lambda: all(r["health"] == "ok" for g in prometheus.rules() for r in g["rules"]),
        10,
        "every rule evaluated without error",
    )
    # The failed attempt of a moment ago was retried and delivered: it pages no one (the old
    # rule, on attempts, fired here within a few evaluations). Nothing failed for good, and
    # the backlog is empty.
    prometheus.wait_for_result("watcher_notifications_pending == 0", timeout=10)
    time.sleep(5)  # five rule evaluations at the 1 s interval
    assert not alerts_for(prometheus, "WatcherNotificationsFailing")
    assert not prometheus.query("watcher_notifications_failed_total")

    # -- a CRITICAL check is an alert without Slack: healthz says the app writes to SQLite ----
    assert not alerts_for(prometheus, "WatcherCheckCritical", check="healthz")
    scraped.healthz.reply = healthy(db="sqlite")
    flipped = time.monotonic()
    wait_until(
        lambda: bool(alerts_for(prometheus, "WatcherCheckCritical", check="healthz")),
        15,
        "WatcherCheckCritical for check healthz",
    )
    [critical] = alerts_for(prometheus, "WatcherCheckCritical", check="healthz")
    assert critical["state"] in ("pending", "firing")
    assert critical["labels"]["severity"] == "critical" and critical["labels"]["job"] == JOB
    timings["critical alert"] = time.monotonic() - flipped
    assert value(prometheus, 'watcher_check_state{check="healthz"}') == 2
    # A watcher that is scraped and cycling is neither down nor stale.
    assert not alerts_for(prometheus, "WatcherDown")
    assert not alerts_for(prometheus, "WatcherCycleStale")

    # -- /metrics refuses a scrape without the token, or with another one -------------------
    def refused() -> dict[str, str]:
        return {
            t["labels"]["job"]: t["lastError"]
            for t in prometheus.targets()
            if t["labels"]["job"] != JOB and t["health"] == "down"
        }

    wait_until(lambda: len(refused()) == 2, 10, "the scrapes without the token are down")
    for job, error in refused().items():
        assert "401" in error, (job, error)
    assert value(prometheus, 'up{job="wrong-token"}') == 0
    assert value(prometheus, 'up{job="no-token"}') == 0
    assert not prometheus.query('watcher_build_info{job=~"wrong-token|no-token"}')
    plain = httpx.get(scraped.metrics_url, timeout=2, trust_env=False)
    assert plain.status_code == 401 and "watcher_" not in plain.text

    # -- SIGTERM: gone within the SPEC's 10 s, and Prometheus sees it go -------------------
    stopping = time.monotonic()
    scraped.process.send_signal(signal.SIGTERM)
    output, _ = scraped.process.communicate(timeout=12)
    timings["sigterm"] = time.monotonic() - stopping
    assert timings["sigterm"] < 10, output
    assert scraped.process.returncode == 0, output
    assert METRICS_TOKEN not in output
    prometheus.wait_for_result(f'up{{job="{JOB}"}} == 0', timeout=10)
    print({name: round(seconds, 1) for name, seconds in timings.items()})
