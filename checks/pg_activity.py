"""`pg_activity`: what hurts first inside Postgres after a move (SOP 7.2, 7.3).

Sequences behind their columns (the next INSERT fails with a duplicate key), long queries,
sessions idle in a transaction, lock waits, and tables nobody has analyzed yet.

`probe()` reads everything in one statement on the SQL checks' shared read-only session (one
round trip, one snapshot; every concern is its own subquery); `evaluate()` judges what was read
against the thresholds. The watcher's own session is never counted: the statement leaves out
`pg_backend_pid()`, the backend that runs it, which behind a transaction pooler too is the
watcher's only session at that moment.

Visibility: without the privileges of `pg_read_all_stats` (which `pg_monitor` carries), other
roles' rows in `pg_stat_activity` keep their pid, user and database but show `state`,
`query` and the times as NULL (the query as `<insufficient privilege>`). Heroku's owner
credential is a member of `pg_monitor` on production plans, not on Essential plans, and a
credential made with `pg:credentials:create` is not unless granted. The check then judges the
sessions it can see and the sequence and analyze parts in full, and says in an UNKNOWN finding
(`pg_activity.visibility`) what it cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from checks.check import Advice, Check, CheckSettings, Doc, GaugeSpec, Need
from checks.result import CheckError, Finding, Observation, Result, State
from checks.sources.database import Database

NAME = "pg_activity"
SOP = "7.2, 7.3"

MAX_SEQUENCES = 200
ANALYZE_MIN_ROWS = 1000
QUERY_CHARS = 80
# pg_stat_activity keeps at most track_activity_query_size (1 kB by default) of a query.
_QUERY_READ = 1024
_UNANALYZED_READ = 100
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


class SessionState(Enum):
    """The states of `pg_stat_activity` the check judges."""

    ACTIVE = "active"
    IDLE_IN_TRANSACTION = "idle in transaction"


@dataclass(frozen=True)
class Session:
    """A client session of the watched database other than the watcher's own."""

    pid: int
    user: str
    state: SessionState
    # Active: since its statement started. Idle in transaction: since it went idle.
    seconds: float
    # Pids holding the lock it waits for; empty when it waits for no lock.
    blocked_by: tuple[int, ...]
    # Since it started waiting for the lock (its statement's start on PostgreSQL < 14).
    waiting_seconds: float
    # The first characters of its query with every literal masked (see `query_head`).
    query: str


@dataclass(frozen=True)
class OwnedSequence:
    """A sequence owned by a column of a table in `public` (serial or identity)."""

    sequence: str  # qualified and quoted as SQL needs: public.users_id_seq
    table: str  # public.users
    column: str  # id, quoted if it must be
    increment: int
    # The value nextval() hands out next; None when the credential may not read it.
    next_value: int | None
    # The column's max (min for a descending sequence); None when empty or unreadable.
    column_bound: int | None
    column_readable: bool

    @property
    def behind(self) -> bool:
        """The next value is already taken (or passed) by a row of the column."""
        if self.next_value is None or self.column_bound is None:
            return False
        if self.increment > 0:
            return self.next_value <= self.column_bound
        return self.next_value >= self.column_bound

    @property
    def readable(self) -> bool:
        return self.next_value is not None and self.column_readable

    @property
    def fix(self) -> str:
        """The statement that moves the sequence past the column: for the operator to run."""
        bound = "max" if self.increment > 0 else "min"
        name = self.sequence.replace("'", "''")
        return f"SELECT setval('{name}', (SELECT {bound}({self.column}) FROM {self.table}));"


@dataclass(frozen=True)
class UnanalyzedTable:
    """A table in `public` over ANALYZE_MIN_ROWS live rows that was never analyzed."""

    table: str
    live_rows: int


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


@dataclass(frozen=True)
class Activity:
    """What one probe read."""

    user: str
    # Superuser or the privileges of pg_read_all_stats: every session's state is visible.
    sees_all_sessions: bool
    # Sessions of this database whose state the credential may not see.
    hidden_sessions: int
    sessions: tuple[Session, ...]
    sequences: tuple[OwnedSequence, ...]
    # Sequences owned by a column in public; at most MAX_SEQUENCES of them are read.
    sequences_owned: int
    unanalyzed: tuple[UnanalyzedTable, ...]


# Superusers have the privileges of every role; pg_monitor members inherit these.
_SEES_ALL = "pg_has_role('pg_read_all_stats', 'USAGE')"

