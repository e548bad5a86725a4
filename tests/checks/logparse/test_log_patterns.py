"""The catalogue against real-shaped Heroku lines, and the near misses that must not match."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from checks.logparse.log_line import parse
from checks.logparse.log_patterns import APP, PLANNED, PLATFORM, SIGTERM, LogMatcher, catalogue
from checks.result import State
from tests.support.clock import CUTOVER

T = "2026-05-16T14:31:02.114233+00:00"


def matcher(own_dyno: str | None = "worker.1") -> LogMatcher:
    return LogMatcher(catalogue("raptor_app"), own_dyno)


def ids(text: str, m: LogMatcher | None = None) -> list[str]:
    m = m or matcher()
    return [match.pattern.id for match in m.match(parse(text), CUTOVER)]


def block_ids(text: str, m: LogMatcher | None = None) -> list[str]:
    """The block path `watcher scan` takes: candidate lines first, then the rules."""
    m = m or matcher()
    return [
        match.pattern.id
        for raw in m.candidates(text.encode())
        for match in m.match(parse(raw.decode()), CUTOVER)
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f"{T} app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars",
            ["permission_denied"],
        ),
        (
            f'{T} app[web.1]: psycopg2.OperationalError: FATAL:  role "raptor_app" does not exist',
            ["role_missing", "operational_error"],
        ),
        (
            f"{T} app[web.1]: sqlite3.OperationalError: database is locked",
            ["sqlite", "operational_error"],
        ),
        (f"{T} app[web.2]: Database engine initialized: dialect=sqlite", ["sqlite"]),
        (
            f'{T} app[web.1]: FATAL:  sorry, too many connections for role "raptor_app"',
            ["too_many_connections"],
        ),
        (
            f"{T} app[web.1]: FATAL:  remaining connection slots are reserved for non-replication superuser connections",
            ["too_many_connections"],
        ),
        (
            f'{T} heroku[router]: at=error code=H10 desc="App crashed" method=GET path="/healthz" host=api.raxx.app request_id=5b1f fwd="203.0.113.9" dyno= connect= service= status=503 bytes= protocol=https',
            ["crash"],
        ),
        (
            f"{T} heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch",
            ["crash"],
        ),
        (f"{T} heroku[web.1]: State changed from starting to crashed", ["crash"]),
        (
            f"{T} app[web.2]: sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
            ["operational_error"],
        ),
        (
            f'{T} app[web.2]: sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "fills" does not exist',
            ["programming_error"],
        ),
        (f"{T} heroku[web.1]: Error R14 (Memory quota exceeded)", ["memory"]),
        (f"{T} heroku[web.1]: Error R15 (Memory quota vastly exceeded)", ["memory"]),
        (
            f'{T} heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/api/historical-data/AAPL" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https',
            ["request_timeout"],
        ),
        (f"{T} app[web.1]: PERMISSION DENIED FOR TABLE users", ["permission_denied"]),
        ("app[web.1]: permission denied for table users", ["permission_denied"]),
    ],
)
def test_each_pattern_matches_real_shaped_lines(line: str, expected: list[str]) -> None:
    assert ids(line) == expected
    assert block_ids(line + "\n") == expected  # the block path agrees with the line path


@pytest.mark.parametrize(
    "line",
    [
        # A router line's URL path is the caller's text.
        f'{T} heroku[router]: at=info method=GET path="/api/docs/OperationalError-sqlite" host=api.raxx.app dyno=web.1 connect=0ms service=5ms status=404 bytes=120 protocol=https',
        f'{T} heroku[router]: at=info method=GET path="/x/code=H10/Error R14" host=api.raxx.app status=404 bytes=1 protocol=https',
        # H80 maintenance is not a crash.
        f'{T} heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" host=api.raxx.app status=503 bytes= protocol=https',
        # A planned restart.
        f"{T} heroku[web.1]: Cycling",
        f"{T} heroku[web.1]: Stopping all processes with SIGTERM",
        f"{T} heroku[web.1]: Process exited with status 143",
        # Application patterns do not apply to platform lines, nor platform ones to the app.
        f"{T} heroku[web.1]: Stopping process because sqlite was mentioned",
        f"{T} app[web.1]: retrying after code=H12 from upstream",
        # The watcher's own dyno.
        f'{T} app[worker.1]: level=error msg="permission denied for table users"',
        f"{T} heroku[worker.1]: State changed from up to crashed",
        # Another role.
        f'{T} app[web.1]: FATAL:  role "reporting" does not exist',
        f"{T} app[api]: Release v124 created by user ops@example.com",
    ],
)
def test_near_misses_do_not_match(line: str) -> None:
    assert ids(line) == []
    assert block_ids(line + "\n") == []


# Grant drift as PostgreSQL words it by object (src/backend/catalog/aclchk.c: "permission
# denied for sequence %s", "... for schema %s"; "... for relation %s" before PostgreSQL 11),
# as psycopg2 raises it (psycopg2.errors.InsufficientPrivilege, a ProgrammingError subclass).
GRANT_DRIFT = [
    f"{T} app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for sequence paper_orders_id_seq",
    f"{T} app[web.1]: sqlalchemy.exc.ProgrammingError: (psycopg2.errors.InsufficientPrivilege) permission denied for relation historical_bars",
    f"{T} app[web.2]: psycopg2.errors.InsufficientPrivilege: permission denied for schema public",
    f"{T} app[heroku-postgres]: ERROR:  permission denied for table historical_bars",
]


@pytest.mark.parametrize("line", GRANT_DRIFT)
def test_grant_drift_on_any_object_is_critical(line: str) -> None:
    found = ids(line)
    assert "permission_denied" in found
    assert block_ids(line + "\n") == found
    states = {p.id: p.state for p in catalogue("raptor_app")}
    assert states["permission_denied"] == State.CRITICAL


def test_unique_violation_is_a_warning_on_app_lines_only() -> None:
    # psycopg2's UniqueViolation text, as quoted in public tracebacks (DETAIL on its own line).
    line = (
        f"{T} app[web.1]: psycopg2.errors.UniqueViolation: duplicate key value violates"
        ' unique constraint "paper_orders_pkey"'
    )
    assert ids(line) == ["unique_violation"]
    assert block_ids(line + "\n") == ["unique_violation"]
    assert ids(f"{T} heroku[router]: duplicate key value violates unique constraint") == []
    states = {p.id: p.state for p in catalogue("raptor_app")}
    assert states["unique_violation"] == State.WARNING


# Logplex's drop notices from Dev Center, "Heroku Error Codes" (L10, L11, L12), and a
# `heroku[logplex]` L10 as users quote it; L15's page has no sample line, so it is shaped as
# L10's.
LOG_DROPS = [
    # L10 as a drain receives it (syslog frame, `heroku logplex`), Dev Center's example.
    "2013-04-17T19:04:46+00:00 d.1234-drain-identifier-567 heroku logplex - - Error L10 (output buffer overflow): 500 messages dropped since 2013-04-17T19:04:46+00:00.",
    "2020-06-12T14:41:00.000000+00:00 heroku[logplex]: Error L10 (output buffer overflow): drain 'd.cfcd3264-7259-4b12-ac5b-016032978174' dropped 1 messages since 2020-06-12T14:40:59.280571+00:00.",
    "2011-05-03T17:40:10+00:00 heroku[logplex]: L11 (Tail buffer overflow) -> This tail session dropped 1101 messages since 2011-05-03T17:35:00+00:00",
    "2013-11-04T21:31:32.125756+00:00 app[log-shuttle]: Error L12: 222 messages dropped since 2013-11-04T21:31:32.125756+00:00.",
    "2024-03-01T10:00:00+00:00 heroku[logplex]: Error L15 (Tail buffer temporarily unavailable)",
]


@pytest.mark.parametrize("line", LOG_DROPS)
def test_logplex_drop_notices_are_log_dropped(line: str) -> None:
    assert ids(line) == ["log_dropped"]
    assert block_ids(line + "\n") == ["log_dropped"]


def test_drop_codes_elsewhere_are_not_drops() -> None:
    # Only Logplex and log-shuttle announce drops; an app quoting one, or L14, is no drop.
    assert ids(f"{T} app[web.1]: docs say Error L10 (output buffer overflow) is harmless") == []
    assert (
        ids(
            '2015-09-04T23:28:48+00:00 heroku[logplex]: Error L14 (certificate validation): error="bad certificate"'
        )
        == []
    )
    states = {p.id: p.state for p in catalogue("raptor_app")}
    assert states["log_dropped"] == State.WARNING


def test_unreadable_source_is_matched_by_every_pattern() -> None:
    assert ids("May 16 14:31 raxx: code=H10 and sqlite") == ["sqlite", "crash"]


def sigterm(at: float, dyno: str = "web.1") -> str:
    stamp = (CUTOVER + timedelta(seconds=at)).isoformat()
    return f"{stamp} heroku[{dyno}]: Stopping all processes with SIGTERM"


def event(at: float, what: str, dyno: str = "web.1") -> str:
    return f"{(CUTOVER + timedelta(seconds=at)).isoformat()} heroku[{dyno}]: {what}"


def test_three_unplanned_sigterms_in_ten_minutes_is_a_restart_loop() -> None:
    m = matcher()
    assert ids(sigterm(0), m) == []
    assert ids(sigterm(200), m) == []
    assert ids(sigterm(400), m) == ["restart_loop"]
    assert ids(sigterm(500), m) == ["restart_loop"]


def test_sigterms_spread_over_more_than_ten_minutes_are_not_a_loop() -> None:
    m = matcher()
    assert [ids(sigterm(t), m) for t in (0, 400, 800, 1200)] == [[], [], [], []]


def test_planned_restarts_do_not_count() -> None:
    m = matcher()
    lines = [
        event(0, "Restarting"),
        sigterm(1),
        event(100, "Cycling"),
        sigterm(101),
        event(200, "Restarting"),
        sigterm(230),
    ]
    assert [ids(line, m) for line in lines] == [[]] * 6


def test_a_planned_restart_more_than_60_s_before_does_not_excuse_a_sigterm() -> None:
    m = matcher()
    lines = [sigterm(0), sigterm(100), event(200, "Restarting"), sigterm(300)]
    assert [ids(line, m) for line in lines] == [[], [], [], ["restart_loop"]]


def test_restart_loop_is_per_dyno() -> None:
    m = matcher()
    lines = [sigterm(0, "web.1"), sigterm(10, "web.2"), sigterm(20, "web.1"), sigterm(30, "web.2")]
    assert [ids(line, m) for line in lines] == [[], [], [], []]


def test_own_dyno_restarts_are_not_the_apps() -> None:
    m = matcher("worker.1")
    assert [ids(sigterm(t, "worker.1"), m) for t in (0, 1, 2, 3)] == [[], [], [], []]


def test_every_pattern_has_a_state_and_sop() -> None:
    patterns = catalogue("raptor_app")
    assert [p.id for p in patterns] == [
        "permission_denied",
        "role_missing",
        "sqlite",
        "too_many_connections",
        "crash",
        "restart_loop",
        "operational_error",
        "programming_error",
        "memory",
        "request_timeout",
        "unique_violation",
        "log_dropped",
    ]
    assert {p.id for p in patterns if p.state == State.CRITICAL} == {
        "permission_denied",
        "role_missing",
        "sqlite",
        "too_many_connections",
        "crash",
        "restart_loop",
    }


def test_candidates_keep_order_and_find_each_line_once() -> None:
    block = (
        f"{T} app[web.1]: ok\n"
        f"{T} app[web.1]: sqlite3.OperationalError: database is locked\n"
        f"{T} app[web.1]: fine\n"
        f"{T} heroku[web.1]: Error R14 (Memory quota exceeded)\n"
    ).encode()
    found = matcher().candidates(block)
    assert [c.split(b": ", 1)[1] for c in found] == [
        b"sqlite3.OperationalError: database is locked",
        b"Error R14 (Memory quota exceeded)",
    ]


def test_candidates_within_bounds_only() -> None:
    block = b"xx sqlite\nyy fine\nzz sqlite\n"
    assert matcher().candidates(block, 10, 18) == []
    assert matcher().candidates(block, 18, len(block)) == [b"zz sqlite"]


def test_a_role_with_capitals_still_matches() -> None:
    m = LogMatcher(catalogue("Raptor_App"))
    line = f'{T} app[web.1]: FATAL:  role "Raptor_App" does not exist'
    assert [x.pattern.id for x in m.match(parse(line), CUTOVER)] == ["role_missing"]
    assert block_ids(line + "\n", m) == ["role_missing"]


def test_restart_markers_match_in_any_case() -> None:
    m = matcher()
    lines = [
        event(0, "stopping all processes with sigterm"),
        event(60, "STOPPING ALL PROCESSES WITH SIGTERM"),
        event(120, "Stopping All Processes With SIGTERM"),
    ]
    assert [ids(x, m) for x in lines] == [[], [], ["restart_loop"]]
    m = matcher()
    assert [ids(x, m) for x in (event(0, "cycling"), sigterm(1), sigterm(2), sigterm(3))] == [
        [],
        [],
        [],
        [],
    ]


# Property-based (issue 7): hostile or garbled log text never breaks the matcher, the block
# path of `watcher scan` and the line path of the logs check agree on every line, and a
# grant-drift line is found whatever surrounds it.

ROLE = "raptor_app"
NEEDLES = sorted({n for p in catalogue(ROLE) for n in p.needles} | {SIGTERM, *PLANNED})
# Case-insensitive matching meets more than ASCII case: letters that fold to ASCII ones
# (Kelvin sign, long s, dotted and dotless i) and ones that fold to two (sharp s).
LOOKALIKES = {"k": "kK\u212a", "s": "sS\u017f", "i": "iI\u0130\u0131"}
TEXT = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30)
TIMES = st.one_of(
    st.integers(0, 1200).map(lambda s: (CUTOVER + timedelta(seconds=s)).isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda at: at.isoformat()),
    st.sampled_from(["0001-01-01T00:00:30Z", "9999-12-31T23:59:59-23:59", "2026-13-45T99:99Z"]),
)
DYNOS = st.sampled_from(["web.1", "web.2", "worker.1", "router", "heroku-postgres", "api"])


@st.composite
def spelled(draw: st.DrawFn, needle: str) -> str:
    """`needle` in any case, with look-alike letters, maybe with `ss` written as `ß`."""
    text = "".join(draw(st.sampled_from(LOOKALIKES.get(c, c.lower() + c.upper()))) for c in needle)
    return text.replace("ss", "\u00df", 1) if draw(st.booleans()) else text


def cased(needle: str) -> st.SearchStrategy[str]:
    """`needle` with each letter in either case."""
    letters = [st.sampled_from(sorted({c.lower(), c.upper()})) for c in needle]
    return st.tuples(*letters).map("".join)


@st.composite
def log_lines(draw: st.DrawFn) -> str:
    """A line in Heroku's format or not, holding random text, a needle, or a bare marker."""
    needle = draw(st.sampled_from(NEEDLES).flatmap(spelled))
    text = draw(
        st.one_of(TEXT, st.just(needle), st.tuples(TEXT, TEXT).map(lambda p: needle.join(p)))
    )
    shape = draw(st.sampled_from(["heroku", "no time", "other"]))
    if shape == "other":
        return text
    source = draw(st.sampled_from([APP, PLATFORM]))
    line = f"{source}[{draw(DYNOS)}]: {text}"
    return line if shape == "no time" else f"{draw(TIMES)} {line}"


