"""The one-shot `logs` check: a Heroku log session of the last 1,500 lines, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta, timezone

import httpx
import pytest

from checks import logs
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.result import CheckError, Result, State
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import FakeServer, Reply, json_reply
from tests.fakes.logplex import PLAIN, SESSION_TOKEN, FakeLogplex
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
    # The line's time once, as HH:MM:SSZ; what to do is the alert's advice, not the summary's.
    last = f"{NOW - timedelta(minutes=4):%H:%M:%S}Z"
    assert finding.summary == (
        "permission_denied: 1 line(s) in the last 30 min (grant drift: the app role lacks a"
        f" privilege it needs), the last at {last}: app[web.1]:"
        " psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars"
    )
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
    heroku.generation = "fir"
    logplex.tail = True  # Fir always tails
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"keeps no history: only the follower of `watcher run`"):
        run(heroku, budget=8)
    assert time.monotonic() - started < 2
    assert heroku.log_session_bodies == [] and logplex.requests == []  # decided by the app


# The Heroku CLI's own Cedar fixture (heroku/cli, test/unit/lib/run/log-displayer.unit.test.ts,
# "with a Cedar app, with tail option disabled"): a Cedar session answers server-sent events
# carrying the history.
CLI_CEDAR_STREAM = (
    b"id: 1002\n"
    b"data: 2024-10-17T22:23:22.209776+00:00 app[web.1]: log line 1\n\n\n"
    b"id: 1003\n"
    b"data: 2024-10-17T22:23:23.032789+00:00 app[web.1]: log line 2\n\n\n"
)


def test_a_cedar_event_stream_with_history_is_read(heroku: FakeHeroku) -> None:
    # The CLI's fixture, byte for byte, from a server that answers only that.
    with FakeServer(
        lambda request: Reply(200, CLI_CEDAR_STREAM, {"Content-Type": "text/event-stream"})
    ) as cedar:
        heroku.logplex_url = f"{cedar.url}/stream?tail=false&token=s3kr3t"
        result = run(heroku)
    assert result.state == State.OK
    assert "read the last 2 lines Logplex keeps, 22:23Z to 22:23Z" in result.summary
    assert cedar.requests[0].headers["accept"] == "text/event-stream"


def test_cedar_history_as_events_finds_the_patterns(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    heroku.generation = "cedar"
    logplex.history = [
        *quiet_history(),
        at(3, "app[web.1]: sqlite3.OperationalError: database is locked"),
    ]
    result = run(heroku)
    assert result.state == State.CRITICAL
    assert {f.id for f in result.findings} == {"logs.sqlite", "logs.operational_error"}


def test_an_old_plain_text_session_is_read_too(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    logplex.content_type = PLAIN
    logplex.history = quiet_history(30)
    assert "read the last 30 lines" in run(heroku).summary


def test_generation_as_an_object_is_read_as_the_cli_does(
    heroku: FakeHeroku, logplex: FakeLogplex
) -> None:
    # heroku/cli src/lib/apps/generation.ts takes `generation` as a string or `{name}`.
    heroku.failures = [
        json_reply({"name": heroku_fake.APP, "generation": {"id": "g", "name": "fir"}})
    ]
    with pytest.raises(CheckError, match="Fir"):
        run(heroku)


def test_offset_times_in_the_summary_are_utc(heroku: FakeHeroku, logplex: FakeLogplex) -> None:
    minus_7 = timezone(timedelta(hours=-7))
    utc = NOW - timedelta(minutes=3)
    line = "app[web.1]: sqlite3.OperationalError: database is locked"
    logplex.history = [f"{utc.astimezone(minus_7).isoformat()} {line}"]
    assert f"last at {utc:%H:%M:%S}Z" in run(heroku).summary
    logplex.history = [f"{utc.astimezone(minus_7).isoformat()} app[web.1]: GET / 200"]
    assert f"{utc:%H:%M}Z to {utc:%H:%M}Z" in run(heroku).summary


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
    from checks.sources.clock import SystemClock

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
