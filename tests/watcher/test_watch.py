"""A whole 24-hour watch in seconds: the jobs of `watcher run` on a moved clock.

The checks talk to the real fakes and the test PostgreSQL; Slack is the fake Web API. Run with
`-s` to see the timeline the watch posted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.result import State
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.healthz import FakeHealthz, healthy
from tests.fakes.heroku import FakeHeroku
from tests.fakes.log_lines import postgres_metrics_line
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.clock import CUTOVER, FakeClock
from tests.support.fake_settings import settings_against
from tests.support.postgres import WatchedDatabase
from watcher.logs.follower import LogFollower
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import Settings
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics
from watcher.watch import Watch

MINUTE = 60
HEALTHZ_EVERY, CYCLE_EVERY = 5 * MINUTE, 15 * MINUTE


@dataclass
class Sources:
    healthz: FakeHealthz
    slack: FakeSlack
    sentry: FakeSentry
    registry: CollectorRegistry
    logplex: FakeLogplex


class Run:
    """One watcher process over a store that outlives it; `restart()` starts another."""

    def __init__(self, settings: Settings, sources: Sources, clock: FakeClock, http: httpx.Client):
        self.settings, self.sources, self.clock, self.http = settings, sources, clock, http
        self.watch: Watch | None = None
        self.restart()

    def restart(self) -> None:
        if self.watch is not None:
            self.watch.store.close()
        store = StateStore.from_url(self.settings.state_url.get_secret_value())
        # A new process: a new registry.
        self.sources.registry = CollectorRegistry()
        metrics = Metrics(self.sources.registry, "test")
        notifier = Notifier(self.settings, store, self.clock, self.http, metrics)
        self.watch = Watch(
            self.settings, store, self.clock, self.http, metrics, notifier, Redactor([])
        )

    def until(self, hours: float, step: int = 5 * MINUTE) -> None:
        """Run the jobs as the scheduler would, until `hours` after T0."""
        assert self.watch is not None
        end = CUTOVER + timedelta(hours=hours)
        while self.clock.now() < end:
            elapsed = int((self.clock.now() - CUTOVER).total_seconds())
            if elapsed % CYCLE_EVERY == 0:
                # A Standard database writes its metrics into the app's log.
                self.sources.logplex.push(postgres_metrics_line(self.clock.now()))
                self.watch.full_cycle()
            elif elapsed % HEALTHZ_EVERY == 0:
                self.watch.healthz_probe()
            self.watch.post_marks()
            self.watch.deliver()
            self.clock.advance(step)


@pytest.fixture
def sources(watched_db: WatchedDatabase, tmp_path: Path) -> Iterator[tuple[Settings, Sources]]:
    with (
        FakeHealthz() as healthz,
        FakeSlack() as slack,
        FakeSentry() as sentry,
        FakeHeroku() as heroku,
        FakeLogplex() as logplex,
    ):
        heroku.set_info(heroku.add_postgres(), status="Available", connections="6/120")
        heroku.logplex_url = logplex.session_url
        settings = settings_against(
            watched_db,
            healthz,
            heroku,
            sentry,
            slack,
            cutover_at=CUTOVER,
            state_url=f"sqlite:///{tmp_path}/state.db",
        )
        yield settings, Sources(healthz, slack, sentry, CollectorRegistry(), logplex)


@pytest.fixture
def run(sources: tuple[Settings, Sources]) -> Iterator[Run]:
    settings, fakes = sources
    with httpx.Client() as http:
        started = Run(settings, fakes, FakeClock(CUTOVER), http)
        yield started
        assert started.watch is not None
        started.watch.store.close()
        print("\n" + timeline(fakes.slack))


def timeline(slack: FakeSlack) -> str:
    """What the channel shows, oldest first, replies indented."""
    lines = []
    for message in slack.top_level():
        lines.append(f"{message.ts} {(message.current_text or '').splitlines()[0][:160]}")
        lines += [f"    ↳ {(r.text or '')[:150]}" for r in slack.replies(message.ts)]
    return "\n".join(lines)


def titles(slack: FakeSlack) -> list[str]:
    return [(m.text or "").splitlines()[0] for m in slack.top_level()]


def test_a_clean_watch_posts_each_mark_once_and_opens_the_gate(
    run: Run, sources: tuple[Settings, Sources], caplog: pytest.LogCaptureFixture
) -> None:
    _, fakes = sources
    caplog.set_level(logging.INFO, logger="watcher")
    run.until(hours=25)
    # Its log shows the work (SPEC section 8): every cycle's and probe's end, each mark.
    logged = [r.getMessage() for r in caplog.records if r.name == "watcher.watch"]
    assert logged.count("cycle done") == 100  # every 15 min for 25 hours
    assert logged.count("healthz probe done") == 200  # every 5 min between them
    assert [m for m in logged if m.startswith("posted")] == [
        "posted the 4h mark",
        "posted the 8h mark",
        "posted the 24h mark",
    ]
    cycle = next(r for r in caplog.records if r.getMessage() == "cycle done")
    assert run.watch is not None
    every_but_healthz = [n for n in run.watch.checks.names if n != "healthz"]
    assert list(getattr(cycle, "fields", {})) == [*every_but_healthz, "seconds"]
    assert titles(fakes.slack) == [
        "RM-10 4-hour result: clean — RM-11 gate OPEN",
        "RM-10 8-hour dashboard mark",
        "RM-10 24-hour dashboard mark: final report",
    ]
    assert fakes.registry.get_sample_value("watcher_rm11_gate_open") == 1
    assert fakes.registry.get_sample_value("watcher_watch_elapsed_seconds") == pytest.approx(
        25 * 3600 - 5 * MINUTE
    )
    final = fakes.slack.top_level()[-1]
    assert "heroku ps:scale worker=0" in (final.text or "")


def test_an_incident_in_the_active_watch_pages_once_and_closes_the_gate(
    run: Run, sources: tuple[Settings, Sources]
) -> None:
    _, fakes = sources
    run.until(hours=2)
    fakes.healthz.reply = healthy(db="sqlite")
    run.until(hours=2.5)
    fakes.healthz.reply = healthy()
    run.until(hours=25)
    paged, *marks = fakes.slack.top_level()
    assert (paged.text or "").startswith("<@U024BE7LH> CRITICAL raxx-api-prod healthz")
    assert (paged.current_text or "").startswith("RESOLVED (was CRITICAL)")
    reminder, resolved = (r.text or "" for r in fakes.slack.replies(paged.ts))
    # Nobody acknowledged: the incident's reminder pings the on-call again.
    assert reminder.startswith("<@U024BE7LH> still CRITICAL after 30 min (since 16:53Z)")
    assert resolved.startswith(":white_check_mark: resolved: `healthz.db_sqlite` is clear")
    assert titles(fakes.slack)[1] == "RM-10 4-hour result: issues found — RM-11 gate CLOSED"
    assert len(marks) == 3
    assert fakes.registry.get_sample_value("watcher_rm11_gate_open") == 0


def test_a_restart_in_the_middle_resumes_without_reposting_or_repaging(
    run: Run, sources: tuple[Settings, Sources]
) -> None:
    _, fakes = sources
    run.until(hours=9)
    fakes.healthz.reply = healthy(db="sqlite")
    run.until(hours=9.25)
    before = len(fakes.slack.messages)
    run.restart()  # the daily dyno cycling, while an alert is open
    run.until(hours=9.5)
    assert len(fakes.slack.top_level()) == 3  # 4h, 8h, the page: nothing again
    fakes.healthz.reply = healthy()
    run.until(hours=25)
    four, eight, paged, final = titles(fakes.slack)
    assert (four, eight, final) == (
        "RM-10 4-hour result: clean — RM-11 gate OPEN",
        "RM-10 8-hour dashboard mark",
        "RM-10 24-hour dashboard mark: final report",
    )
    assert paged.startswith("<@U024BE7LH> CRITICAL raxx-api-prod healthz: `db=sqlite")
    assert len(fakes.slack.messages) > before


def test_a_mark_missed_while_down_is_posted_late_and_says_so(
    run: Run, sources: tuple[Settings, Sources]
) -> None:
    _, fakes = sources
    run.until(hours=7.5)
    run.clock.advance(3 * 3600)  # the worker was down from 7.5 h to 10.5 h
    run.restart()
    run.until(hours=11)
    eight = fakes.slack.top_level()[-1]
    assert (eight.text or "").startswith("RM-10 8-hour dashboard mark")
    assert "posted late: due 2026-05-16 22:48Z, the watcher was down" in (eight.text or "")


def test_a_gap_the_replay_cannot_cover_is_a_warning_a_blind_window_and_a_metric(
    run: Run, sources: tuple[Settings, Sources]
) -> None:
    _, fakes = sources
    assert run.watch is not None
    watch = run.watch
    with FakeHeroku() as heroku, FakeLogplex(tail=True, replay=3) as logplex:
        heroku.logplex_url = logplex.session_url
        follower = LogFollower(
            HerokuApi(
                run.http,
                HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP),
                run.clock,
            ),
            run.http,
            LogMatcher(catalogue(watch.settings.app_role), watch.settings.own_dyno),
            run.clock,
            on_match=watch.on_log_match,
            replay_lines=3,
            idle_timeout=5,
        )
        watch.attach(follower)
        logplex.history = [_line(m, f"app[web.1]: GET /q/{m} 200") for m in range(3)]
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            _wait(lambda: follower.health.lines_seen == 3)
            # Logplex down while more lines were written than its replay holds: the CRITICAL
            # one among them is lost (Logplex's limit), and the watcher must say so.
            logplex.history += [
                _line(5, "app[web.1]: permission denied for table users"),
                *(_line(10 + m, f"app[web.1]: GET /away/{m} 200") for m in range(3)),
            ]
            logplex.end_stream()
            _wait(lambda: follower.health.lines_seen == 6)
        finally:
            follower.stop()
            thread.join(5)
    watch.escalate_logs()
    reports = {r.name: r for r in watch.full_cycle()}
    findings = {f.id: f for f in reports["logs"].result.findings}
    gap = findings["logs.stream_gap"]
    assert gap.state == State.WARNING
    assert gap.summary == "lines between 14:50:42Z and 14:58:42Z may be lost"
    watch.deliver()
    assert any(
        "lines between 14:50:42Z and 14:58:42Z" in (m.text or "") for m in fakes.slack.messages
    )
    # A blind window for the 4-hour result and the marks; counted in a metric.
    blind = [e for e in watch.store.alerts.events() if e.event == "blind"]
    assert [(e.alert_id, e.summary) for e in blind] == [
        ("logs.stream_gap", "lines between 14:50:42Z and 14:58:42Z may be lost")
    ]
    assert fakes.registry.get_sample_value("watcher_log_stream_gaps_total") == 1


def _line(minute: float, rest: str) -> str:
    return f"{(CUTOVER + timedelta(minutes=minute)).isoformat()} {rest}"


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)
