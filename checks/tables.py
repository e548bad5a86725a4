"""`tables`: the number of tables in schema `public` against its baseline (SOP 7.2)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.check import GATE, Advice, Check, Doc, GaugeSpec, Need, Sources
from checks.result import Baseline, Finding, Observation, Result, State
from checks.sources.database import Database

NAME = "tables"
SOP = "7.2"

# The runbook's own query (5.4, 7.2), so the watcher's number is the one the operator compares.
_COUNT = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"


@dataclass(frozen=True)
class TablesObservation(Observation):
    """The table count in `public`, and the baseline it was compared with."""

    tables: int
    baseline: int


def probe(db: Database) -> int:
    """The runbook's table count."""
    ((count,),) = db.query(_COUNT)
    return int(count)


def evaluate(count: int, baseline: Baseline) -> Result:
    """Fewer tables than the baseline is CRITICAL, more is WARNING."""
    expected = int(baseline.value)
    metrics = TablesObservation(count, expected)
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


def _baseline(count: int, sources: Sources) -> Baseline:
    configured = sources.settings.expected_tables
    return sources.baseline(
        "tables",
        None if configured is None else str(configured),
        "WATCHER_EXPECTED_TABLES",
        str(count),
    )


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.DATABASE,),
    probe=lambda sources: probe(sources.database()),
    evaluate=lambda count, sources: evaluate(count, _baseline(count, sources)),
    advice=(
        (
            "",
            Advice(
                "7.2, 5.4",
                f"the table count moved from the baseline: compare with step 4.2; {GATE}",
            ),
        ),
    ),
    gauges=(
        GaugeSpec("watcher_public_tables", "tables in schema public", "tables"),
        GaugeSpec("watcher_public_tables_baseline", "table count baseline", "baseline"),
    ),
    doc=Doc(
        "`information_schema.tables` in `public`",
        "fewer than the baseline",
        "more than the baseline",
    ),
)
