from __future__ import annotations

from datetime import UTC, datetime

from checks.log_line import parse


def test_heroku_line_is_split_into_its_parts() -> None:
    line = parse(
        "2026-05-16T14:31:02.114233+00:00 app[web.1]: psycopg2.errors.InsufficientPrivilege:"
        " permission denied for table historical_bars\n"
    )
    assert line.timestamp == datetime(2026, 5, 16, 14, 31, 2, 114233, tzinfo=UTC)
    assert (line.source, line.dyno) == ("app", "web.1")
    assert line.message.endswith("permission denied for table historical_bars")
    assert not line.raw.endswith("\n")


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
