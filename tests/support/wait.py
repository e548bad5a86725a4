"""The one wait helper: poll a condition on something real (a server, a thread) until it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "the condition",
) -> T:
    """Call `probe` until `until` holds for its answer; return that answer, or fail the test
    with the last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if until(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:g} s; last: {answer!r}")
        time.sleep(interval)
