from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from checks.logparse.log_line import parse
from checks.sources.times import to_utc


def test_heroku_line_is_split_into_its_parts() -> None:
    line = parse(
        "2026-05-16T14:31:02.114233+00:00 app[web.1]: psycopg2.errors.InsufficientPrivilege:"
        " permission denied for table historical_bars\n"
    )
    assert line.timestamp == datetime(2026, 5, 16, 14, 31, 2, 114233, tzinfo=UTC)
    assert (line.source, line.dyno) == ("app", "web.1")
    assert line.message.endswith("permission denied for table historical_bars")
    assert not line.raw.endswith("\n")


def test_offset_times_are_held_in_utc() -> None:
    # Dev Center, "Heroku Error Codes", H10 (https://devcenter.heroku.com/articles/error-codes):
    H10 = (
        '2010-10-06T21:51:12-07:00 heroku[router]: at=error code=H10 desc="App crashed"'
        ' method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect='
        " service= status=503 bytes="
    )
    line = parse(H10)
    assert line.timestamp is not None
    assert line.timestamp.utcoffset() == timedelta(0)
    assert f"{line.timestamp:%Y-%m-%dT%H:%M:%S}Z" == "2010-10-07T04:51:12Z"


def test_line_without_timestamp_keeps_its_source() -> None:
    line = parse("heroku[web.2]: Error R14 (Memory quota exceeded)")
    assert (line.timestamp, line.source, line.dyno) == (None, "heroku", "web.2")


def test_addon_source_is_read() -> None:
    line = parse("2026-05-16T14:35:00+00:00 app[heroku-postgres]: source=DATABASE sample#tables=35")
    assert (line.source, line.dyno) == ("app", "heroku-postgres")


def test_line_in_another_format_has_no_source() -> None:
    line = parse("May 16 14:31:02 raxx web.1 permission denied for table users")
    assert (line.timestamp, line.source, line.dyno) == (None, None, None)
    assert line.message == line.raw


def test_bad_timestamp_is_none_not_an_error() -> None:
    assert parse("2026-13-45T99:99:99+00:00 app[web.1]: x").timestamp is None


# Property-based (issue 7): whatever arrives on the log stream, `parse` answers a LogLine.

OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Heroku's sources and dynos: `app`, `heroku`, add-ons such as `heroku-postgres`.
SOURCES = st.from_regex(r"\A[a-z][a-z0-9-]{0,15}\Z")
DYNOS = st.text(st.characters(blacklist_characters="]", blacklist_categories=("Z", "Cc")))
MESSAGES = st.text().map(lambda text: text.rstrip("\r\n"))


@given(st.text())
@example("0001-01-01T00:00:00Z heroku[web.1]: Cycling")
@example("\u0662\u0660\u0662\u0666-\u0660\u0665-\u0661\u0666T14:31:02+00:00 app[web.1]: x")
@example("2026-05-16T14:31:02+99:99 app[web.1]: x")
def test_property_any_text_is_a_line(text: str) -> None:
    line = parse(text)
    assert line.raw == text.rstrip("\r\n")
    assert line.timestamp is None or line.timestamp.utcoffset() is not None
    if line.source is None:
        # Not Heroku's format: nothing is guessed, the whole line is the message.
        assert (line.dyno, line.message) == (None, line.raw)
    else:
        assert line.raw.startswith(line.source) or f" {line.source}[" in line.raw
        assert line.raw.endswith(line.message) and line.dyno is not None
        assert f"{line.source}[{line.dyno}]:" in line.raw


@given(
    at=st.none() | st.datetimes(timezones=OFFSETS | st.just(UTC)),
    zulu=st.booleans(),
    source=SOURCES,
    dyno=DYNOS,
    message=MESSAGES,
    ending=st.sampled_from(["", "\n", "\r\n"]),
)
def test_property_heroku_lines_split_into_exactly_their_parts(
    at: datetime | None, zulu: bool, source: str, dyno: str, message: str, ending: str
) -> None:
    stamp = ""
    if at is not None:
        stamp = at.isoformat() + " "
        if zulu and at.utcoffset() == timedelta(0):
            stamp = stamp.replace("+00:00", "Z")
    line = parse(f"{stamp}{source}[{dyno}]: {message}{ending}")
    # The same instant, held in UTC (None only where UTC cannot hold it, next to year 1).
    expected = to_utc(at)
    assert (line.timestamp, line.source, line.dyno, line.message) == (
        expected,
        source,
        dyno,
        message,
    )
    assert line.timestamp is None or line.timestamp.utcoffset() == timedelta(0)
