"""`sentry`: new unresolved issues in production since the cutover (SOP 5.5, 7.1, 7.3, 7.4)."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errors

from checks.check import GATE, ROLLBACK, Advice, Check, Doc, GaugeSpec, Need, Sources
from checks.result import PREFIX, Finding, Observation, Result, State
from checks.sources.clock import Clock
from checks.sources.sentry_api import IssuePages, SentryApi
from checks.sources.times import parse_aware

NAME = "sentry"
SOP = "5.5, 7.1, 7.3, 7.4"

# Kinds in the order a summary lists them; all but "other" escalate (docs/checks.md).
KINDS = (
    "operational_error",
    "programming_error",
    "unique_violation",
    "role_missing",
    "fatal",
    "other",
)
_SHOWN = 3


def _driver_subclasses(base: type) -> frozenset[str]:
    """psycopg2's own names for `base` and its SQLSTATE subclasses (psycopg 3 uses the same)."""
    found = {base.__name__}
    for name, value in vars(psycopg2.errors).items():
        # Python's own SyntaxError and SystemError share the name: such a title says nothing.
        if isinstance(value, type) and issubclass(value, base) and not hasattr(builtins, name):
            found.add(name)
    return frozenset(found)


# Sentry titles an issue by the exception's class: `InsufficientPrivilege: permission denied
# for table ...` is a ProgrammingError though the title never says so. SQLAlchemy's wrappers
# (`sqlalchemy.exc.ProgrammingError`) carry the base names themselves.
OPERATIONAL_NAMES = _driver_subclasses(psycopg2.OperationalError)
PROGRAMMING_NAMES = _driver_subclasses(psycopg2.ProgrammingError)
UNIQUE_VIOLATION = "UniqueViolation"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Since:
    """T0 of the watch and where it came from, for the summary."""

    at: datetime
    source: str


@dataclass(frozen=True)
class SentryObservation(Observation):
    """New unresolved issues since T0 (in all, and by kind), and the API requests it took."""

    new_issues: int
    requests: int
    by_kind: dict[str, int] = field(default_factory=dict, metadata={PREFIX: "new_issues_"})


def classify(issue: dict[str, Any], app_role: str) -> str:
    """The issue's kind: what makes it escalate, or "other"."""
    metadata = issue.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}  # absent on some issue types
    kind_text = f"{_text(metadata.get('type'))} {_text(issue.get('title'))}"
    text = f"{kind_text} {_text(metadata.get('value'))}"
    names = set(_NAME.findall(kind_text))
    if "OperationalError" in kind_text or names & OPERATIONAL_NAMES:
        return "operational_error"
    if "ProgrammingError" in kind_text or names & PROGRAMMING_NAMES:
        return "programming_error"
    if UNIQUE_VIOLATION in names:
        return "unique_violation"
    if f'role "{app_role}" does not exist' in text:
        return "role_missing"
    if issue.get("level") == "fatal":
        return "fatal"
    return "other"


def check(
    api: SentryApi, since: Since, app_role: str, environment: str, clock: Clock, budget: float
) -> Result:
    """Read the issues seen since T0 and keep those first seen at or after it."""
    return evaluate(probe(api, since, clock, budget), since, app_role, environment)


def probe(api: SentryApi, since: Since, clock: Clock, budget: float) -> IssuePages:
    """The unresolved issues with events since T0, as many pages as the budget allows."""
    deadline = clock.monotonic() + budget
    return api.new_unresolved(since.at, clock.now(), deadline)


def evaluate(pages: IssuePages, since: Since, app_role: str, environment: str) -> Result:
    """Issues first seen since T0: CRITICAL when a database error or fatal, else WARNING."""
    new = [i for i in pages.issues if _is_new(i, since.at)]
    kinds = [classify(i, app_role) for i in new]
    observed = SentryObservation(len(new), pages.requests, {k: kinds.count(k) for k in KINDS})
    t0 = f"{since.at:%Y-%m-%d %H:%MZ} ({since.source})"
    if not new:
        more = f"; read the first {len(pages.issues)} only" if pages.truncated else ""
        return Result.from_findings(
            (), f"no new unresolved issues in {environment} since {t0}{more}", observed
        )
    findings = [
        Finding(
            f"{NAME}.{issue.get('id')}",
            State.WARNING if kind == "other" else State.CRITICAL,
            _describe(issue, kind),
        )
        for issue, kind in sorted(zip(new, kinds, strict=True), key=lambda p: KINDS.index(p[1]))
    ]
    shown = "; ".join(f.summary for f in findings[:_SHOWN])
    rest = len(findings) - _SHOWN
    summary = f"{len(new)} new unresolved issue(s) in {environment} since {t0}: {shown}"
    summary += f"; and {rest} more" if rest > 0 else ""
    summary += " (page cap reached: there may be more)" if pages.truncated else ""
    state = State.CRITICAL if any(f.state == State.CRITICAL for f in findings) else State.WARNING
    return Result(state, summary, observed, tuple(findings))


def _is_new(issue: dict[str, Any], since: datetime) -> bool:
    """Unresolved and first seen at or after T0 (by lastSeen where firstSeen is null)."""
    if issue.get("status", "unresolved") != "unresolved":
        return False
    # The API's window is about events, not first sight: check firstSeen ourselves. Sentry's
    # own models allow `firstSeen: null`; then the last event decides, and an issue with
    # neither time was returned for events in the window: it is shown, never dropped.
    seen = parse_aware(issue.get("firstSeen")) or parse_aware(issue.get("lastSeen"))
    return seen is None or seen >= since


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _describe(issue: dict[str, Any], kind: str) -> str:
    count = str(issue.get("count", "?"))
    events = f"{count} event" + ("" if count == "1" else "s")
    label = "" if kind == "other" else f"[{kind.replace('_', ' ')}] "
    short_id = issue.get("shortId") or issue.get("id")
    title = issue.get("title") or "(no title)"
    return f"{label}{short_id} {title} ({events}) {issue.get('permalink') or ''}".rstrip()


def _probe(sources: Sources) -> tuple[IssuePages, Since]:
    since = sources.since()
    return probe(sources.sentry(), since, sources.clock, sources.budget), since


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.SENTRY,),
    probe=_probe,
    evaluate=lambda read, sources: evaluate(
        read[0], read[1], sources.settings.app_role, sources.settings.sentry_environment
    ),
    advice=(
        (
            "",
            Advice(
                "5.5, 7.4",
                f"a new error since the cutover: triage it in Sentry; {ROLLBACK}; {GATE}",
            ),
        ),
    ),
    gauges=tuple(
        GaugeSpec(
            "watcher_sentry_new_issues",
            "new unresolved Sentry issues since T0, by kind",
            f"new_issues_{kind}",
            (("kind", kind),),
        )
        for kind in KINDS
    ),
    doc=Doc(
        "Sentry issues API",
        "a new unresolved issue (first seen at or after T0; by `lastSeen` when `firstSeen` is"
        " null) whose type or title is an OperationalError or ProgrammingError or one of the"
        " driver's subclasses (`InsufficientPrivilege`, `UndefinedTable`, `UndefinedColumn`,"
        " ... as psycopg2 names them, and `UniqueViolation`), SQLAlchemy's wrappers included,"
        ' or that says `role "<app role>" does not exist`, or whose level is `fatal`',
        "any other new unresolved issue",
    ),
)