BLOCKS = st.one_of(
    st.binary(max_size=400),
    st.lists(log_lines(), max_size=12).map(lambda lines: "".join(f"{x}\n" for x in lines).encode()),
    st.lists(st.binary(max_size=40) | log_lines().map(str.encode), max_size=12).map(
        lambda lines: b"\r\n".join(lines)
    ),
)


def found(m: LogMatcher, raws: list[bytes]) -> list[tuple[str, str]]:
    return [
        (match.line.raw, match.pattern.id)
        for raw in raws
        for match in m.match(parse(raw.decode("utf-8", "replace")), CUTOVER)
    ]


def whole_lines(block: bytes) -> list[bytes]:
    lines = block.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


@given(block=BLOCKS, own_dyno=st.sampled_from([None, "worker.1"]))
@example(block=b"0001-01-01T00:00:30Z heroku[web.1]: Cycling\n", own_dyno=None)
@example(block=b"heroku[web.1]: Stopping all proce\xc3\x9fes with SIGTERM\n" * 3, own_dyno=None)
@example(block=b"\xe2sqlite\n\xff\xfeapp[web.1]: database is loc\xe2\x84\xaaed", own_dyno=None)
def test_property_block_and_line_paths_find_the_same_matches(
    block: bytes, own_dyno: str | None
) -> None:
    by_block, by_line = matcher(own_dyno), matcher(own_dyno)
    candidates = by_block.candidates(block)
    lines = whole_lines(block)
    # Candidates are whole lines of the block, in order.
    remaining = iter(lines)
    assert all(any(c == line for line in remaining) for c in candidates)
    ids = {p.id for p in by_block.patterns}
    matched = found(by_line, lines)
    assert all(pattern in ids for _, pattern in matched)
    # What `watcher scan` counts is what the logs check and the follower count.
    assert found(by_block, candidates) == matched


