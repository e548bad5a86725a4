"""What `watcher snooze` accepts: a TARGET that names a check or a finding kind, a DURATION."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

# The finding kinds of docs/checks.md, per check; `logs` adds the catalogue's pattern ids and
# `sentry` takes any issue id. A check registered later, and not listed here, takes any kind.
FINDING_KINDS: dict[str, frozenset[str]] = {
    "healthz": frozenset(
        {
            "db_sqlite",
            "db_unexpected",
            "unhealthy",
            "maintenance",
            "http_status",
            "bad_body",
            "unreachable",
            "timeout",
            "slow",
        }
    ),
    "logs": frozenset({"stream", "stream_gap"}),
    "pg_info": frozenset({"status", "connections", "plan"}),
    "pg_connections": frozenset({"connections"}),
    "tables": frozenset({"fewer", "more"}),
    "grants": frozenset(
        {"role_missing", "role_nologin", "table_privileges", "sequence_usage", "migration_tables"}
    ),
    "migrations": frozenset({"missing", "changed"}),
    "router": frozenset({"errors", "latency"}),
    "pg_metrics": frozenset({"load", "waiting", "cache_hit", "db_size"}),
    "pg_activity": frozenset(
        {"sequence_behind", "long_query", "idle_in_transaction", "blocked", "not_analyzed"}
    ),
}
_ANY_KIND = frozenset({"sentry"})
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def target_problem(target: str, checks: Iterable[str], patterns: Iterable[str]) -> str | None:
    """Why `target` names no check or finding kind (None: it names one)."""
    names = set(checks)
    check, dot, kind = target.partition(".")
    if check not in names:
        return f"{target!r} names no check (checks: {', '.join(sorted(names))})"
    if not dot or not kind:
        return None  # `healthz` or `healthz.`: every finding of the check
    if check in _ANY_KIND or check not in FINDING_KINDS:
        return None
    known = FINDING_KINDS[check] | (set(patterns) if check == "logs" else set())
    if kind.endswith("."):
        return f"{target!r}: a prefix ends at the check ({check}.)"
    if kind not in known:
        return f"{target!r} names no finding kind of {check} (kinds: {', '.join(sorted(known))})"
    return None


def parse_duration(text: str) -> timedelta | None:
    """`90s`, `30m`, `2h` or `1h30m`; None if it is none of those (or zero)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return duration if duration > timedelta(0) else None
