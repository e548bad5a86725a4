"""`tables`: the number of tables in schema `public` against its baseline (SOP 7.2)."""

from __future__ import annotations

from checks.database import Database
from checks.result import Baseline, Finding, Result, State

NAME = "tables"
SOP = "7.2"

# The runbook's own query (5.4, 7.2), so the watcher's number is the one the operator compares.
_COUNT = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"


def probe(db: Database) -> int:
    """The runbook's table count."""
    ((count,),) = db.query(_COUNT)
    return int(count)


def evaluate(count: int, baseline: Baseline) -> Result:
    """Fewer tables than the baseline is CRITICAL, more is WARNING."""
    expected = int(baseline.value)
    metrics = {"tables": float(count), "baseline": float(expected)}
    if count < expected:
        finding = Finding(
            f"{NAME}.fewer",
            State.CRITICAL,
            f"{count} tables in public, {expected - count} fewer than the baseline {expected}"
            f" ({baseline.source})",
        )
    elif count > expected:
        finding = Finding(
            f"{NAME}.more",
            State.WARNING,
            f"{count} tables in public, {count - expected} more than the baseline {expected}"
            f" ({baseline.source})",
        )
    else:
        return Result.from_findings(
            (), f"{count} tables in public (baseline {expected}, {baseline.source})", metrics
        )
    return Result.from_findings([finding], "", metrics)
