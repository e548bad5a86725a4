"""The log follower against the fake Heroku and Logplex over real HTTP, on an injected clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from checks.logparse.log_patterns import LogMatcher, Match, catalogue
from checks.logparse.log_tally import LogTally
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import SilentServer, json_reply
from tests.fakes.logplex import EVENTS, PLAIN, FakeLogplex
from tests.support.clock import CUTOVER, FakeClock
from watcher.logs.follower import LogFollower
from watcher.redact import Redactor
from watcher.telemetry.logfmt import LogfmtFormatter

MINUTE = timedelta(minutes=1)


def line(minute: float, rest: str) -> str:
    return f"{(CUTOVER + timedelta(minutes=minute)).isoformat()} {rest}"


QUIET = [line(m, f"app[web.1]: GET /api/quotes/{m} 200") for m in range(5)]
DENIED = line(
    6, "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table users"
)


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Bounded wait for the follower's thread to get somewhere."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the follower did not get there in time"
        time.sleep(0.01)


@dataclass
class Running:
    follower: LogFollower
    tally: LogTally
    clock: FakeClock
    heroku: FakeHeroku
    logplex: FakeLogplex
    matches: list[Match] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self, *history: str) -> None:
        """Logplex holds `history`, then the follower starts."""
        self.logplex.history = list(history)
        self.thread = threading.Thread(target=self.follower.run, daemon=True)
        self.thread.start()

    def counted(self, pattern: str) -> int:
        counts = self.tally.patterns.get(pattern)
        return counts.total if counts else 0


@pytest.fixture(params=[PLAIN, EVENTS], ids=["plain", "event-stream"])
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    with (
        FakeHeroku() as heroku,
        FakeLogplex(request.param, tail=True) as logplex,
        httpx.Client() as http,
    ):
        heroku.logplex_url = logplex.session_url
        clock = FakeClock(CUTOVER + timedelta(minutes=10))
        api = HerokuApi(
            http, HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP), clock
        )
        matches: list[Match] = []
        follower = LogFollower(
            api,
            http,
            LogMatcher(catalogue("raptor_app"), "worker.1"),
            clock,
            on_match=lambda match, key: matches.append(match),
            idle_timeout=2.0,
        )
        state = Running(follower, follower.tally, clock, heroku, logplex, matches)
        try:
            yield state
        finally:
            follower.stop()
            if state.thread is not None:
                state.thread.join(5)
        assert state.thread is None or not state.thread.is_alive(), "stop() did not end run()"


def test_history_then_live_lines_are_counted_and_matches_heard_at_once(running: Running) -> None:
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.lines_seen == 5)
    running.logplex.push(
        DENIED, line(7, "app[worker.1]: permission denied for table users (quoted)")
    )
    wait_until(lambda: running.follower.health.lines_seen == 7)
    assert running.counted("permission_denied") == 1  # the watcher's own dyno is not counted
    assert [m.pattern.id for m in running.matches] == ["permission_denied"]
    health = running.follower.health
    assert (
        health.connected and health.reconnects == 0 and health.last_line_at == running.clock.now()
    )
    assert running.heroku.log_session_bodies == [{"lines": 1500, "tail": True}]


def test_reconnect_replaying_old_lines_counts_nothing_twice(running: Running) -> None:
    running.start(*QUIET, DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 6)
    running.logplex.end_stream()
    wait_until(
        lambda: running.follower.health.reconnects == 1 and running.follower.health.connected
    )
    running.logplex.push(line(8, "app[web.1]: GET /healthz 200"))
    wait_until(lambda: running.follower.health.lines_seen == 7)
    assert running.tally.lines == 7
    assert running.counted("permission_denied") == 1
    assert running.follower.health.last_error == "log stream ended"  # why it reconnected
    assert running.follower.health.gaps == 0
    assert running.clock.slept == [0.5]


def test_stream_cut_mid_line_then_resumed_loses_and_doubles_nothing(running: Running) -> None:
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.lines_seen == 5)
    running.logplex.push(line(6, "app[web.1]: GET /one 200"))
    running.logplex.cut_stream(DENIED.encode()[:40])  # half of the next line, then the cut
    wait_until(
        lambda: running.follower.health.reconnects == 1 and running.follower.health.connected
    )
    # The replayed lines were all counted before: nothing new yet, so the break is still news.
    assert running.follower.health.last_error == (
        "log stream broke: the server closed the connection or spoke broken HTTP"
    )
    assert running.follower.health.lines_seen == 6
    running.logplex.push(DENIED)  # Logplex has the whole line now; the new session sends it
    wait_until(lambda: running.follower.health.lines_seen == 7)
    assert running.counted("permission_denied") == 1
    assert running.tally.lines == 7


def test_a_line_repeated_after_the_replay_counts_again(running: Running) -> None:
    running.start(DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 1)
    running.logplex.push(DENIED)  # the same text, logged again
    wait_until(lambda: running.follower.health.lines_seen == 2)
    assert running.counted("permission_denied") == 2


def test_an_idle_stream_is_reopened(running: Running) -> None:
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.reconnects >= 1, seconds=8)
    assert running.follower.health.last_error == "no log line for 2 s"
    assert running.tally.lines == 5  # the replay after the idle reconnect counted nothing twice


def test_refused_sessions_back_off_to_5_s_and_recover(running: Running) -> None:
    running.heroku.failures = [
        json_reply({"id": "unauthorized", "message": "Invalid credentials provided."}, 401)
    ] * 7
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.lines_seen == 5)
    assert running.clock.slept[:7] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert running.follower.health.reconnects == 7


def test_refused_session_names_the_token_problem(running: Running) -> None:
    running.heroku.failures = [json_reply({"id": "unauthorized", "message": "no"}, 401)] * 1000
    running.start()
    wait_until(lambda: running.follower.health.reconnects >= 3)
    health = running.follower.health
    assert not health.connected
    assert "HEROKU_API_KEY" in (health.last_error or "")
    assert heroku_fake.TOKEN not in (health.last_error or "")


def test_logplex_refusing_is_retried(running: Running) -> None:
    running.logplex.status = 503
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.reconnects >= 2)
    assert running.follower.health.last_error == "Logplex answered HTTP 503"
    running.logplex.status = 200
    wait_until(lambda: running.follower.health.lines_seen == 5)


def test_stop_ends_a_quiet_follow_promptly(running: Running) -> None:
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.connected)
    started = time.monotonic()
    running.follower.stop()
    wait_until(lambda: not running.follower.health.connected, seconds=2)
    assert time.monotonic() - started < 1.5


def test_an_unseen_line_inside_the_replay_doubles_nothing(running: Running) -> None:
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.lines_seen == 5)
    late = line(2.5, "app[web.2]: sqlite3.OperationalError: database is locked")  # a late line
    running.logplex.history.insert(3, late)  # Logplex has it among lines already counted
    running.logplex.end_stream()
    wait_until(lambda: running.follower.health.lines_seen == 6)
    running.logplex.push(DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 7)
    assert running.tally.lines == 7
    assert (running.counted("sqlite"), running.counted("permission_denied")) == (1, 1)
    assert running.follower.health.gaps == 0


def logfmt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The follower's records as `watcher run` prints them."""
    formatter = LogfmtFormatter(Redactor([]))
    return [formatter.format(r) for r in caplog.records if r.name == "watcher.logs.follower"]


