"""`migrations`: the alembic revision against its baseline (SOP 4.10, 5.4)."""

from __future__ import annotations

from checks.database import Database
from checks.result import Baseline, Finding, Result, State

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


def evaluate(revisions: list[str] | None, baseline: Baseline | None) -> Result:
    """Missing or empty is CRITICAL; a revision other than the baseline is WARNING."""
    revision = revision_of(revisions)
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
        )
    if baseline is None or revision == baseline.value:
        source = baseline.source if baseline else "no baseline"
        return Result.from_findings((), f"revision {revision} ({source})")
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
    )