@given(block=BLOCKS, cut=st.integers(0, 20))
def test_property_searching_in_windows_finds_what_searching_whole_does(
    block: bytes, cut: int
) -> None:
    # `watcher scan` searches blocks in windows that end on line boundaries, in parallel.
    ends = [i + 1 for i, byte in enumerate(block) if byte == ord("\n")]
    middle = ends[cut % len(ends)] if ends else 0
    m = matcher()
    assert m.candidates(block, 0, middle) + m.candidates(block, middle) == m.candidates(block)


@given(
    before=st.lists(BLOCKS, max_size=3),
    after=st.lists(BLOCKS, max_size=3),
    stamp=st.one_of(st.just(""), TIMES.map(lambda t: t + " ")),
    # The app, an add-on of it, and a line in another format (no source: every pattern).
    source=st.sampled_from(["app[web.1]: ", "app[heroku-postgres]: ", "May 16 14:31:02 raxx: "]),
    prefix=TEXT,
    needle=cased("permission denied for table"),
    suffix=TEXT,
    own_dyno=st.sampled_from([None, "worker.1"]),
)
def test_property_grant_drift_is_found_whatever_surrounds_it(
    before: list[bytes],
    after: list[bytes],
    stamp: str,
    source: str,
    prefix: str,
    needle: str,
    suffix: str,
    own_dyno: str | None,
) -> None:
    line = f"{stamp}{source}{prefix}{needle}{suffix}".rstrip("\r")
    block = b"\n".join([*before, line.encode(), *after]) + b"\n"
    m = matcher(own_dyno)
    by_line = [(raw, p) for raw, p in found(matcher(own_dyno), whole_lines(block)) if raw == line]
    by_block = [(raw, p) for raw, p in found(m, m.candidates(block)) if raw == line]
    assert (line, "permission_denied") in by_line
    assert (line, "permission_denied") in by_block
