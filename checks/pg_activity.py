"""`pg_activity`: what hurts first inside Postgres after a move (SOP 7.2, 7.3).

Sequences behind their columns (the next INSERT fails with a duplicate key), long queries,
sessions idle in a transaction, lock waits, and tables nobody has analyzed yet.

`probe()` (`checks/sources/activity_probe.py`) reads everything in one statement on the SQL
checks' shared read-only session (one round trip, one snapshot; every concern is its own
subquery); `evaluate()` judges what was read against the thresholds. The watcher's own session
is never counted: the statement leaves out `pg_backend_pid()`, the backend that runs it, which
behind a transaction pooler too is the watcher's only session at that moment.

Visibility: without the privileges of `pg_read_all_stats` (which `pg_monitor` carries), other
roles' rows in `pg_stat_activity` keep their pid, user and database but show `state`,
`query` and the times as NULL (the query as `<insufficient privilege>`). Heroku's owner
credential is a member of `pg_monitor` on production plans, not on Essential plans, and a
credential made with `pg:credentials:create` is not unless granted. The check then judges the
sessions it can see and the sequence and analyze parts in full, and says in an UNKNOWN finding
(`pg_activity.visibility`) what it cannot see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from checks.check import Advice, Check, CheckSettings, Doc, GaugeSpec, Need
from checks.result import Finding, Observation, Result, State
from checks.sources.activity_probe import (
    ANALYZE_MIN_ROWS,
    Activity,
    OwnedSequence,
    Session,
    SessionState,
    UnanalyzedTable,
    probe,
)
from checks.sources.database import Database

NAME = "pg_activity"
SOP = "7.2, 7.3"

_SHOWN = 3

SEQUENCE_BEHIND = f"{NAME}.sequence_behind"
LONG_QUERY = f"{NAME}.long_query"
IDLE_IN_TRANSACTION = f"{NAME}.idle_in_transaction"
BLOCKED = f"{NAME}.blocked"
NOT_ANALYZED = f"{NAME}.not_analyzed"
# What the credential cannot see (other roles' sessions, a sequence it may not read).
VISIBILITY = f"{NAME}.visibility"


@dataclass(frozen=True)
class ActivityThresholds:
    """Seconds past which a session is reported (WATCHER_PG_*_SECONDS)."""

    long_query_seconds: float = 60
    idle_in_transaction_seconds: float = 60
    blocked_seconds: float = 30


@dataclass(frozen=True)
class PgActivityObservation(Observation):
    """Sessions by state (the watcher's own excluded), sequences, unanalyzed tables."""

    sessions_active: int
    sessions_idle_in_transaction: int
    # Waiting on another session's lock (active too).
    sessions_blocked: int
    # Other roles' sessions the credential may not see (0 with pg_monitor).
    sessions_hidden: int
    sequences_owned: int
    sequences_read: int
    sequences_behind: int
    tables_not_analyzed: int


def check(db: Database, thresholds: ActivityThresholds) -> Result:
    """Probe the database and judge what it shows."""
    return evaluate(probe(db), thresholds)


def evaluate(activity: Activity, thresholds: ActivityThresholds) -> Result:
    """A finding per kind; the state is the worst of them (UNKNOWN only for what is unseen).

    Lock waits come before long queries: a waiting statement is active too, and the wait
    (with the pid holding the lock) is the cause to read first.
    """
    findings: list[Finding] = []
    behind = [s for s in activity.sequences if s.behind]
    if behind:
        findings.append(_sequence_finding(behind, activity))
    sessions = activity.sessions
    active = [s for s in sessions if s.state is SessionState.ACTIVE]
    idle = [s for s in sessions if s.state is SessionState.IDLE_IN_TRANSACTION]
    blocked = [s for s in sessions if s.blocked_by]
    long_queries = [s for s in active if s.seconds > thresholds.long_query_seconds]
    idle_long = [s for s in idle if s.seconds > thresholds.idle_in_transaction_seconds]
    blocked_long = [s for s in blocked if s.waiting_seconds > thresholds.blocked_seconds]
    if blocked_long:
        findings.append(
            _session_finding(
                BLOCKED,
                f"session(s) waiting on a lock longer than {_limit(thresholds.blocked_seconds)}",
                blocked_long,
                lambda s: s.waiting_seconds,
                lambda s: (
                    f"waiting {_seconds(s.waiting_seconds)} on a lock held by pid"
                    f" {', '.join(str(p) for p in s.blocked_by)}"
                ),
            )
        )
    if idle_long:
        findings.append(
            _session_finding(
                IDLE_IN_TRANSACTION,
                "session(s) idle in a transaction longer than"
                f" {_limit(thresholds.idle_in_transaction_seconds)}",
                idle_long,
                lambda s: s.seconds,
                lambda s: f"idle in transaction {_seconds(s.seconds)}, last query",
            )
        )
    if long_queries:
        findings.append(
            _session_finding(
                LONG_QUERY,
                f"statement(s) active longer than {_limit(thresholds.long_query_seconds)}",
                long_queries,
                lambda s: s.seconds,
                lambda s: f"active {_seconds(s.seconds)}",
            )
        )
    if activity.unanalyzed:
        findings.append(_analyze_finding(activity.unanalyzed))
    visibility = _visibility_finding(activity)
    if visibility is not None:
        findings.append(visibility)
    observed = PgActivityObservation(
        sessions_active=len(active),
        sessions_idle_in_transaction=len(idle),
        sessions_blocked=len(blocked),
        sessions_hidden=activity.hidden_sessions,
        sequences_owned=activity.sequences_owned,
        sequences_read=len(activity.sequences),
        sequences_behind=len(behind),
        tables_not_analyzed=len(activity.unanalyzed),
    )
    ok = (
        f"{len(active)} active, {len(idle)} idle in transaction, {len(blocked)} waiting on a lock"
        f" (none past {_limit(thresholds.long_query_seconds)}"
        f" / {_limit(thresholds.idle_in_transaction_seconds)}"
        f" / {_limit(thresholds.blocked_seconds)}); {_sequences_read(activity)} ahead of"
        f" their columns; no table over {ANALYZE_MIN_ROWS:,} rows left unanalyzed"
    )
    result = Result.from_findings(findings, ok, observed)
    if visibility is not None and result.state is State.UNKNOWN:
        # What it could not see raised no alert before either: alerts of the parts it
        # judged may resolve.
        unseen = (SEQUENCE_BEHIND,) if any(not s.readable for s in activity.sequences) else ()
        return replace(result, unjudged=unseen)
    return result


def _sequence_finding(behind: Sequence[OwnedSequence], activity: Activity) -> Finding:
    shown = "; ".join(
        f"{s.table}.{s.column} is at {s.column_bound}, {s.sequence} hands out {s.next_value}"
        f" next [fix: {s.fix}]"
        for s in behind[:_SHOWN]
    )
    more = f"; and {len(behind) - _SHOWN} more" if len(behind) > _SHOWN else ""
    return Finding(
        SEQUENCE_BEHIND,
        State.CRITICAL,
        f"{len(behind)} sequence(s) behind their column, the next INSERT fails with a duplicate"
        f" key: {shown}{more}{_beyond_limit(activity)}",
    )


def _session_finding(
    finding_id: str,
    what: str,
    sessions: Sequence[Session],
    seconds_of: Callable[[Session], float],
    describe: Callable[[Session], str],
) -> Finding:
    """The longest first: pid, user, how long, and the masked head of the query."""
    longest = sorted(sessions, key=seconds_of, reverse=True)
    shown = "; ".join(
        f'pid {s.pid} ({s.user}) {describe(s)}: "{s.query}"' for s in longest[:_SHOWN]
    )
    more = f"; and {len(sessions) - _SHOWN} more" if len(sessions) > _SHOWN else ""
    return Finding(finding_id, State.WARNING, f"{len(sessions)} {what}: {shown}{more}")


def _analyze_finding(tables: Sequence[UnanalyzedTable]) -> Finding:
    shown = ", ".join(f"{t.table} ({t.live_rows:,} rows)" for t in tables[:_SHOWN])
    more = f" and {len(tables) - _SHOWN} more" if len(tables) > _SHOWN else ""
    return Finding(
        NOT_ANALYZED,
        State.WARNING,
        f"{len(tables)} table(s) over {ANALYZE_MIN_ROWS:,} rows never analyzed, neither by"
        f" ANALYZE nor autovacuum (the planner has no statistics): {shown}{more}",
    )


def _visibility_finding(activity: Activity) -> Finding | None:
    parts = []
    if not activity.sees_all_sessions:
        parts.append(
            f"needs pg_monitor to see other roles' sessions ({activity.hidden_sessions} open"
            f" now, hidden from {activity.user}): long queries, idle transactions and lock waits"
            f" judged on {activity.user}'s own sessions only (GRANT pg_monitor TO"
            f" {activity.user})"
        )
    unreadable = [s for s in activity.sequences if not s.readable]
    if unreadable:
        names = ", ".join(s.sequence for s in unreadable[:_SHOWN])
        more = f" and {len(unreadable) - _SHOWN} more" if len(unreadable) > _SHOWN else ""
        parts.append(
            f"{len(unreadable)} sequence(s) not judged ({names}{more}): {activity.user} may"
            " not read the sequence or its column, or the table is locked"
        )
    if not parts:
        return None
    return Finding(VISIBILITY, State.UNKNOWN, "; ".join(parts))


def _sequences_read(activity: Activity) -> str:
    read = len(activity.sequences)
    if activity.sequences_owned > read:
        return f"the first {read} of {activity.sequences_owned} sequences"
    return f"{read} sequence(s)"


def _beyond_limit(activity: Activity) -> str:
    if activity.sequences_owned > len(activity.sequences):
        return f" (the first {len(activity.sequences)} of {activity.sequences_owned} read)"
    return ""


def _seconds(seconds: float) -> str:
    """A duration as read: tenths below 10 s, whole seconds above."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def _limit(seconds: float) -> str:
    """A threshold as configured."""
    return f"{seconds:g} s"


def thresholds_of(settings: CheckSettings) -> ActivityThresholds:
    """The thresholds the settings give (WATCHER_PG_*_SECONDS)."""
    return ActivityThresholds(
        settings.pg_long_query_seconds,
        settings.pg_idle_in_transaction_seconds,
        settings.pg_blocked_seconds,
    )


def _sessions_gauge(state: str) -> GaugeSpec:
    return GaugeSpec(
        "watcher_pg_sessions",
        "client sessions of the watched database by state, the watcher's own excluded"
        " (blocked: waiting on another session's lock, and active too)",
        f"sessions_{state}",
        (("state", state),),
    )


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.DATABASE,),
    probe=lambda sources: probe(sources.database()),
    evaluate=lambda activity, sources: evaluate(activity, thresholds_of(sources.settings)),
    advice=(
        (
            "sequence_behind",
            Advice(
                "7.3",
                "a sequence is behind its column: INSERTs into that table fail with a duplicate"
                " key; as the owner, run `SELECT setval('<sequence>', (SELECT max(<column>) FROM"
                " <table>));` (the summary gives it with the names filled in; the watcher never"
                " writes it), then check the other tables the data copy filled",
            ),
        ),
        (
            "long_query",
            Advice(
                "7.2, 7.3",
                "a statement runs long: look at its plan (EXPLAIN) and its locks;"
                " `SELECT pg_cancel_backend(<pid>)` if it holds the app up",
            ),
        ),
        (
            "idle_in_transaction",
            Advice(
                "7.2, 7.3",
                "a session sits in an open transaction, holding its locks and connection: find"
                " the code path that does not commit; `SELECT pg_terminate_backend(<pid>)` if it"
                " blocks others",
            ),
        ),
        (
            "blocked",
            Advice(
                "7.3",
                "sessions wait on a lock: find the holder (the pid named) and end its transaction;"
                " long transactions from SQLite habits are the usual cause",
            ),
        ),
        (
            "not_analyzed",
            Advice(
                "7.2",
                "a table filled by the migration has no planner statistics: run"
                " `ANALYZE <table>;` (or `ANALYZE;` for all), as the owner",
            ),
        ),
        (
            "visibility",
            Advice(
                "7.3",
                "the watcher's credential cannot see everything: `GRANT pg_monitor TO <its role>;`"
                " (Heroku's owner credential has it on production plans)",
            ),
        ),
    ),
    gauges=(
        *(_sessions_gauge(state) for state in ("active", "idle_in_transaction", "blocked")),
        GaugeSpec(
            "watcher_pg_sequences_behind",
            "sequences whose next value is already taken in their column",
            "sequences_behind",
        ),
    ),
    doc=Doc(
        "`pg_stat_activity`, `pg_blocking_pids`, `pg_sequences`, `pg_stat_user_tables`",
        "a sequence owned by a column in `public` whose next value is not above the column's"
        " max (the next INSERT fails with a duplicate key)",
        "a statement active longer than `WATCHER_PG_LONG_QUERY_SECONDS`; a session idle in a"
        " transaction longer than `WATCHER_PG_IDLE_IN_TRANSACTION_SECONDS`; a session waiting on"
        " another's lock longer than `WATCHER_PG_BLOCKED_SECONDS`; a table in `public` with more"
        " than 1,000 live rows never analyzed",
    ),
)
