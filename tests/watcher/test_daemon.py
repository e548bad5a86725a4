"""`watcher run` as a real subprocess against the shared fakes and the test PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
from tests.support.postgres import (
    OWNER_PASSWORD,
    PgServer,
    WatchedDatabase,
    empty_database,
    free_port,
)
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
    assert_the_log_shows_the_work(lines)
    for secret in (
        heroku_fake.TOKEN,
        slack_fake.TOKEN,
        METRICS_TOKEN,
        OWNER_PASSWORD,
        SESSION_TOKEN,
    ):
        assert secret not in output


def test_watcher_status_sees_the_daemon_and_its_incident(daemon: Running, tmp_path: Path) -> None:
    wait_until(lambda: len(daemon.logplex.requests) >= 1, 20)
    time.sleep(0.5)
    now = datetime.now(UTC).isoformat()
    daemon.logplex.push(
        f"{now} app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table users"
    )
    wait_until(
        lambda: any("logs.permission_denied" in str(m.blocks) for m in daemon.slack.messages), 10
    )
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "PYTHONPATH": str(ROOT),
        "WATCHER_STATE_URL": f"sqlite:///{tmp_path}/state.db",
    }
    # A one-off dyno's view: the store alone, no outside call.
    status = subprocess.run(
        [sys.executable, "-m", "watcher", "status", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    data = json.loads(status.stdout)
    assert status.returncode == 2, status.stdout
    assert data["daemon_running"] is True and data["daemon_seen_at"].endswith("Z")
    assert [a["id"] for a in data["incident"]["alerts"]] == ["logs.permission_denied"]
    assert stop(daemon) < 10
    assert 'msg="alert fired" alert=logs.permission_denied' in daemon.output()


def assert_the_log_shows_the_work(lines: list[str]) -> None:
    """SPEC section 8 at INFO: the start, cycles, the follower, alerts, deliveries, the stop."""

    def first(prefix: str) -> str:
        found = [line for line in lines if line.startswith(prefix)]
        assert found, f"no line starting {prefix!r} in:\n" + "\n".join(lines)
        return found[0]

    start = first('at=info logger=watcher.daemon msg="watch started" t0=')
    assert " phase=active store=sqlite" in start
    assert (
        " configured=heroku,database,slack,pushgateway,metrics_port,self_monitoring"
        " not_configured=sentry,alertmanager cycle_seconds=3.0 healthz_seconds=1.0"
    ) in start
    cycle = first('at=info logger=watcher.watch msg="cycle done" ')
    for check in ("logs=", "pg_connections=OK", "tables=OK", "grants=OK", "seconds="):
        assert f" {check}" in cycle
    assert first('at=info logger=watcher.watch msg="healthz probe done" healthz=OK seconds=')
    assert first('at=info logger=watcher.logs.follower msg="log stream connected" session=1')
    fired = first(
        'at=info logger=watcher.alerting.escalation msg="alert fired" alert=logs.permission_denied'
    )
    assert " severity=CRITICAL" in fired
    delivered = first('at=info logger=watcher.notify.delivery msg="message delivered"')
    assert " channel=slack kind=post alert=logs.permission_denied attempt=1 message=" in delivered
    assert first("at=info logger=watcher.daemon msg=stopping signal=SIGTERM")
    assert lines[-1].startswith("at=info logger=watcher.daemon msg=stopped seconds=")


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
    # `/`: the watch report, live, behind the same token.
    root = daemon.metrics_url.removesuffix("/metrics") + "/"
    page = httpx.get(root, headers=headers, timeout=10)
    assert page.status_code == 200, page.text
    assert page.text.startswith("<!DOCTYPE html>")
    assert "RM-10 watch report: raxx-api-prod" in page.text
    assert "<svg" in page.text  # healthz has been probed: its charts are drawn
    without = httpx.get(root, timeout=2)
    assert without.status_code == 401 and "RM-10" not in without.text
    assert METRICS_TOKEN not in page.text
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


# -- issue 12: a store outage, two daemons on one store, kill -9 ------------------------------

DENIED_TEXT = "psycopg2.errors.InsufficientPrivilege: permission denied for table users"


@dataclass
class Sources:
    """What one `watcher run` watches: its own Heroku API and log session (Heroku sends each
    line to every session, so a test pushes a line to every daemon's Logplex)."""

    heroku: FakeHeroku
    logplex: FakeLogplex


def _env(
    watched_db: WatchedDatabase,
    healthz: FakeHealthz,
    slack: FakeSlack,
    sources: Sources,
    state_url: str,
    port: int,
) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "PYTHONPATH": str(ROOT),
        **LOOPBACK_DEFAULTS,
        "DATABASE_URL": watched_db.owner_url,
        "WATCHER_APP_ROLE": watched_db.app_role,
        "WATCHER_HEALTHZ_URL": healthz.healthz_url,
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "WATCHER_HEROKU_API_URL": sources.heroku.url,
        "WATCHER_HEROKU_DATA_API_URL": sources.heroku.url,
        "SLACK_BOT_TOKEN": slack_fake.TOKEN,
        "WATCHER_SLACK_API_URL": slack.api_url,
        "WATCHER_SLACK_MENTION": "<@U024BE7LH>",
        "WATCHER_CUTOVER_AT": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "WATCHER_CHECK_INTERVAL": "3",
        "WATCHER_HEALTHZ_INTERVAL": "1",
        "WATCHER_CHECK_TIMEOUT": "3",
        "WATCHER_STATE_URL": state_url,
        "WATCHER_METRICS_PORT": str(port),
    }


