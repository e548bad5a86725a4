"""The outcome of one run of the checks, as the JSON of docs/commands.md or a readable table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from checks.result import State, worst

if TYPE_CHECKING:
    # Types only: `watcher scan` imports this module for `printable`, and is timed against grep
    # (the runner and the delivery would bring httpx and the rest in).
    from watcher.checking.runner import CheckReport
    from watcher.notify.delivery import DeliveryReport

_COLOURS = {
    State.OK: "\033[32m",
    State.WARNING: "\033[33m",
    State.CRITICAL: "\033[31;1m",
    State.UNKNOWN: "\033[35m",
}
_RESET = "\033[0m"


@dataclass(frozen=True)
class RunReport:
    """Every check's report from one run, with the app and when it ran."""

    app: str
    checked_at: datetime
    checks: list[CheckReport]

    @property
    def state(self) -> State:
        return worst(c.result.state for c in self.checks)


def to_json(report: RunReport) -> dict[str, Any]:
    """The `watcher once --json` object."""
    return {
        "app": report.app,
        "checked_at": report.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "state": report.state.name,
        "exit_code": report.state.value,
        "checks": [
            {
                "name": c.name,
                "state": c.result.state.name,
                "summary": c.result.summary,
                "sop": c.sop,
                "duration_seconds": round(c.duration_seconds, 3),
                "metrics": dict(c.result.metrics),
                "findings": [
                    {"id": f.id, "state": f.state.name, "summary": f.summary}
                    for f in c.result.findings
                ],
            }
            for c in report.checks
        ],
    }


def to_table(report: RunReport, colour: bool) -> str:
    """A plugin-style first line, then one row per check: state, check, summary."""
    counts = [
        f"{sum(c.result.state == s for c in report.checks)} {s.name.lower()}"
        for s in (State.CRITICAL, State.UNKNOWN, State.WARNING)
        if any(c.result.state == s for c in report.checks)
    ]
    headline = f"CUTOVER-WATCHER {_paint(report.state, colour)}: {report.app}"
    headline += f" at {report.checked_at:%Y-%m-%d %H:%M:%SZ}"
    headline += f" ({', '.join(counts)})" if counts else " (all checks OK)"
    width = max([len("check")] + [len(c.name) for c in report.checks])
    rows = [headline, "", f"{'STATE':<9} {'CHECK':<{width}}  SUMMARY"]
    for c in report.checks:
        state = c.result.state
        padding = " " * (9 - len(state.name))
        rows.append(
            f"{_paint(state, colour)}{padding} {c.name:<{width}}  {printable(c.result.summary)}"
        )
    return "\n".join(rows)


def printable(text: str) -> str:
    """Text for a terminal: log lines and titles can carry escapes that rewrite the screen."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _paint(state: State, colour: bool) -> str:
    return f"{_COLOURS[state]}{state.name}{_RESET}" if colour else state.name


def notifications_line(delivered: DeliveryReport) -> str:
    """What `--notify` did, for the table."""
    line = f"notifications: {delivered.sent} sent, {delivered.pending} pending"
    for failure in delivered.failed:
        line += f"\nFAILED: {failure.reason}: {failure.fix}"
    return line
