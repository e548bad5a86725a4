"""The runner: concurrent, each check under its own timeout, failures isolated."""

from __future__ import annotations

import threading

from checks.result import CheckError, Result, State
from tests.support.clock import FakeClock
from watcher.checking.runner import PlannedCheck, run_checks
from watcher.redact import Redactor

NO_SECRETS = Redactor([])


def ok(summary: str = "fine") -> Result:
    return Result.from_findings([], summary)


def test_checks_run_at_the_same_time() -> None:
    # Each check waits until all three are running: this passes only if they overlap.
    barrier = threading.Barrier(3, timeout=5)

    def together() -> Result:
        barrier.wait()
        return ok()

    planned = [PlannedCheck(f"c{i}", "7.1", together) for i in range(3)]
    reports = run_checks(planned, 10, FakeClock(), NO_SECRETS)
    assert [r.result.state for r in reports] == [State.OK] * 3


def test_reports_keep_the_planned_order_and_sop() -> None:
    planned = [PlannedCheck(n, f"sop-{n}", lambda n=n: ok(n)) for n in ("b", "a", "c")]
    reports = run_checks(planned, 5, FakeClock(), NO_SECRETS)
    assert [(r.name, r.sop, r.result.summary) for r in reports] == [
        ("b", "sop-b", "b"),
        ("a", "sop-a", "a"),
        ("c", "sop-c", "c"),
    ]


def test_exception_is_that_checks_unknown_only() -> None:
    def broken() -> Result:
        raise ValueError("boom")

    reports = run_checks(
        [PlannedCheck("broken", "", broken), PlannedCheck("fine", "", ok)],
        5,
        FakeClock(),
        NO_SECRETS,
    )
    assert reports[0].result.state == State.UNKNOWN
    assert reports[0].result.summary == "internal error: ValueError: boom"
    assert reports[1].result.state == State.OK


def test_check_error_is_unknown_with_its_reason() -> None:
    def unusable() -> Result:
        raise CheckError("database unreachable: connection refused")

    (report,) = run_checks([PlannedCheck("sql", "", unusable)], 5, FakeClock(), NO_SECRETS)
    assert (report.result.state, report.result.summary) == (
        State.UNKNOWN,
        "database unreachable: connection refused",
    )


def test_a_hanging_check_times_out_and_the_others_still_report() -> None:
    release = threading.Event()

    def hangs() -> Result:
        release.wait(10)
        return ok()

    try:
        reports = run_checks(
            [PlannedCheck("hangs", "", hangs), PlannedCheck("fine", "", ok)],
            0.2,
            FakeClock(),
            NO_SECRETS,
        )
    finally:
        release.set()
    assert reports[0].result.state == State.UNKNOWN
    assert "timed out after 0.2 s" in reports[0].result.summary
    assert reports[0].duration_seconds == 0.2
    assert reports[1].result.state == State.OK


def test_secrets_in_exception_text_are_masked() -> None:
    def leaks() -> Result:
        raise RuntimeError("GET https://x/?token=tok-27182818 failed")

    (report,) = run_checks(
        [PlannedCheck("leaky", "", leaks)], 5, FakeClock(), Redactor(["tok-27182818"])
    )
    assert "tok-27182818" not in report.result.summary


def test_duration_comes_from_the_injected_clock() -> None:
    clock = FakeClock()

    def takes_a_while() -> Result:
        clock.advance(1.5)
        return ok()

    (report,) = run_checks([PlannedCheck("c", "", takes_a_while)], 5, clock, NO_SECRETS)
    assert report.duration_seconds == 1.5


def test_a_check_can_say_what_its_timeout_means() -> None:
    release = threading.Event()

    def hangs() -> Result:
        release.wait(10)
        return ok()

    def too_slow(seconds: float) -> Result:
        return Result(State.CRITICAL, f"service gave no answer in {seconds:g} s")

    try:
        (report,) = run_checks(
            [PlannedCheck("healthz", "", hangs, on_timeout=too_slow)], 0.2, FakeClock(), NO_SECRETS
        )
    finally:
        release.set()
    assert (report.result.state, report.result.summary) == (
        State.CRITICAL,
        "service gave no answer in 0.2 s",
    )
