"""What `pg_activity` reads: sessions, owned sequences and unanalyzed tables, in one statement.

One round trip, one snapshot on the SQL checks' shared read-only session; every concern is its
own subquery. The watcher's own backend (`pg_backend_pid()`) is left out. Queries are kept only
as their first characters with every literal masked (`query_head`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from checks.result import CheckError
from checks.sources.database import Database

MAX_SEQUENCES = 200
ANALYZE_MIN_ROWS = 1000
QUERY_CHARS = 80
# pg_stat_activity keeps at most track_activity_query_size (1 kB by default) of a query.
_QUERY_READ = 1024
_UNANALYZED_READ = 100


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


def probe(db: Database) -> Activity:
    """Sessions, owned sequences and unanalyzed tables, read in one statement."""
    ((data,),) = db.query(_PROBE, _PARAMS)
    try:
        return _activity(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckError(f"unexpected answer from pg_stat_activity: {exc}") from None


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