def test_logplex_drop_notices_are_logged_by_kind_never_as_the_line(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    dropped = line(6, "heroku[logplex]: Error L10 (output buffer overflow): 7 messages dropped")
    with caplog.at_level(logging.INFO, logger="watcher.logs.follower"):
        running.start(*QUIET, dropped)
        wait_until(lambda: running.counted("log_dropped") == 1)
    assert logfmt_lines(caplog) == [
        'at=info logger=watcher.logs.follower msg="log stream connected" session=1'
        " replay_lines=1500",
        'at=warning logger=watcher.logs.follower msg="Logplex dropped lines" pattern=log_dropped',
    ]


def test_a_replay_that_does_not_reach_back_is_reported_as_a_gap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="watcher.logs.follower")
    with (
        FakeHeroku() as heroku,
        FakeLogplex(tail=True, replay=3) as logplex,
        httpx.Client() as http,
    ):
        heroku.logplex_url = logplex.session_url
        clock = FakeClock(CUTOVER)
        api = HerokuApi(
            http, HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP), clock
        )
        follower = LogFollower(
            api,
            http,
            LogMatcher(catalogue("raptor_app")),
            clock,
            replay_lines=3,
            idle_timeout=5,
        )
        logplex.history = QUIET[:3]
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: follower.health.lines_seen == 3)
            # While the follower is away, more lines come than a replay of 3 holds.
            logplex.history += [line(10 + m, f"app[web.1]: GET /away/{m} 200") for m in range(5)]
            logplex.end_stream()
            wait_until(lambda: follower.health.lines_seen == 6)
        finally:
            follower.stop()
            thread.join(5)
    assert follower.health.gaps == 1
    # Between the last line read before and the first line the replay brought.
    assert follower.health.gap_windows == ((CUTOVER + 2 * MINUTE, CUTOVER + 12 * MINUTE),)
    assert "lines between 14:50:42Z and 15:00:42Z may be lost" in (follower.health.last_error or "")
    # Each connect, the loss of the stream and the gap: one line each (SPEC section 8).
    assert logfmt_lines(caplog) == [
        'at=info logger=watcher.logs.follower msg="log stream connected" session=1 replay_lines=3',
        'at=info logger=watcher.logs.follower msg="log stream lost; reconnecting"'
        ' reason="log stream ended" in_seconds=0.5',
        'at=info logger=watcher.logs.follower msg="log stream connected" session=2 replay_lines=3',
        'at=warning logger=watcher.logs.follower msg="log stream gap: lines may be lost"'
        ' gap="lines between 14:50:42Z and 15:00:42Z may be lost" gaps=1',
    ]


