"""`watcher run` as a real subprocess against the shared fakes and the test PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOOPBACK_DEFAULTS
from tests.fakes import heroku as heroku_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.logplex import SESSION_TOKEN, FakeLogplex
from tests.fakes.sentry_ingest import FakeSentryIngest
from tests.fakes.slack import FakeSlack
from tests.support.postgres import OWNER_PASSWORD, WatchedDatabase, free_port
from tests.support.pushgateway import Pushgateway

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-7f3e1d"


@dataclass
class Running:
    process: subprocess.Popen[str]
    metrics_url: str
    logplex: FakeLogplex
    slack: FakeSlack
    heroku: FakeHeroku
    sentry: FakeSentryIngest
    pushgateway: Pushgateway

    def output(self) -> str:
        out, _ = self.process.communicate(timeout=15)
        return out


@pytest.fixture
def daemon(
    watched_db: WatchedDatabase, healthz_server: FakeHealthz, slack: FakeSlack, tmp_path: Path
) -> Iterator[Running]:
    with (
        FakeHeroku() as heroku,
        FakeLogplex(tail=True) as logplex,
        FakeSentryIngest() as sentry,
        Pushgateway() as pushgateway,
    ):
        heroku.set_info(heroku.add_postgres(), status="Available", connections="3/120")
        heroku.logplex_url = logplex.session_url
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
            "PYTHONPATH": str(ROOT),
            **LOOPBACK_DEFAULTS,
            "DATABASE_URL": watched_db.owner_url,
            "WATCHER_APP_ROLE": watched_db.app_role,
            "WATCHER_HEALTHZ_URL": healthz_server.healthz_url,
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "WATCHER_HEROKU_API_URL": heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": heroku.url,
            "SLACK_BOT_TOKEN": slack_fake.TOKEN,
            "WATCHER_SLACK_API_URL": slack.api_url,
            "WATCHER_SLACK_MENTION": "<@U024BE7LH>",
            "WATCHER_CUTOVER_AT": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WATCHER_CHECK_INTERVAL": "3",
            "WATCHER_HEALTHZ_INTERVAL": "1",
            "WATCHER_CHECK_TIMEOUT": "3",
            "WATCHER_STATE_URL": f"sqlite:///{tmp_path}/state.db",
            "WATCHER_METRICS_PORT": str(port),
            "WATCHER_METRICS_TOKEN": METRICS_TOKEN,
            "SENTRY_DSN": sentry.dsn,
            "WATCHER_PUSHGATEWAY_URL": pushgateway.url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield Running(
                process,
                f"http://127.0.0.1:{port}/metrics",
                logplex,
                slack,
                heroku,
                sentry,
                pushgateway,
            )
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


def wait_until(predicate: object, timeout: float) -> float:
    """Seconds until `predicate()` held; fails the test after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def stop(running: Running, signals: int = 1) -> float:
    started = time.monotonic()
    for _ in range(signals):
        running.process.send_signal(signal.SIGTERM)
    running.process.wait(timeout=12)
    return time.monotonic() - started


def test_a_permission_denied_line_reaches_slack_within_5_seconds(daemon: Running) -> None:
    # The follower is connected once Logplex has been asked for a session.
    wait_until(lambda: len(daemon.logplex.requests) >= 1, 20)
    time.sleep(0.5)
    now = datetime.now(UTC).isoformat()
    daemon.logplex.push(
        f"{now} app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table users"
    )
    took = wait_until(
        lambda: any("logs.permission_denied" in str(m.blocks) for m in daemon.slack.messages), 5
    )
    assert took < 5
    (paged,) = [m for m in daemon.slack.messages if "permission_denied" in str(m.blocks)]
    assert (paged.text or "").startswith("<@U024BE7LH> CRITICAL")
    assert stop(daemon) < 10
    output = daemon.output()
    assert daemon.process.returncode == 0
    # One logfmt line per event, no secret, and never the matched line itself.
    lines = output.splitlines()
    assert lines and all(line.startswith("at=") for line in lines), output
    assert "permission denied for table" not in output
    for secret in (
        heroku_fake.TOKEN,
        slack_fake.TOKEN,
        METRICS_TOKEN,
        OWNER_PASSWORD,
        SESSION_TOKEN,
    ):
        assert secret not in output


def test_sigterm_twice_still_exits_cleanly_within_10_seconds(daemon: Running) -> None:
    wait_until(lambda: len(daemon.slack.requests) >= 0 and len(daemon.logplex.requests) >= 1, 20)
    assert stop(daemon, signals=2) < 10
    assert daemon.process.returncode == 0
    assert "at=info logger=watcher.daemon msg=stopped" in daemon.output()


def test_metrics_need_the_token(daemon: Running) -> None:
    def served() -> bool:
        try:
            return httpx.get(daemon.metrics_url, timeout=1).status_code == 401
        except httpx.HTTPError:
            return False

    wait_until(served, 20)
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    wait_until(
        lambda: (
            'watcher_check_state{check="grants"}'
            in httpx.get(daemon.metrics_url, headers=headers, timeout=2).text
        ),
        20,
    )
    wrong = httpx.get(daemon.metrics_url, headers={"Authorization": "Bearer nope"}, timeout=2)
    assert wrong.status_code == 401 and "watcher_" not in wrong.text
    stop(daemon)


def test_each_cycle_checks_in_with_sentry_crons_and_pushes_metrics(daemon: Running) -> None:
    def statuses() -> list[str]:
        return [c.get("status", "") for c in daemon.sentry.check_ins()]

    wait_until(lambda: statuses().count("ok") >= 2, 20)
    (slug,) = {c["monitor_slug"] for c in daemon.sentry.check_ins()}
    assert slug == "cutover-watcher"
    assert statuses()[:2] == ["in_progress", "ok"]
    wait_until(lambda: "watcher_check_state" in daemon.pushgateway.metrics_text(), 20)
    pushed = daemon.pushgateway.metrics_text()
    assert 'job="cutover-watcher"' in pushed and 'app="raxx-api-prod"' in pushed
    assert stop(daemon) < 10