@contextlib.contextmanager
def _sources() -> Iterator[Sources]:
    with FakeHeroku() as heroku, FakeLogplex(tail=True) as logplex:
        heroku.set_info(heroku.add_postgres(), status="Available", connections="3/120")
        heroku.logplex_url = logplex.session_url
        yield Sources(heroku, logplex)


@contextlib.contextmanager
def _watcher(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    with open(cwd / f"watcher-{env['WATCHER_METRICS_PORT']}.log", "a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def _self_state(port: int) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith('watcher_check_state{check="watcher"}'):
            return float(line.split()[-1])
    return None


def _states_until(port: int, wanted: float, timeout: float) -> list[float]:
    """The watcher's own states seen (in order, without repeats) until `wanted` or `timeout`."""
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _self_state(port)
        if state is not None and (not seen or seen[-1] != state):
            seen.append(state)
        if state == wanted:
            break
        time.sleep(0.1)
    return seen


def _pages(slack: FakeSlack, finding: str = "permission_denied") -> int:
    return sum(1 for m in slack.top_level() if finding in str(m.blocks))


def _stored_count(state: Callable[[str], object], pattern: str) -> int:
    value = state(f"SELECT coalesce(sum(count), 0) FROM log_counts WHERE pattern = '{pattern}'")
    return int(value)  # type: ignore[call-overload]


def _now_line(text: str, source: str = "app[web.1]") -> str:
    return f"{datetime.now(UTC).isoformat()} {source}: {text}"


def test_a_state_store_outage_does_not_silence_delivery_and_shows_as_unknown(
    watched_db: WatchedDatabase,
    healthz_server: FakeHealthz,
    slack: FakeSlack,
    pg_server: PgServer,
    tmp_path: Path,
) -> None:
    with empty_database(pg_server) as store, _sources() as sources:
        port = free_port()
        env = _env(watched_db, healthz_server, slack, sources, store.url, port)
        with _watcher(env, tmp_path) as process:
            wait_until(lambda: _self_state(port) == 0, 30)
            admin = pg_server.admin()
            try:
                with admin.cursor() as cur:
                    # The store goes away: no new session, and the daemon's is ended.
                    cur.execute(f"ALTER DATABASE {store.name} ALLOW_CONNECTIONS false")
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        f" WHERE datname = '{store.name}'"
                    )
                # Its own health turns UNKNOWN from what it knows in memory.
                seen = _states_until(port, 3, 20)
                # A CRITICAL line during the outage is counted, and paged once the store is back.
                sources.logplex.push(_now_line(DENIED_TEXT))
                time.sleep(3)
                paged_during = _pages(slack)
                with admin.cursor() as cur:
                    cur.execute(f"ALTER DATABASE {store.name} ALLOW_CONNECTIONS true")
            finally:
                admin.close()
            back = time.monotonic()
            with contextlib.suppress(AssertionError):
                wait_until(lambda: _pages(slack) >= 1, 30)
            took = time.monotonic() - back
            after = _states_until(port, 0, 20)
            print(
                f"\nEVIDENCE store outage: own state during it {sorted(seen)}; pages during it"
                f" {paged_during}; pages {took:.1f} s after it ended {_pages(slack)};"
                f" own state after {after[-1:]}; process alive {process.poll() is None}"
            )
            assert 3 in seen and paged_during == 0
            assert _pages(slack) == 1 and took < 30 and after[-1:] == [0]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=12) == 0
        assert _pages(slack) == 1
        log = (tmp_path / f"watcher-{port}.log").read_text()
        assert "thread deliver failing" in log and "works again" in log
        # Logged once per kind of failure, not once per retry.
        assert log.count('at=error logger=watcher.daemon msg="thread deliver failing') <= 2


