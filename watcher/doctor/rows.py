"""A doctor row (OK, FAIL with the fix, SKIP with the setting) and what every row is built from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import httpx

from checks.sources.clock import Clock
from watcher.settings import Settings


class Outcome(StrEnum):
    OK = "OK"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Row:
    """One line of `watcher doctor`: `fix` says what to do (FAIL) or what to set (SKIP)."""

    name: str
    result: Outcome
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "result": self.result.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def ok(name: str, detail: str) -> Row:
    return Row(name, Outcome.OK, detail)


def fail(name: str, detail: str, fix: str) -> Row:
    return Row(name, Outcome.FAIL, detail, fix)


def skip(name: str, setting: str, why: str = "not configured") -> Row:
    return Row(name, Outcome.SKIP, why, f"set {setting} to check it")


def not_checked(name: str, because: str) -> Row:
    """A row that cannot be checked while an earlier one fails: fix that one first."""
    return fail(name, f"not checked: {because} failed", f"fix {because} first")


@dataclass(frozen=True)
class Context:
    """What the rows read: the settings, one HTTP client, a clock, a time limit per call."""

    settings: Settings
    http: httpx.Client
    clock: Clock

    @property
    def timeout(self) -> float:
        return self.settings.check_timeout

    def deadline(self) -> float:
        """A deadline (monotonic) for one call from now."""
        return self.clock.monotonic() + self.timeout
