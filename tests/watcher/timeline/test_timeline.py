"""The watch's timeline: phases, due marks and elapsed time around T0."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.clock import CUTOVER
from watcher.timeline import phases
from watcher.timeline.phases import MarkDue

HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-TICK, "before"),
        (timedelta(0), "active"),
        (4 * HOUR - TICK, "active"),
        (4 * HOUR, "dashboard"),
        (24 * HOUR - TICK, "dashboard"),
        (24 * HOUR, "done"),
        (72 * HOUR, "done"),
    ],
)
def test_phase_boundaries(offset: timedelta, expected: str) -> None:
    assert phases.phase(CUTOVER, CUTOVER + offset) == expected


def test_no_mark_is_due_before_four_hours() -> None:
    assert phases.due_marks(CUTOVER, CUTOVER + 4 * HOUR - TICK, set()) == []


def test_marks_come_due_in_order_at_their_offsets() -> None:
    assert phases.MARKS == ("4h", "8h", "24h")
    assert phases.due_marks(CUTOVER, CUTOVER + 8 * HOUR, set()) == [
        MarkDue("4h", CUTOVER + 4 * HOUR),
        MarkDue("8h", CUTOVER + 8 * HOUR),
    ]
    assert [m.name for m in phases.due_marks(CUTOVER, CUTOVER + 30 * HOUR, set())] == [
        "4h",
        "8h",
        "24h",
    ]


def test_posted_marks_are_not_due_again() -> None:
    due = phases.due_marks(CUTOVER, CUTOVER + 25 * HOUR, {"4h", "24h"})
    assert due == [MarkDue("8h", CUTOVER + 8 * HOUR)]


def test_elapsed_seconds_is_signed() -> None:
    assert phases.elapsed_seconds(CUTOVER, CUTOVER + 90 * timedelta(minutes=1)) == 5400.0
    assert phases.elapsed_seconds(CUTOVER, CUTOVER - HOUR) == -3600.0


def test_late_means_over_five_minutes_after_the_due_time() -> None:
    due = CUTOVER + 4 * HOUR
    assert not phases.is_late(due, due + timedelta(minutes=5))
    assert phases.is_late(due, due + timedelta(minutes=5, seconds=1))
