from __future__ import annotations

from datetime import timedelta

from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_tally import LogTally
from tests.support.clock import CUTOVER


def record(tally: LogTally, text: str, received_minutes: float = 0) -> None:
    received = CUTOVER + timedelta(minutes=received_minutes)
    for match in LogMatcher(catalogue("raptor_app")).match(parse(text), received):
        tally.count_match(match, received)


def stamp(minutes: float) -> str:
    return (CUTOVER + timedelta(minutes=minutes)).isoformat()


def test_counts_by_the_lines_own_time() -> None:
    tally = LogTally()
    for minutes in (0, 10, 40, 45):
        record(tally, f"{stamp(minutes)} app[web.1]: permission denied for table users")
    assert tally.patterns["permission_denied"].total == 4
    assert tally.count_since("permission_denied", CUTOVER + timedelta(minutes=15)) == 2
    assert tally.count_since("permission_denied", CUTOVER) == 4
    assert tally.count_since("sqlite", CUTOVER) == 0


def test_line_without_timestamp_counts_when_received() -> None:
    tally = LogTally()
    record(tally, "app[web.1]: permission denied for table users", received_minutes=50)
    assert tally.count_since("permission_denied", CUTOVER + timedelta(minutes=49)) == 1
    assert tally.patterns["permission_denied"].last == CUTOVER + timedelta(minutes=50)


def test_first_last_and_sample_follow_time_not_arrival() -> None:
    tally = LogTally()
    record(tally, f"{stamp(20)} app[web.1]: sqlite3 late one")
    record(tally, f"{stamp(5)} app[web.1]: sqlite3 early one")
    counts = tally.patterns["sqlite"]
    assert (counts.first, counts.last) == (
        CUTOVER + timedelta(minutes=5),
        CUTOVER + timedelta(minutes=20),
    )
    assert counts.sample.endswith("sqlite3 late one")


def test_lines_and_their_span() -> None:
    tally = LogTally()
    tally.count_lines(1000, CUTOVER, CUTOVER + timedelta(minutes=30))
    tally.count_lines(500, CUTOVER - timedelta(minutes=5), None)
    assert (tally.lines, tally.first_line_at, tally.last_line_at) == (
        1500,
        CUTOVER - timedelta(minutes=5),
        CUTOVER + timedelta(minutes=30),
    )
