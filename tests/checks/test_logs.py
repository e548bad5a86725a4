"""The one-shot `logs` check: a Heroku log session of the last 1,500 lines, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from checks import logs
from checks.heroku_api import HerokuApi, HerokuConfig
from checks.log_patterns import LogMatcher, catalogue
from checks.result import CheckError, Result, State
from tests.fakes import heroku as heroku_fake
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import json_reply
from tests.fakes.logplex import EVENTS, SESSION_TOKEN, FakeLogplex
from tests.support.clock import CUTOVER, FakeClock

NOW = CUTOVER + timedelta(hours=2)


def at(minutes_ago: float, rest: str) -> str:
    return f"{(NOW - timedelta(minutes=minutes_ago)).isoformat()} {rest}"


def quiet_history(count: int = 200, span_minutes: float = 45) -> list[str]:
    return [
        at(span_minutes - i * span_minutes / count, "app[web.1]: GET /healthz 200")
        for i in range(count)
    ]


@pytest.fixture
def heroku() -> Iterator[FakeHeroku]:
    with FakeHeroku() as server:
        yield server


@pytest.fixture
def logplex(heroku: FakeHeroku) -> Iterator[FakeLogplex]:
    with FakeLogplex() as server:
        heroku.logplex_url = server.session_url
        yield server


def run(heroku: FakeHeroku, budget: float = 8) -> Result:
    clock = FakeClock(NOW)
    with httpx.Client() as http:
        api = HerokuApi(
            http, HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP), clock
        )
        return logs.check_recent(
            api, http, LogMatcher(catalogue("raptor_app"), "worker.1"), clock, budget
        )


def test_quiet_log_is_ok_and_says_how_far_back_it_reaches(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.history = quiet_history()
    result = run(heroku)
    assert result.state == State.OK
    assert result.summary.startswith(
        "no incident patterns in the last 30 min; read the last 200 lines"
    )
    assert "they reach back 45 min" in result.summary
    assert heroku.log_session_bodies == [{"lines": 1500, "tail": False}]
    (session,) = logplex.requests
    assert "authorization" not in session.headers  # the URL carries its own token


def test_critical_line_in_the_last_30_minutes(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    logplex.history = [
        *quiet_history(),
        at(
            4,
            "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars",
        ),
    ]
    result = run(heroku)
    assert result.state == State.CRITICAL
    (finding,) = result.findings
    assert finding.id == "logs.permission_denied"
    assert "1 line(s) in the last 30 min" in finding.summary and "SOP 7.3" in finding.summary
    assert finding.summary.endswith("permission denied for table historical_bars")
    assert result.metrics["matches_permission_denied"] == 1


def test_a_match_older_than_30_minutes_no_longer_counts(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.history = [
        at(40, "app[web.1]: sqlite3.OperationalError: database is locked"),
        *quiet_history(50, 20),
    ]
    assert run(heroku).state == State.OK


def test_warning_pattern_names_what_it_means_without_a_sop(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.history = [*quiet_history(), at(2, "heroku[web.1]: Error R14 (Memory quota exceeded)")]
    result = run(heroku)
    assert result.state == State.WARNING
    assert [f.id for f in result.findings] == ["logs.memory"]
    assert "(a dyno is over its memory quota)" in result.summary and "SOP -" not in result.summary


def test_fir_keeps_no_history_and_says_so_at_once(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    logplex.content_type = EVENTS
    logplex.tail = True  # Fir always tails
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"keeps no history: only the follower of `watcher run`"):
        run(heroku, budget=8)
    assert time.monotonic() - started < 2


def test_a_quiet_app_reaches_back_from_now(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    logplex.history = [at(180 - m, "app[web.1]: GET / 200") for m in range(10)]
    assert "they reach back 180 min;" in run(heroku).summary + ";"


def test_short_history_says_older_lines_are_gone(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    logplex.history = quiet_history(1500, 12)
    result = run(heroku)
    assert "they reach back 12 min, less than 30 min: older lines are gone" in result.summary
    assert result.metrics["lines"] == 1500


def test_stream_cut_mid_line_counts_whole_lines_and_says_so(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.history = [
        *quiet_history(20),
        at(1, "app[web.1]: sqlite3.OperationalError: database is locked"),
    ]
    logplex.tail = True
    logplex.cut_stream(b"2026-05-16T16:48:00+00:00 app[web.1]: permission den")
    result = run(heroku)
    assert result.state == State.CRITICAL  # the whole sqlite line counted
    assert [f.id for f in result.findings] == [
        "logs.sqlite",
        "logs.operational_error",
        "logs.stream",
    ]
    assert "log stream broke after 21 lines" in result.summary
    assert "permission_denied" not in result.summary  # the half line is not counted


def test_stream_that_never_ends_is_cut_at_the_budget(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.history = quiet_history(10)
    logplex.tail = True  # a session that keeps streaming
    from checks.clock import SystemClock

    real = SystemClock()
    with httpx.Client() as http:
        api = HerokuApi(
            http, HerokuConfig(heroku.url, heroku.url, heroku_fake.TOKEN, heroku_fake.APP), real
        )
        result = logs.check_recent(api, http, LogMatcher(catalogue("raptor_app")), real, 0.5)
    assert [f.id for f in result.findings] == ["logs.stream"]
    assert "no complete answer within" in result.summary


def test_session_refused_is_unknown(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    heroku.failures = [
        json_reply({"id": "unauthorized", "message": "Invalid credentials provided."}, 401)
    ]
    with pytest.raises(CheckError, match="HEROKU_API_KEY"):
        run(heroku)


def test_logplex_error_is_unknown_without_the_session_token(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    logplex.status = 503
    with pytest.raises(CheckError) as caught:
        run(heroku)
    assert str(caught.value) == "Logplex answered HTTP 503"
    assert SESSION_TOKEN not in str(caught.value)


def test_logplex_unreachable_is_unknown(heroku: FakeHeroku) -> None:
    heroku.logplex_url = f"http://127.0.0.1:9/sessions/x?srv={SESSION_TOKEN}"
    with pytest.raises(CheckError) as caught:
        run(heroku)
    assert "Logplex stream unusable: connection refused" in str(caught.value)
    assert SESSION_TOKEN not in str(caught.value)