_SESSIONS = """
SELECT coalesce(json_agg(s ORDER BY s.pid), '[]'::json) FROM (
  SELECT a.pid, a.usename AS "user",
         CASE WHEN a.state = 'active' THEN 'active' ELSE 'idle in transaction' END AS state,
         greatest(0, extract(epoch FROM statement_timestamp()
           - CASE WHEN a.state = 'active' THEN a.query_start ELSE a.state_change END)) AS seconds,
         coalesce(b.blocked_by, '{}') AS blocked_by,
         -- pg_locks.waitstart is PostgreSQL 14+: read through to_jsonb, so older servers
         -- answer (with the statement's start) instead of failing on a missing column.
         greatest(0, extract(epoch FROM statement_timestamp() - coalesce(
           (SELECT min((to_jsonb(l) ->> 'waitstart')::timestamptz) FROM pg_locks l
            WHERE l.pid = a.pid AND NOT l.granted),
           a.query_start))) AS waiting_seconds,
         left(a.query, %(query_read)s) AS query
  FROM pg_stat_activity a
  -- pg_blocking_pids takes the lock manager's locks: asked only of sessions waiting on one.
  LEFT JOIN LATERAL (SELECT pg_blocking_pids(a.pid) AS blocked_by
                     WHERE a.wait_event_type = 'Lock') b ON true
  WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
    AND a.backend_type = 'client backend'
    AND a.state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
) s
"""

# Another role's row keeps its user and database; its backend_type, state and query are hidden.
_HIDDEN = """
SELECT count(*) FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.usesysid IS NOT NULL AND a.backend_type IS NULL
"""

# Serial (deptype 'a') and identity ('i') sequences of columns in public. The next value and
# the column's bound are read with query_to_xml: one statement for any number of tables,
# each read only when the credential may (a denied read would fail the whole statement) and
# the table is not locked or queued for an ACCESS EXCLUSIVE lock (a migration's ALTER TABLE):
# the read would wait behind it until the statement timeout.
_SEQUENCES = """
WITH owned AS (
  SELECT s.oid AS seq, t.oid AS tbl, a.attname AS col, t.relname, ps.increment_by,
         ps.start_value, ps.last_value,
         format('%%I.%%I', sn.nspname, s.relname) AS seq_name,
         format('%%I.%%I', tn.nspname, t.relname) AS tbl_name
  FROM pg_depend d
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace AND tn.nspname = 'public'
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
    AND d.deptype IN ('a', 'i')
),
picked AS (
  SELECT o.*,
         NOT EXISTS (SELECT 1 FROM pg_locks l
                     WHERE l.locktype = 'relation' AND l.relation IN (o.tbl, o.seq)
                       AND l.mode = 'AccessExclusiveLock'
                       AND l.database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database())) AS unlocked
  FROM owned o ORDER BY o.relname, o.col LIMIT %(max_sequences)s
),
read AS (
  SELECT p.*,
    CASE WHEN p.unlocked AND has_sequence_privilege(p.seq, 'SELECT') THEN
      query_to_xml(format('SELECT last_value::text AS l, is_called AS c FROM %%s',
                          p.seq::regclass), false, true, '')
    END AS seq_xml,
    CASE WHEN p.unlocked AND has_column_privilege(p.tbl, p.col, 'SELECT') THEN
      query_to_xml(format('SELECT %%s(%%I)::text AS v FROM %%s',
                          CASE WHEN p.increment_by > 0 THEN 'max' ELSE 'min' END,
                          p.col, p.tbl::regclass), false, true, '')
    END AS col_xml
  FROM picked p OFFSET 0
)
SELECT json_build_object(
  'owned', (SELECT count(*) FROM owned),
  'read', (SELECT coalesce(json_agg(json_build_object(
      'sequence', r.seq_name,
      'table', r.tbl_name,
      'column', quote_ident(r.col),
      'increment', r.increment_by::text,
      'start', r.start_value::text,
      -- pg_sequences: NULL before the first nextval, or without USAGE or SELECT on it.
      'last_value_seen', r.last_value::text,
      'may_use', has_sequence_privilege(r.seq, 'USAGE, SELECT'),
      'last_value', (xpath('/row/l/text()', r.seq_xml))[1]::text,
      'is_called', (xpath('/row/c/text()', r.seq_xml))[1]::text,
      'column_read', r.col_xml IS NOT NULL,
      'column_bound', (xpath('/row/v/text()', r.col_xml))[1]::text
    ) ORDER BY r.relname, r.col), '[]'::json) FROM read r)
)
"""

