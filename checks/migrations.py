"""`migrations`: the alembic revision against its baseline (SOP 4.10, 5.4)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.check import Advice, Check, Doc, Need, Sources
from checks.result import Baseline, Finding, Observation, Result, State
from checks.sources.database import Database

NAME = "migrations"
SOP = "4.10, 5.4"

_TABLE = "SELECT to_regclass('public.alembic_version') IS NOT NULL"
_REVISIONS = "SELECT version_num FROM public.alembic_version ORDER BY version_num"


def probe(db: Database) -> list[str] | None:
    """The revisions in alembic_version (several on branches); None if the table is missing."""
    ((exists,),) = db.query(_TABLE)
    if not exists:
        return None
    return [str(row[0]) for row in db.query(_REVISIONS)]


def revision_of(revisions: list[str] | None) -> str | None:
    """One comparable revision string, or None when there is none."""
    return ",".join(revisions) if revisions else None


@dataclass(frozen=True)
class MigrationsObservation(Observation):
    """The alembic revision (several joined by commas on branches); None: missing or empty."""

    revision: str | None


def evaluate(revisions: list[str] | None, baseline: Baseline | None) -> Result:
    """Missing or empty is CRITICAL; a revision other than the baseline is WARNING."""
    revision = revision_of(revisions)
    observed = MigrationsObservation(revision)
    if revision is None:
        what = "is missing" if revisions is None else "is empty"
        return Result.from_findings(
            [
                Finding(
                    f"{NAME}.missing",
                    State.CRITICAL,
                    f"alembic_version {what}: the schema is not under migration control"
                    " (re-run step 4.1)",
                )
            ],
            "",
            observed,
        )
    if baseline is None or revision == baseline.value:
        source = baseline.source if baseline else "no baseline"
        return Result.from_findings((), f"revision {revision} ({source})", observed)
    return Result.from_findings(
        [
            Finding(
                f"{NAME}.changed",
                State.WARNING,
                f"revision {revision} is not the baseline {baseline.value}"
                f" ({baseline.source}): a migration ran, or the baseline is out of date",
            )
        ],
        "",
        observed,
    )


def _evaluate(revisions: list[str] | None, sources: Sources) -> Result:
    revision = revision_of(revisions)
    if revision is None:
        return evaluate(revisions, None)
    configured = sources.settings.expected_revision
    return evaluate(
        revisions,
        sources.baseline("revision", configured, "WATCHER_EXPECTED_REVISION", revision),
    )


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.DATABASE,),
    probe=lambda sources: probe(sources.database()),
    evaluate=_evaluate,
    advice=(
        (
            "",
            Advice(
                "4.10, 5.4",
                "the alembic revision differs from 4.10: re-run step 4.1 if below head",
            ),
        ),
    ),
    doc=Doc("`alembic_version`", "table missing or empty", "revision differs from the baseline"),
)
