"""Runs checks concurrently, each under a timeout; a failing check never affects the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from checks.result import CheckError, Result
from checks.sources.clock import Clock
from watcher.redact import Redactor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedCheck:
    """A check ready to run: its name, SOP section, and a call that produces its result."""

    name: str
    sop: str
    run: Callable[[], Result]
    # What running out of time means for this check; by default it could not do its job.
    on_timeout: Callable[[float], Result] | None = None


@dataclass(frozen=True)
class CheckReport:
    """One check's result with what the runner adds: name, SOP section and duration."""

    name: str
    sop: str
    result: Result
    duration_seconds: float


def state_fields(reports: Sequence[CheckReport]) -> dict[str, str]:
    """Each check's state by name, for a log line (never a summary: it may quote a log line)."""
    return {report.name: report.result.state.name for report in reports}


class _Slot:
    """Where a check's thread leaves its result."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Result | None = None
        self.duration = 0.0


def run_checks(
    planned: Sequence[PlannedCheck], timeout: float, clock: Clock, redactor: Redactor
) -> list[CheckReport]:
    """Run all at once; each gets `timeout` seconds, then is reported UNKNOWN."""
    slots = [_Slot() for _ in planned]
    for check, slot in zip(planned, slots, strict=True):
        # Daemon threads: a check stuck in a call that ignores its own timeout must
        # not keep `watcher once` from exiting.
        threading.Thread(
            target=_run_one,
            args=(check, slot, clock, redactor),
            name=f"check-{check.name}",
            daemon=True,
        ).start()
    # Threads run in real time, so the deadline is real time too; the injected clock
    # measures durations.
    deadline = time.monotonic() + timeout
    reports = []
    for check, slot in zip(planned, slots, strict=True):
        slot.done.wait(max(0.0, deadline - time.monotonic()))
        if slot.result is not None:
            reports.append(CheckReport(check.name, check.sop, slot.result, slot.duration))
        else:
            reason = f"timed out after {timeout:g} s (WATCHER_CHECK_TIMEOUT)"
            log.warning("check %s %s", check.name, reason)
            result = check.on_timeout(timeout) if check.on_timeout else Result.unknown(reason)
            reports.append(CheckReport(check.name, check.sop, result, timeout))
    return reports


def _run_one(check: PlannedCheck, slot: _Slot, clock: Clock, redactor: Redactor) -> None:
    started = clock.monotonic()
    try:
        result = check.run()
    except CheckError as exc:
        result = Result.unknown(redactor(str(exc)))
    except Exception as exc:
        # A bug in one check is that check's UNKNOWN, never the run's crash.
        log.exception("check %s raised", check.name)
        result = Result.unknown(redactor(f"internal error: {type(exc).__name__}: {exc}"))
    slot.duration = clock.monotonic() - started
    slot.result = redacted(result, redactor)
    slot.done.set()


def redacted(result: Result, redactor: Redactor) -> Result:
    """The result with its summaries and facts masked: they go on to the terminal, Slack,
    Alertmanager and the state store, and outside text (a log line, a Sentry title) can carry
    a secret."""
    findings = tuple(replace(f, summary=redactor(f.summary)) for f in result.findings)
    observation = result.observation
    if observation is not None and (facts := observation.facts()):
        # Facts are outside text too (the `db` a healthz answer named), kept in the history.
        observation = replace(observation, **{k: redactor(v) for k, v in facts.items()})
    return replace(
        result, summary=redactor(result.summary), observation=observation, findings=findings
    )