# Rows counted by the statistics system since the table was created: known before any ANALYZE.
_UNANALYZED = """
SELECT coalesce(json_agg(u), '[]'::json) FROM (
  SELECT format('%%I.%%I', schemaname, relname) AS "table", n_live_tup AS live_rows
  FROM pg_stat_user_tables
  WHERE schemaname = 'public' AND n_live_tup > %(min_rows)s
    AND last_analyze IS NULL AND last_autoanalyze IS NULL
  ORDER BY n_live_tup DESC, relname LIMIT %(unanalyzed_read)s
) u
"""

_PROBE = f"""
SELECT json_build_object(
  'user', current_user,
  'sees_all', {_SEES_ALL},
  'hidden', ({_HIDDEN}),
  'sessions', ({_SESSIONS}),
  'sequences', ({_SEQUENCES}),
  'unanalyzed', ({_UNANALYZED})
)
"""

_PARAMS = {
    "query_read": _QUERY_READ,
    "max_sequences": MAX_SEQUENCES,
    "min_rows": ANALYZE_MIN_ROWS,
    "unanalyzed_read": _UNANALYZED_READ,
}


def check(db: Database, thresholds: ActivityThresholds) -> Result:
    """Probe the database and judge what it shows."""
    return evaluate(probe(db), thresholds)


def probe(db: Database) -> Activity:
    """Sessions, owned sequences and unanalyzed tables, read in one statement."""
    ((data,),) = db.query(_PROBE, _PARAMS)
    try:
        return _activity(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckError(f"unexpected answer from pg_stat_activity: {exc}") from None


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


def query_head(query: str, limit: int = QUERY_CHARS) -> str:
    """The first `limit` characters of a query on one line, every literal masked as `?`.

    psycopg2 and most drivers send parameters inlined into the query text, so the values an
    app queries with (emails, tokens) stand in `pg_stat_activity` as literals: strings,
    dollar-quoted strings and numbers all become `?`. Masked before cutting, so a literal
    that starts within the limit is masked too.
    """
    masked = _LITERAL.sub(_mask, query)
    return " ".join(masked.split())[:limit]


# A quoted identifier (kept), a string constant (E'', B'', X'', U&''; cut off at the end of a
# truncated query too), a dollar-quoted string, or a number not part of a name or a $1.
_LITERAL = re.compile(
    r"""(?P<ident>"(?:[^"]|"")*"?)
      | (?:\b[EeBbXxNn]|\b[Uu]&)?'(?:[^'\\]|''|\\.)*(?:'|$)
      | \$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?(?:\$(?P=tag)\$|$)
      | (?<![\w$.])\.?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?""",
    re.VERBOSE | re.DOTALL,
)


def _mask(match: re.Match[str]) -> str:
    return match.group(0) if match.group("ident") else "?"


def _activity(data: Mapping[str, Any]) -> Activity:
    sequences = data["sequences"]
    return Activity(
        user=str(data["user"]),
        sees_all_sessions=bool(data["sees_all"]),
        hidden_sessions=int(data["hidden"]),
        sessions=tuple(_session(s) for s in data["sessions"]),
        sequences=tuple(_sequence(s) for s in sequences["read"]),
        sequences_owned=int(sequences["owned"]),
        unanalyzed=tuple(
            UnanalyzedTable(str(u["table"]), int(u["live_rows"])) for u in data["unanalyzed"]
        ),
    )


def _session(row: Mapping[str, Any]) -> Session:
    return Session(
        pid=int(row["pid"]),
        user=str(row["user"]),
        state=SessionState(row["state"]),
        seconds=float(row["seconds"]),
        blocked_by=tuple(int(p) for p in row["blocked_by"]),
        waiting_seconds=float(row["waiting_seconds"]),
        query=query_head(str(row["query"] or "")),
    )


def _sequence(row: Mapping[str, Any]) -> OwnedSequence:
    increment = int(row["increment"])
    if row["last_value"] is not None:
        # Read from the sequence itself: exact, setval(..., false) included.
        last = int(row["last_value"])
        next_value: int | None = last + increment if row["is_called"] == "true" else last
    elif row["last_value_seen"] is not None:
        next_value = int(row["last_value_seen"]) + increment
    elif row["may_use"]:
        next_value = int(row["start"])  # never called yet
    else:
        next_value = None
    bound = row["column_bound"]
    return OwnedSequence(
        sequence=str(row["sequence"]),
        table=str(row["table"]),
        column=str(row["column"]),
        increment=increment,
        next_value=next_value,
        column_bound=None if bound is None else int(bound),
        column_readable=bool(row["column_read"]),
    )


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
