"""States, findings and results shared by every check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import IntEnum


class State(IntEnum):
    """Monitoring Plugins states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# docs/commands.md: CRITICAL beats UNKNOWN beats WARNING beats OK. Not the numeric order:
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


# A mapping field of an observation flattens to `<prefix><key>` metrics (e.g. `matches_crash`).
PREFIX = "prefix"


@dataclass(frozen=True)
class Observation:
    """What a check measured, as typed fields: each check declares its own subclass.

    Numbers (and booleans, as 1/0) are its metrics, in field order; text fields are facts
    (the `db` healthz named) kept in the history but never exported as a metric; None is
    "not measured".
    """

    def metrics(self) -> dict[str, float]:
        """The numbers, as `watcher once --json` shows them under `metrics`."""
        values: dict[str, float] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            prefix = item.metadata.get(PREFIX)
            if prefix is not None:
                values |= {f"{prefix}{key}": float(count) for key, count in value.items()}
            elif isinstance(value, bool):
                values[item.name] = 1.0 if value else 0.0
            elif isinstance(value, int | float):
                values[item.name] = float(value)
        return values

    def facts(self) -> dict[str, str]:
        """The text fields that were observed (not None)."""
        return {
            item.name: value
            for item in fields(self)
            if isinstance(value := getattr(self, item.name), str)
        }


@dataclass(frozen=True)
class Result:
    """What one check observed now: its state, one line, typed observation and findings."""

    state: State
    summary: str
    observation: Observation | None = None
    findings: tuple[Finding, ...] = ()
    # An UNKNOWN result's blind spot: the finding ids this observation could not judge. None
    # (the default) is all of them: the check could not look, so an open alert of this
    # check stays open. A check that judged some parts and reports the rest as an UNKNOWN
    # finding names here what it could not judge; its other open alerts may resolve.
    unjudged: tuple[str, ...] | None = None

    @property
    def metrics(self) -> Mapping[str, float]:
        """The observation's numbers (empty when the check could not observe)."""
        return {} if self.observation is None else self.observation.metrics()

    @classmethod
    def from_findings(
        cls,
        findings: Iterable[Finding],
        ok_summary: str,
        observation: Observation | None = None,
    ) -> Result:
        """State is the worst finding; the summary lists the findings, worst first."""
        found = tuple(findings)
        if not found:
            return cls(State.OK, ok_summary, observation)
        ordered = sorted(found, key=lambda f: severity(f.state), reverse=True)
        summary = "; ".join(f.summary for f in ordered)
        return cls(worst(f.state for f in found), summary, observation, found)

    @classmethod
    def unknown(cls, reason: str, observation: Observation | None = None) -> Result:
        """The check could not do its job (its data source is unusable)."""
        return cls(State.UNKNOWN, reason, observation)


class CheckError(Exception):
    """A check's own data source cannot be used; the message is the UNKNOWN reason."""


@dataclass(frozen=True)
class Baseline:
    """What a value is compared against, and where that baseline came from (for summaries)."""

    value: str
    source: str