def test_two_daemons_on_one_store_page_once_and_count_each_line_once(
    watched_db: WatchedDatabase,
    healthz_server: FakeHealthz,
    slack: FakeSlack,
    pg_server: PgServer,
    tmp_path: Path,
) -> None:
    with empty_database(pg_server) as store, _sources() as one, _sources() as two:
        ports = (free_port(), free_port())
        envs = [
            _env(watched_db, healthz_server, slack, sources, store.url, port)
            for sources, port in zip((one, two), ports, strict=True)
        ]
        with _watcher(envs[0], tmp_path) as first, _watcher(envs[1], tmp_path) as second:
            for port in ports:
                wait_until(lambda port=port: _self_state(port) == 0, 30)
            for sources in (one, two):
                wait_until(lambda sources=sources: len(sources.logplex.requests) >= 1, 20)
            time.sleep(0.5)
            line = _now_line(DENIED_TEXT)
            one.logplex.push(line)
            two.logplex.push(line)
            wait_until(lambda: _pages(slack) >= 1, 20)
            admin = pg_server.admin(store.name)
            try:

                def stored(sql: str) -> object:
                    with admin.cursor() as cur:
                        cur.execute(sql.replace("FROM ", "FROM watcher."))
                        return cur.fetchone()[0]  # type: ignore[index]

                # Both daemons have seen the line (each counted it in memory) ...
                wait_until(lambda: _stored_count(stored, "permission_denied") >= 1, 10)
                time.sleep(3)  # ... and had every chance to page it and store it again
                count = _stored_count(stored, "permission_denied")
            finally:
                admin.close()
            alive = first.poll() is None and second.poll() is None
        print(
            f"\nEVIDENCE two daemons on one store: pages {_pages(slack)}; stored count {count};"
            f" both alive {alive}"
        )
        assert (_pages(slack), count, alive) == (1, 1, True)


def test_kill_9_after_a_match_does_not_count_the_replayed_line_again(
    watched_db: WatchedDatabase,
    healthz_server: FakeHealthz,
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    state_db = tmp_path / "state.db"

    def stored(sql: str) -> object:
        with contextlib.closing(sqlite3.connect(state_db)) as conn:
            return conn.execute(sql).fetchone()[0]

    with _sources() as sources:
        port = free_port()
        env = _env(watched_db, healthz_server, slack, sources, f"sqlite:///{state_db}", port)
        # One full cycle at the start, the next in 15 minutes: the follower's memory is saved
        # after that first cycle, and then not before the timeline's next look (30 s).
        env["WATCHER_CHECK_INTERVAL"] = "900"

        def first_cycle_done() -> bool:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return False
            return 'watcher_check_state{check="grants"}' in text

        with _watcher(env, tmp_path) as process:
            wait_until(lambda: len(sources.logplex.requests) >= 1, 20)
            wait_until(first_cycle_done, 30)
            time.sleep(1.5)  # past the timeline's first look (1 s after the start)
            sources.logplex.push(_now_line(DENIED_TEXT))
            wait_until(lambda: _stored_count(stored, "permission_denied") == 1, 10)
            process.kill()  # kill -9: long before the follower's memory is saved (30 s)
            process.wait(timeout=10)
        # A line written while it was down: the new session's replay brings it after the
        # counted one, so once it is counted the replay has been read. (Into the history
        # only: the killed session's handler may still be reading the live queue.)
        sources.logplex.history.append(
            _now_line("Error R14 (Memory quota exceeded)", "heroku[web.2]")
        )
        with _watcher(env, tmp_path) as again:
            wait_until(lambda: _stored_count(stored, "memory") == 1, 20)
            count = _stored_count(stored, "permission_denied")
            print(f"\nEVIDENCE kill -9: stored count of the line after the restart {count}")
            assert count == 1
            again.send_signal(signal.SIGTERM)
            again.wait(timeout=12)


def test_the_watchdog_restarts_a_stopped_thread_then_exits_non_zero(tmp_path: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from tests.support.clock import FakeClock
    from watcher.daemon import MAX_RESTARTS, Daemon
    from watcher.notify.notifier import Notifier
    from watcher.redact import Redactor
    from watcher.settings import load_settings
    from watcher.store.state import StateStore
    from watcher.watch import Watch

    settings = load_settings(state_url=f"sqlite:///{tmp_path}/state.db")
    clock = FakeClock()
    daemon = Daemon(settings, clock, Redactor([]))
    store = StateStore.from_url(settings.state_url.get_secret_value())
    with httpx.Client() as http:
        notifier = Notifier(settings, store, clock, http, daemon.metrics)
        watch = Watch(settings, store, clock, http, daemon.metrics, notifier, Redactor([]))
        scheduler = BackgroundScheduler()
        scheduler.start(paused=True)
        runs: list[int] = []
        try:
            daemon._thread("short-lived", lambda: runs.append(1))  # ends at once: a dead thread
            codes = []
            for _ in range(MAX_RESTARTS + 1):
                daemon._threads["short-lived"][0].join(5)
                codes.append(daemon.watchdog(watch, scheduler))
            assert codes == [0] * MAX_RESTARTS + [1]
            assert len(runs) == MAX_RESTARTS + 1  # started, then restarted each time
            restarts = daemon.registry.get_sample_value(
                "watcher_thread_restarts_total", {"thread": "short-lived"}
            )
            assert restarts == MAX_RESTARTS + 1
        finally:
            scheduler.shutdown(wait=False)
            store.close()
    # A scheduler that stopped: the process exits non-zero, so Heroku restarts the dyno.
    daemon._threads.clear()
    assert not scheduler.running
    assert daemon.watchdog(watch, scheduler) == 1
