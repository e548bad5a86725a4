"""Connections against the effective limit, shared by `pg_connections` and `pg_info` (SPEC 3)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.result import Finding, State


@dataclass(frozen=True)
class ConnectionThresholds:
    """The operator's ceiling (SOP 7.3) and the warn/crit ratios of the effective limit."""

    limit: int = 25
    warn_ratio: float = 0.6
    crit_ratio: float = 0.8


def effective_limit(thresholds: ConnectionThresholds, server_limit: int | None) -> int:
    """The operator's ceiling, or the server's real limit if that is lower."""
    if server_limit is not None and 0 < server_limit < thresholds.limit:
        return server_limit
    return thresholds.limit


def evaluate_connections(
    finding_id: str,
    used: int,
    thresholds: ConnectionThresholds,
    server_limit: int | None,
    server_label: str,
) -> tuple[Finding | None, str]:
    """A finding when at or over a ratio of the effective limit, and a one-line summary."""
    limit = effective_limit(thresholds, server_limit)
    percent = 100 * used / limit
    text = f"{used}/{limit} connections ({percent:.0f}%"
    if server_limit is not None and server_limit != thresholds.limit:
        text += f"; ceiling {thresholds.limit}, {server_label} {server_limit}"
    text += ")"
    if used >= thresholds.crit_ratio * limit:
        state = State.CRITICAL
        text += f", at or over {thresholds.crit_ratio:.0%}"
    elif used >= thresholds.warn_ratio * limit:
        state = State.WARNING
        text += f", at or over {thresholds.warn_ratio:.0%}"
    else:
        return None, text
    return Finding(finding_id, state, text), text
