"""`logs`, `router` and `pg_metrics` read one log: one session in `once`, the follower in `run`,
and both paths give the same verdict on the same lines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from checks import pg_metrics, router
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_tally import LogTally
from checks.logparse.log_window import Coverage, LogWindow
from checks.result import State
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.heroku import FakeHeroku
from tests.fakes.log_lines import postgres_metrics_line, router_line
from tests.fakes.logplex import PLAIN, FakeLogplex
from tests.support.clock import CUTOVER, FakeClock
from watcher.checking.runner import CheckReport, run_checks
from watcher.checking.sources import CheckSet
from watcher.logs.follower import LogFollower
from watcher.redact import Redactor
from watcher.settings import Settings, load_settings
from watcher.store.state import StateStore

NOW = CUTOVER + timedelta(hours=2)
LOG_CHECKS = ("logs", "router", "pg_metrics")


def scenario() -> list[str]:
    """60 requests before T0 at 40 ms (the baseline), then a window with 5xx and slow requests,
    Postgres samples of the database (load over the warning) and of a follower."""
    lines = [router_line(CUTOVER - timedelta(minutes=50, seconds=i)) for i in range(60)]
    window = NOW - timedelta(minutes=10)
    for i in range(100):
        at = window + timedelta(seconds=5 * i)
        status = 503 if i % 10 == 0 else 200
        lines.append(router_line(at, status=status, service_ms=120 if i % 3 else 40))
    lines += [
        postgres_metrics_line(NOW - timedelta(minutes=3), load_5m=1.4),
        postgres_metrics_line(
            NOW - timedelta(minutes=2),
            source="HEROKU_POSTGRESQL_SILVER",
            addon="postgresql-shallow-81337",
            load_5m=9.0,
        ),
        f"{(NOW - timedelta(minutes=1)).isoformat()} heroku[router]: at=info code=H80"
        ' desc="Maintenance mode" method=GET path="/" host=api.raxx.app fwd="203.0.113.9"'
        " dyno= connect= service= status=503 bytes= protocol=https",
    ]
    return lines


def settings_for(heroku: FakeHeroku, tmp_path: Path) -> Settings:
    return load_settings(
        heroku_api_key=heroku_fake.TOKEN,
        heroku_api_url=heroku.url,
        heroku_data_api_url=heroku.url,
        cutover_at=CUTOVER,
        check_timeout=5,
        state_url=f"sqlite:///{tmp_path}/state.db",
    )


@pytest.fixture
def heroku() -> Iterator[FakeHeroku]:
    with FakeHeroku() as fake:
        yield fake


def once(settings: Settings, clock: FakeClock) -> dict[str, CheckReport]:
    store = StateStore.from_url(settings.state_url.get_secret_value())
    with httpx.Client() as http:
        checkset = CheckSet(settings, store, clock, http)
        try:
            reports = run_checks(
                checkset.planned(LOG_CHECKS), settings.check_timeout, clock, Redactor([])
            )
        finally:
            checkset.close()
            store.close()
    return {r.name: r for r in reports}


def test_once_reads_one_session_for_the_three_log_checks(
    heroku: FakeHeroku, tmp_path: Path
) -> None:
    with FakeLogplex() as logplex:
        logplex.history = scenario()
        heroku.logplex_url = logplex.session_url
        reports = once(settings_for(heroku, tmp_path), FakeClock(NOW))
        sessions = [r for r in heroku.platform_requests() if r.path.endswith("/log-sessions")]
        assert len(sessions) == 1 and len(logplex.requests) == 1
    assert list(reports) == ["logs", "router", "pg_metrics"]
    routed = reports["router"].result
    # 10 of 100 failed (the H80 line is no request): CRITICAL; p95 120 ms is 3x the 40 ms baseline.
    assert routed.state is State.CRITICAL
    assert {f.id for f in routed.findings} == {"router.errors", "router.latency"}
    assert "10 of 100 requests failed" in routed.summary
    assert "baseline p95 of 40 ms (measured from 60 requests before T0)" in routed.summary
    sampled = reports["pg_metrics"].result
    assert sampled.state is State.WARNING  # the database's 1.4, not the follower's 9.0
    assert [f.id for f in sampled.findings] == ["pg_metrics.load"]
    assert reports["logs"].result.state is State.OK


def test_a_log_session_that_fails_makes_all_three_unknown_with_its_reason(
    heroku: FakeHeroku, tmp_path: Path
) -> None:
    with FakeLogplex() as logplex:
        logplex.status = 503
        heroku.logplex_url = logplex.session_url
        reports = once(settings_for(heroku, tmp_path), FakeClock(NOW))
        assert len(logplex.requests) == 1  # tried once, not once per check
    summaries = {r.result.summary for r in reports.values()}
    assert {r.result.state for r in reports.values()} == {State.UNKNOWN}
    assert summaries == {"Logplex answered HTTP 503"}


def test_the_measured_baseline_is_kept_for_later_runs(heroku: FakeHeroku, tmp_path: Path) -> None:
    settings = settings_for(heroku, tmp_path)
    with FakeLogplex() as logplex:
        heroku.logplex_url = logplex.session_url
        logplex.history = scenario()
        once(settings, FakeClock(NOW))
        # Hours later Logplex no longer holds lines from before T0.
        logplex.history = scenario()[60:]
        later = once(settings, FakeClock(NOW))["router"].result
    assert "baseline p95 of 40 ms (measured before T0, kept since" in later.summary


def test_follower_and_one_shot_give_the_same_verdict(heroku: FakeHeroku, tmp_path: Path) -> None:
    lines = scenario()
    settings = settings_for(heroku, tmp_path)
    clock = FakeClock(NOW)
    with FakeLogplex() as logplex:
        logplex.history = lines
        heroku.logplex_url = logplex.session_url
        one_shot = once(settings, clock)
    # The same lines through the follower of `watcher run`, fed into fresh counts.
    (tmp_path / "state.db").unlink()
    with FakeLogplex(PLAIN, tail=True) as tailing, httpx.Client() as http:
        tailing.history = lines
        heroku.logplex_url = tailing.session_url
        api = HerokuApi(
            http, HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP), clock
        )
        stats = router.RouterStats(CUTOVER)
        samples = pg_metrics.PgSamples(CUTOVER)
        matcher = LogMatcher(catalogue(settings.app_role))
        follower = LogFollower(
            api,
            http,
            matcher,
            clock,
            readers=(stats, samples),
        )
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while follower.health.lines_seen < len(lines):
                assert time.monotonic() < deadline, "the follower did not read the lines"
                time.sleep(0.01)
        finally:
            follower.stop()
            thread.join(5)
    store = StateStore.from_url(settings.state_url.get_secret_value())
    with httpx.Client() as http:
        checkset = CheckSet(settings, store, clock, http)
        window = LogWindow(LogTally(), matcher, clock.now(), Coverage("followed"), stats, samples)
        followed = {
            "router": router.CHECK.evaluate(window, checkset),
            "pg_metrics": pg_metrics.CHECK.evaluate(window, checkset),
        }
    store.close()
    for name, result in followed.items():
        assert result == one_shot[name].result, name
