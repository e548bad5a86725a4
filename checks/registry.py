"""The check registry: docs/checks.md's checks, in its order, one line each.

A new check is a module in `checks/` ending in `CHECK = Check(...)`, and its name below (a
check's name is its module's name). Importing this module imports no check: `watcher scan`
and the CLI's argument parser need only the names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from checks.check import Advice, AnyCheck, Check, GaugeSpec

NAMES = (
    "healthz",
    "logs",
    "sentry",
    "pg_info",
    "pg_connections",
    "tables",
    "grants",
    "migrations",
    "router",
    "pg_metrics",
    "pg_activity",
)

# For a finding id no check gives advice for.
GENERAL_ADVICE = Advice("7", "see runbook RM-10 Section 7")


def load(name: str) -> AnyCheck:
    """The declaration of one of `NAMES`."""
    check = importlib.import_module(f"checks.{name}").CHECK
    if not isinstance(check, Check) or check.name != name:
        raise TypeError(f"checks.{name}.CHECK does not declare the check {name!r}")
    return check


@dataclass(frozen=True)
class Registry:
    """The checks a watcher runs, in order; everything about a check is looked up here."""

    checks: tuple[AnyCheck, ...]

    @classmethod
    def default(cls) -> Registry:
        """docs/checks.md's checks."""
        return cls(tuple(load(name) for name in NAMES))

    def with_checks(self, *extra: AnyCheck) -> Registry:
        """This registry and `extra` after it (a test's own check)."""
        return Registry((*self.checks, *extra))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks)

    def __iter__(self) -> Iterator[AnyCheck]:
        return iter(self.checks)

    def get(self, name: str) -> AnyCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def select(self, names: Iterable[str]) -> list[AnyCheck]:
        """The named checks, in the order given."""
        return [self.get(name) for name in names]

    def is_transport(self, finding_id: str) -> bool:
        """A transport-type finding (docs/alerts.md): fires only after consecutive observations."""
        check, _, kind = finding_id.partition(".")
        return any(c.name == check and kind in c.transport for c in self.checks)

    def advice(self, finding_id: str) -> Advice:
        """What the runbook says to do about a finding, from its check's declaration."""
        check = finding_id.partition(".")[0]
        for candidate in self.checks:
            if candidate.name == check:
                return candidate.advice_for(finding_id) or GENERAL_ADVICE
        return GENERAL_ADVICE

    def gauges(self) -> list[tuple[str, GaugeSpec]]:
        """Every gauge the checks feed, with the check that feeds it."""
        return [(c.name, g) for c in self.checks for g in c.gauges]
