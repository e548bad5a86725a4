"""`watcher record`'s Markdown: the Section 8 fields from a real state store, never a guess."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from checks.result import Finding, Result, State
from checks.sentry import SentryObservation
from tests.support.clock import CUTOVER
from tests.watcher.timeline.test_marks import (
    APP,
    HOUR,
    MINUTE,
    Watch,
    healthz_sqlite,
    pg_connections_result,
    pg_info_result,
    sentry_unknown,
    tables_result,
)
from watcher.store.state import StateStore
from watcher.timeline.section8 import record_markdown


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    kept = StateStore.sqlite(str(tmp_path / "state.db"))
    yield kept
    kept.close()


@pytest.fixture
def watch(store: StateStore) -> Watch:
    return Watch(store)


def fields(text: str) -> dict[str, str]:
    """Each `- **name:** value` line of the Markdown, by name."""
    found = {}
    for line in text.splitlines():
        if line.startswith("- **"):
            name, _, value = line.removeprefix("- **").partition(":** ")
            found[name] = value
    return found


def test_mid_watch_clean_so_far(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 2 * HOUR)
    watch.cycle(CUTOVER + 70 * MINUTE, pg_info=pg_info_result(9))
    text = record_markdown(store, CUTOVER, APP, CUTOVER + 2 * HOUR)

    assert text.splitlines()[:6] == [
        "# RM-10 cutover record: what cutover-watcher observed",
        "",
        "- App: raxx-api-prod",
        "- T0 (step 4.8 restart): 2026-05-16 14:48:42 UTC",
        "- Watch: still running (active watch, 7.1): 2 h 0 min since T0, ends 2026-05-17 14:48 UTC",
        "- Printed at: 2026-05-16 16:48 UTC",
    ]
    assert fields(text) == {
        "Section 5.1 healthz db field": "`postgresql` (healthz OK at 2026-05-16 16:33 UTC)",
        "Section 5.5 Sentry clear (y/n)": "y (no new unresolved issues, checked at 2026-05-16 16:33 UTC)",
        "4-hour watch ended at (UTC)": "not yet (ends 18:48 UTC)",
        "4-hour watch result": "not yet: clean so far (the 4-hour watch ends 2026-05-16 18:48 UTC)",
        "Connection peak": "9 of 25 (36%) at 2026-05-16 15:58 UTC, from pg_info (the highest since T0)",
        "RM-11 gate verdict": "not decided yet (the 4-hour watch ends 2026-05-16 18:48 UTC); so far"
        " open: no CRITICAL or WARNING alert in the 4-hour watch, and Sentry showed zero new issues"
        " (checked at 2026-05-16 16:33 UTC)",
    }


def test_a_finished_watch_with_issues(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 90 * MINUTE)
    watch.cycle(
        CUTOVER + 90 * MINUTE, tables=tables_result(36), pg_connections=pg_connections_result(16)
    )
    watch.cycles(105 * MINUTE, 24 * HOUR)
    text = record_markdown(store, CUTOVER, APP, CUTOVER + 25 * HOUR)

    assert "- Watch: over (the 24-hour watch ended 2026-05-17 14:48 UTC)" in text.splitlines()
    got = fields(text)
    assert got["4-hour watch ended at (UTC)"] == "2026-05-16 18:48"
    assert got["4-hour watch result"] == "[ ] clean [x] issues found:"
    assert got["Connection peak"] == (
        "16 of 25 (64%) at 2026-05-16 16:18 UTC, from pg_connections (the highest since T0)"
    )
    assert got["RM-11 gate verdict"] == "closed:"
    lines = text.splitlines()
    issue = lines.index("- **4-hour watch result:** [ ] clean [x] issues found:") + 1
    # The 16/25 connections are a WARNING too (64%, over the 60% ratio).
    assert lines[issue : issue + 2] == [
        "  - WARNING `pg_connections.connections` at 16:18Z: `16/25 connections (64%; ceiling 25,"
        " server 97), counted server-wide, this watcher's own included: at or over 60%`",
        "  - WARNING `tables.more` at 16:18Z: `36 tables in public, 1 more than the baseline 35"
        " (from WATCHER_EXPECTED_TABLES)`",
    ]
    gate = lines.index("- **RM-11 gate verdict:** closed:") + 1
    assert lines[gate:] == [
        "  - WARNING alert `pg_connections.connections` at 16:18Z",
        "  - WARNING alert `tables.more` at 16:18Z",
    ]


def test_a_finished_clean_watch_opens_the_gate(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 5 * HOUR)
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + 5 * HOUR))
    assert got["4-hour watch result"] == "[x] clean [ ] issues found"
    # The Sentry check at exactly T0+4h still counts ("at or before"); later ones do not.
    assert got["RM-11 gate verdict"] == (
        "open: no CRITICAL or WARNING alert in the 4-hour watch, and Sentry showed zero new issues"
        " (checked at 2026-05-16 18:48 UTC); RM-11 also needs the operator's sign-off in Section 8"
    )


def test_sqlite_and_sentry_unknown_are_shown_as_seen(store: StateStore, watch: Watch) -> None:
    watch.cycle(CUTOVER, healthz=healthz_sqlite(), sentry=sentry_unknown())
    unreachable = Finding("healthz.unreachable", State.CRITICAL, "unreachable: connection refused")
    watch.cycle(CUTOVER + 15 * MINUTE, healthz=Result.from_findings([unreachable], ""))
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + HOUR))
    assert got["Section 5.1 healthz db field"] == (
        "`sqlite` (healthz CRITICAL at 2026-05-16 14:48 UTC); the latest probe was CRITICAL at"
        " 2026-05-16 15:03 UTC: `unreachable: connection refused`"
    )
    assert (
        got["Section 5.5 Sentry clear (y/n)"]
        == "y (no new unresolved issues, checked at 2026-05-16 15:03 UTC)"
    )
    watch.cycle(CUTOVER + 30 * MINUTE, sentry=sentry_unknown())
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + HOUR))
    assert got["Section 5.5 Sentry clear (y/n)"] == (
        "not known: the Sentry check was UNKNOWN at 2026-05-16 15:18 UTC:"
        " `Sentry API: 401 Unauthorized: check SENTRY_AUTH_TOKEN`"
    )


def test_new_sentry_issues_are_not_clear(store: StateStore, watch: Watch) -> None:
    metrics = SentryObservation(2, 1, {"operational_error": 2})
    result = Result(State.CRITICAL, "2 new unresolved issue(s) in production", metrics)
    watch.cycle(CUTOVER + HOUR, sentry=result)
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + 2 * HOUR))
    assert got["Section 5.5 Sentry clear (y/n)"] == (
        "n (2 new unresolved issue(s) at 2026-05-16 15:48 UTC:"
        " `2 new unresolved issue(s) in production`)"
    )


def test_nothing_observed_says_so(store: StateStore) -> None:
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + 30 * MINUTE))
    assert got == {
        "Section 5.1 healthz db field": "no observation yet (no healthz probe since T0)",
        "Section 5.5 Sentry clear (y/n)": "no observation yet (no Sentry check since T0)",
        "4-hour watch ended at (UTC)": "not yet (ends 18:48 UTC)",
        "4-hour watch result": "not yet: clean so far (the 4-hour watch ends 2026-05-16 18:48 UTC)",
        "Connection peak": "no observation yet (no connection count since T0)",
        "RM-11 gate verdict": "not decided yet (the 4-hour watch ends 2026-05-16 18:48 UTC); so far"
        " closed:",
    }


def test_without_t0_only_what_needs_no_t0_is_filled(store: StateStore, watch: Watch) -> None:
    watch.cycle(CUTOVER)
    text = record_markdown(store, None, APP, CUTOVER + HOUR)
    assert "- Watch: not known (no T0)" in text.splitlines()
    got = fields(text)
    assert (
        got["Section 5.1 healthz db field"] == "`postgresql` (healthz OK at 2026-05-16 14:48 UTC)"
    )
    no_t0 = "not known: T0 is unknown (set WATCHER_CUTOVER_AT, or let the daemon record its start)"
    assert got["4-hour watch result"] == no_t0
    assert got["RM-11 gate verdict"] == no_t0


def test_outside_text_stays_inert_markdown(store: StateStore, watch: Watch) -> None:
    hostile = Result.unknown("bad `code`\n# heading \x1b[2J")
    watch.cycle(CUTOVER, sentry=hostile)
    got = fields(record_markdown(store, CUTOVER, APP, CUTOVER + HOUR))
    assert got["Section 5.5 Sentry clear (y/n)"].endswith("`bad 'code' # heading ?[2J`")


def test_a_four_hour_window_never_observed_is_left_open_with_the_reason(
    store: StateStore, watch: Watch
) -> None:
    watch.cycles(30 * HOUR, 30 * HOUR + 30 * MINUTE)
    text = record_markdown(store, CUTOVER, APP, CUTOVER + 30 * HOUR + 30 * MINUTE)
    result = fields(text)["4-hour watch result"]
    assert result.startswith("[ ] clean [ ] issues found (left open: not observed:")
    assert "[x]" not in result