def test_a_failing_listener_does_not_stop_the_follower(running: Running) -> None:
    def explode(match: Match, key: str) -> None:
        raise RuntimeError("the escalation broke")

    running.follower._on_match = explode  # the listener the daemon passes in
    running.start(DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 1)
    running.logplex.push(DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 2)
    assert running.counted("permission_denied") == 2


def test_a_broken_session_url_is_a_reconnect_not_a_dead_thread(running: Running) -> None:
    running.heroku.logplex_url = "http://127.0.0.1:notaport/sessions/x"
    running.start(*QUIET)
    wait_until(lambda: running.follower.health.reconnects >= 2)
    assert running.follower.health.last_error == "log follower failed: InvalidURL"
    running.heroku.logplex_url = running.logplex.session_url
    wait_until(lambda: running.follower.health.lines_seen == 5)


def test_stop_ends_a_follow_waiting_for_an_answer(running: Running) -> None:
    with SilentServer() as silent:  # accepts the connection, never answers
        running.heroku.logplex_url = f"http://127.0.0.1:{silent.port}/sessions/x"
        running.start()
        time.sleep(0.3)
        started = time.monotonic()
        running.follower.stop()
        assert running.thread is not None
        running.thread.join(3)
        assert not running.thread.is_alive()
        assert time.monotonic() - started < 1.5


def test_a_restarted_follower_skips_the_lines_counted_before_it(running: Running) -> None:
    running.start(*QUIET, DENIED)
    wait_until(lambda: running.follower.health.lines_seen == 6)
    remembered = running.follower.remembered()
    assert len(remembered) == 6
    running.follower.stop()
    assert running.thread is not None
    running.thread.join(5)
    # A new process: a new follower and tally, with only what the state store kept.
    again = LogFollower(
        running.follower._api,  # the same Heroku client; only the follower is new
        running.follower._http,
        LogMatcher(catalogue("raptor_app"), "worker.1"),
        running.clock,
        idle_timeout=2.0,
        remembered=remembered,
    )
    thread = threading.Thread(target=again.run, daemon=True)
    thread.start()
    try:
        running.logplex.push(line(9, "app[web.1]: GET /healthz 200"))
        wait_until(lambda: again.health.lines_seen == 1)
        assert again.tally.lines == 1 and "permission_denied" not in again.tally.patterns
        assert again.health.gaps == 0
    finally:
        again.stop()
        thread.join(5)
