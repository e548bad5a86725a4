"""States, findings and results shared by every check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class State(IntEnum):
    """Monitoring Plugins states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# SPEC 1: CRITICAL beats UNKNOWN beats WARNING beats OK. Not the numeric order:
# a blind spot must not hide a confirmed incident.
_SEVERITY = {State.OK: 0, State.WARNING: 1, State.UNKNOWN: 2, State.CRITICAL: 3}


def worst(states: Iterable[State]) -> State:
    """The overall state of several: CRITICAL, else UNKNOWN, else WARNING, else OK."""
    return max(states, key=_SEVERITY.__getitem__, default=State.OK)


def severity(state: State) -> int:
    """Sort key: larger is worse, in the order `worst()` uses."""
    return _SEVERITY[state]


@dataclass(frozen=True)
class Finding:
    """One problem a check saw; `id` is stable across runs (`<check>.<kind>`)."""

    id: str
    state: State
    summary: str


@dataclass(frozen=True)
class Result:
    """What one check observed now."""

    state: State
    summary: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_findings(
        cls,
        findings: Iterable[Finding],
        ok_summary: str,
        metrics: Mapping[str, float] | None = None,
    ) -> Result:
        """State is the worst finding; the summary lists the findings, worst first."""
        found = tuple(findings)
        if not found:
            return cls(State.OK, ok_summary, dict(metrics or {}))
        ordered = sorted(found, key=lambda f: severity(f.state), reverse=True)
        summary = "; ".join(f.summary for f in ordered)
        return cls(worst(f.state for f in found), summary, dict(metrics or {}), found)

    @classmethod
    def unknown(cls, reason: str, metrics: Mapping[str, float] | None = None) -> Result:
        """The check could not do its job (its data source is unusable)."""
        return cls(State.UNKNOWN, reason, dict(metrics or {}))


class CheckError(Exception):
    """A check's own data source cannot be used; the message is the UNKNOWN reason."""


@dataclass(frozen=True)
class Baseline:
    """What a value is compared against, and where that baseline came from (for summaries)."""

    value: str
    source: str
