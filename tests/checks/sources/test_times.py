"""parse_aware: the one reader of times outside systems write (Sentry, Logplex)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from checks.sources.times import parse_aware

# Every zone offset datetime allows (strictly within a day), down to the microsecond.
OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-24) + timedelta(microseconds=1),
    max_value=timedelta(hours=24) - timedelta(microseconds=1),
).map(timezone)
AWARE = st.datetimes(timezones=OFFSETS | st.just(UTC))
# Text shaped like ISO-8601 reaches deeper into the parser than random text does.
ISO_LIKE = st.from_regex(
    r"\A[0-9\u0660-\u0669]{1,5}-[0-9]{1,3}-[0-9]{1,3}([T ][0-9:.,]{0,16})?([Zz]|[+-][0-9:.]{0,15})?\Z"
)


def test_zoned_times_are_read() -> None:
    assert parse_aware("2026-05-16T14:35:10.123000Z") == datetime(
        2026, 5, 16, 14, 35, 10, 123000, tzinfo=UTC
    )
    assert parse_aware("2026-05-16T16:35:10+02:00") == datetime(2026, 5, 16, 14, 35, 10, tzinfo=UTC)


def test_anything_else_is_none() -> None:
    for value in ("2026-05-16T14:35:10", "", "yesterday", None, 1747406110, ["2026-05-16"]):
        assert parse_aware(value) is None


@given(AWARE)
def test_property_any_aware_time_round_trips(at: datetime) -> None:
    for text in (at.isoformat(), at.isoformat(sep=" "), at.isoformat(timespec="microseconds")):
        parsed = parse_aware(text)
        assert parsed == at
        assert parsed is not None and parsed.utcoffset() == at.utcoffset()


@given(st.datetimes())
def test_property_a_time_without_a_zone_is_none(at: datetime) -> None:
    assert parse_aware(at.isoformat()) is None


@given(st.text() | ISO_LIKE)
@example("2026-05-16T24:00:00+00:00")
@example("2026-05-16T14:35:10+24:00")
@example("2026-05-16T14:35:10\ud800Z")
@example("9999-12-31T23:59:59.999999-23:59")
def test_property_any_text_is_an_aware_time_or_none(text: str) -> None:
    parsed = parse_aware(text)
    assert parsed is None or parsed.utcoffset() is not None


@given(st.none() | st.booleans() | st.integers() | st.floats() | st.binary() | st.lists(st.text()))
def test_property_values_that_are_not_text_are_none(value: object) -> None:
    assert parse_aware(value) is None
