"""Connections against the effective limit, shared by `pg_connections` and `pg_info`
(docs/checks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from checks.check import CheckSettings
from checks.result import Finding, State


@dataclass(frozen=True)
class ConnectionThresholds:
    """The operator's ceiling (SOP 7.3) and the warn/crit ratios of the effective limit."""

    limit: int = 25
    warn_ratio: float = 0.6
    crit_ratio: float = 0.8


def thresholds_of(settings: CheckSettings) -> ConnectionThresholds:
    """The thresholds the settings give."""
    return ConnectionThresholds(
        settings.pg_connection_limit,
        settings.pg_connection_warn_ratio,
        settings.pg_connection_crit_ratio,
    )


def effective_limit(thresholds: ConnectionThresholds, server_limit: int | None) -> int:
    """The operator's ceiling, or the server's real limit if that is lower."""
    if server_limit is not None and 0 < server_limit < thresholds.limit:
        return server_limit
    return thresholds.limit


def _at_or_over(used: int, ratio: float, limit: int) -> bool:
    # Exact decimal arithmetic: 55 of 100 is at 0.55, which 0.55 * 100 in floats is not.
    return used >= Fraction(str(ratio)) * limit


def evaluate_connections(
    finding_id: str,
    used: int,
    thresholds: ConnectionThresholds,
    server_limit: int | None,
    server_label: str,
    counted: str = "",
) -> tuple[Finding | None, str]:
    """A finding when at or over a ratio of the effective limit, and a one-line summary.

    `counted` says how the connections were counted; it stays in every summary.
    """
    limit = effective_limit(thresholds, server_limit)
    text = f"{used}/{limit} connections ({100 * used / limit:.0f}%"
    if server_limit is not None and server_limit != thresholds.limit:
        text += f"; ceiling {thresholds.limit}, {server_label} {server_limit}"
    text += ")" + (f", {counted}" if counted else "")
    if _at_or_over(used, thresholds.crit_ratio, limit):
        state, ratio = State.CRITICAL, thresholds.crit_ratio
    elif _at_or_over(used, thresholds.warn_ratio, limit):
        state, ratio = State.WARNING, thresholds.warn_ratio
    else:
        return None, text
    text += f": at or over {ratio:.0%}"
    return Finding(finding_id, state, text), text
