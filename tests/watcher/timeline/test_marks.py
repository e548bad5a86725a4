"""The timeline marks and the RM-11 gate, from a real state store seeded as a watch would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from checks import pg_connections, pg_info, tables
from checks.healthz import HealthzObservation
from checks.pg_metrics import PgMetricsObservation
from checks.result import Baseline, Finding, Result, State
from checks.router import RouterObservation
from checks.sentry import KINDS, SentryObservation
from checks.sources.connection_limit import ConnectionThresholds
from checks.sources.database import Database
from tests.support.clock import CUTOVER, FakeClock
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.checking.observations import keep_observations
from watcher.checking.runner import CheckReport
from watcher.notify.slack_messages import Composer
from watcher.store.alerts import AlertEvent
from watcher.store.state import StateStore
from watcher.timeline import marks, rm11_gate

APP = "raxx-api-prod"
MENTION = "<@U024BE7LH>"
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
CYCLE = timedelta(minutes=15)
THRESHOLDS = ConnectionThresholds()
GRANT_DRIFT = Finding(
    "grants.table_privileges",
    State.CRITICAL,
    "raptor_app lacks privileges on 1 table(s): historical_bars (INSERT)",
)


# -- results as the checks produce them -----------------------------------------------------


def healthz_ok() -> Result:
    return Result(
        State.OK,
        "db=postgresql, status=ok, version='1.4.2' in 38 ms",
        HealthzObservation(0.038, 200, up=True, db="postgresql"),
    )


def healthz_sqlite() -> Result:
    finding = Finding(
        "healthz.db_sqlite",
        State.CRITICAL,
        "db=sqlite (expected postgresql): the app is writing to SQLite",
    )
    return Result.from_findings(
        [finding], "", HealthzObservation(0.04, None, up=False, db="sqlite")
    )


def sentry_ok() -> Result:
    metrics = SentryObservation(0, 1, {k: 0 for k in KINDS})
    return Result(
        State.OK,
        "no new unresolved issues in production since 2026-05-16 14:48Z (WATCHER_CUTOVER_AT)",
        metrics,
    )


def sentry_unknown() -> Result:
    return Result.unknown("Sentry API: 401 Unauthorized: check SENTRY_AUTH_TOKEN")


def pg_info_result(connections: int, status: str = "Available") -> Result:
    answer = {
        "info": [
            {"name": "Plan", "values": ["Standard 0"]},
            {"name": "Status", "values": [status]},
            {"name": "Connections", "values": [f"{connections}/120"]},
        ]
    }
    return pg_info.evaluate(answer, THRESHOLDS, None)


class _Counts:
    """What `pg_stat_activity` answers: `used` client backends of a server allowing 97."""

    def __init__(self, used: int) -> None:
        self.used = used

    def query(self, sql: str, params: Any = ()) -> list[tuple[int, int]]:
        return [(self.used, 97)]


def pg_connections_result(used: int) -> Result:
    return pg_connections.check(cast(Database, _Counts(used)), THRESHOLDS)


def tables_result(count: int) -> Result:
    return tables.evaluate(count, Baseline("35", "from WATCHER_EXPECTED_TABLES"))


def logs_ok() -> Result:
    return Result(State.OK, "no catalogue pattern matched in the last 30 min")


# -- a watch, seeded through the store's public paths ----------------------------------------


class Watch:
    """Records check history and decides alerts exactly as the daemon does."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.escalation = Escalation(store, AlertPolicy())

    def observe(self, at: datetime, **results: Result) -> None:
        reports = [CheckReport(name, "7", result, 0.1) for name, result in results.items()]
        keep_observations(self.store, reports, at)
        self.escalation.observe(reports, at)

    def cycle(self, at: datetime, **overrides: Result) -> None:
        """One full cycle; every check OK unless overridden."""
        results = {
            "healthz": healthz_ok(),
            "logs": logs_ok(),
            "sentry": sentry_ok(),
            "pg_info": pg_info_result(3),
            "pg_connections": pg_connections_result(2),
            "tables": tables_result(35),
        }
        self.observe(at, **(results | overrides))

    def cycles(self, start: timedelta, end: timedelta, **overrides: Result) -> None:
        """Cycles every 15 min from T0+start up to (not including) T0+end."""
        offset = start
        while offset < end:
            self.cycle(CUTOVER + offset, **overrides)
            offset += CYCLE


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    kept = StateStore.sqlite(str(tmp_path / "state.db"))
    yield kept
    kept.close()


@pytest.fixture
def watch(store: StateStore) -> Watch:
    return Watch(store)


def composer() -> Composer:
    return Composer(APP, MENTION)


def posted(store: StateStore) -> list[str]:
    """The Slack text of every queued timeline post (alerts' posts have an alert id)."""
    return [
        composer().render(m.notice)["text"]
        for m in store.outbox.messages()
        if m.alert_id is None and m.notice is not None
    ]


def lines(text: str) -> list[str]:
    return text.split("\n")


# -- the gate -------------------------------------------------------------------------------


def test_a_clean_watch_opens_the_gate(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)

    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert verdict.open
    assert verdict.reasons == []
    assert verdict.sentry_at == CUTOVER + 3 * HOUR + 45 * MINUTE
    assert rm11_gate.four_hour_result(store, CUTOVER) == [
        "clean: no CRITICAL or WARNING alert in the 4 hours (14:48Z to 18:48Z)"
    ]

    now = CUTOVER + 4 * HOUR
    assert marks.post_due(store, CUTOVER, now) == ["4h"]
    assert lines(posted(store)[0]) == [
        "RM-10 4-hour result: clean — RM-11 gate OPEN",
        "• 4-hour watch ended at 18:48Z",
        "• clean: no CRITICAL or WARNING alert in the 4 hours (14:48Z to 18:48Z)",
        "• RM-11 gate (7.4) OPEN: no CRITICAL or WARNING alert in the 4 hours, and Sentry"
        " showed zero new issues (checked at 18:33Z)",
        "• RM-11 also needs the operator's sign-off in Section 8 (see `watcher record`)",
    ]
    assert store.facts.gate() is True
    assert rm11_gate.gate_open_now(store, CUTOVER, now) is True


def test_a_warning_in_hour_two_closes_the_gate(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 90 * MINUTE)
    watch.cycle(CUTOVER + 90 * MINUTE, tables=tables_result(36))
    watch.cycles(105 * MINUTE, 4 * HOUR)

    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert not verdict.open
    assert verdict.reasons == ["WARNING alert tables.more at 16:18Z"]
    assert rm11_gate.four_hour_result(store, CUTOVER) == [
        "issues found: 1 alert(s) in the 4 hours (14:48Z to 18:48Z):",
        "WARNING `tables.more` at 16:18Z: `36 tables in public, 1 more than the baseline 35"
        " (from WATCHER_EXPECTED_TABLES)`",
    ]
    # The verdict is known as soon as the alert fires, long before T0+4h.
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 3 * HOUR) is False

    marks.post_due(store, CUTOVER, CUTOVER + 4 * HOUR)
    text = lines(posted(store)[0])
    assert text[0] == "RM-10 4-hour result: issues found — RM-11 gate CLOSED"
    assert "• RM-11 gate (7.4) CLOSED: WARNING alert `tables.more` at 16:18Z" in text
    assert store.facts.gate() is False
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 5 * HOUR) is False


def test_a_critical_at_hour_five_is_outside_the_window(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 5 * HOUR)
    grants = Result.from_findings([GRANT_DRIFT], "")
    watch.cycle(CUTOVER + 5 * HOUR, grants=grants)

    assert rm11_gate.gate_verdict(store, CUTOVER).open
    assert marks.post_due(store, CUTOVER, CUTOVER + 8 * HOUR) == ["4h", "8h"]
    four, eight = posted(store)
    assert lines(four)[0] == "RM-10 4-hour result: clean — RM-11 gate OPEN"
    assert (
        "• Alerts since T0: 1 (1 CRITICAL, 0 WARNING); still firing: `grants.table_privileges`"
        in lines(eight)
    )
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 8 * HOUR) is True


def test_sentry_unknown_at_the_end_closes_the_gate(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 3 * HOUR)
    watch.cycles(3 * HOUR, 4 * HOUR, sentry=sentry_unknown())

    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert not verdict.open
    assert verdict.reasons == [
        "Sentry was not seen clean: the Sentry check was UNKNOWN at 18:33Z:"
        " Sentry API: 401 Unauthorized: check SENTRY_AUTH_TOKEN"
    ]
    result = rm11_gate.four_hour_result(store, CUTOVER)
    # No alert: the result is clean, but the gate stays closed, and the blind spot is named.
    assert result[0] == "clean: no CRITICAL or WARNING alert in the 4 hours (14:48Z to 18:48Z)"
    assert result[1] == (
        "the watch was blind on `sentry` from 18:18Z (still blind):"
        " `Sentry API: 401 Unauthorized: check SENTRY_AUTH_TOKEN`"
    )
    marks.post_due(store, CUTOVER, CUTOVER + 4 * HOUR)
    assert lines(posted(store)[0])[0] == "RM-10 4-hour result: clean — RM-11 gate CLOSED"


def test_no_sentry_observation_at_all_keeps_the_gate_closed(
    store: StateStore, watch: Watch
) -> None:
    offset = timedelta(0)
    while offset < 4 * HOUR:
        watch.observe(CUTOVER + offset, healthz=healthz_ok())
        offset += CYCLE
    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert verdict.reasons == ["Sentry was not seen clean: no Sentry observation since T0"]
    # During the watch: nothing went wrong, but without Sentry the gate is not known yet.
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 2 * HOUR) is None
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 4 * HOUR) is False


def test_sentry_with_new_issues_closes_the_gate(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    issue = Finding("sentry.4711", State.WARNING, "RAXX-1F KeyError: 'symbol' (3 events)")
    metrics = SentryObservation(1, 1, {"other": 1})
    watch.observe(
        CUTOVER + 4 * HOUR,
        sentry=Result(State.WARNING, "1 new unresolved issue", metrics, (issue,)),
    )
    # At exactly T0+4h it still counts for the verdict; its alert is outside the window.
    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert verdict.reasons == ["Sentry was not seen clean: 1 new issue(s) at 18:48Z"]


def test_an_alert_firing_since_before_t0_counts(store: StateStore, watch: Watch) -> None:
    watch.cycle(CUTOVER - 10 * MINUTE, healthz=healthz_sqlite())
    watch.cycles(timedelta(0), 4 * HOUR, healthz=healthz_sqlite())
    verdict = rm11_gate.gate_verdict(store, CUTOVER)
    assert verdict.reasons == ["CRITICAL alert healthz.db_sqlite was firing at T0 (since 14:38Z)"]
    assert rm11_gate.four_hour_result(store, CUTOVER)[1] == (
        "CRITICAL `healthz.db_sqlite` firing since 14:38Z (before T0):"
        " `db=sqlite (expected postgresql): the app is writing to SQLite`"
    )


def test_the_gate_metric_over_the_watch(store: StateStore, watch: Watch) -> None:
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER - HOUR) is None
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER) is None
    watch.cycle(CUTOVER)
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER) is True
    watch.cycles(CYCLE, 4 * HOUR)
    # After T0+4h the recorded verdict wins: it is what the 4-hour mark posted.
    store.facts.keep_gate(False)
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 6 * HOUR) is False
    store.facts.keep_gate(None)
    assert rm11_gate.gate_open_now(store, CUTOVER, CUTOVER + 6 * HOUR) is True


# -- posting --------------------------------------------------------------------------------


def test_each_mark_is_posted_once(store: StateStore, watch: Watch, tmp_path: Path) -> None:
    clock = FakeClock()
    watch.cycles(timedelta(0), 24 * HOUR)
    names: list[str] = []
    while clock.now() < CUTOVER + 25 * HOUR:
        names += marks.post_due(store, CUTOVER, clock.now())
        clock.advance(60)
    assert names == ["4h", "8h", "24h"]
    # Another process on the same file (a restarted dyno) posts nothing again.
    other = StateStore.sqlite(str(tmp_path / "state.db"))
    try:
        assert marks.post_due(other, CUTOVER, clock.now()) == []
        assert [m.name for m in other.timeline.marks()] == ["4h", "8h", "24h"]
        assert not any(m.late for m in other.timeline.marks())
    finally:
        other.close()
    assert [lines(t)[0] for t in posted(store)] == [
        "RM-10 4-hour result: clean — RM-11 gate OPEN",
        "RM-10 8-hour dashboard mark",
        "RM-10 24-hour dashboard mark: final report",
    ]


def test_a_mark_posted_late_says_so(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    now = CUTOVER + 6 * HOUR
    assert marks.post_due(store, CUTOVER, now) == ["4h"]
    text = lines(posted(store)[0])
    assert text[1] == "• posted late: due 2026-05-16 18:48Z, the watcher was down"
    mark = store.timeline.mark("4h")
    assert mark is not None
    assert mark.late
    assert (mark.due_at, mark.posted_at) == (CUTOVER + 4 * HOUR, now)


def test_a_mark_within_five_minutes_is_on_time(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    marks.post_due(store, CUTOVER, CUTOVER + 4 * HOUR + 4 * MINUTE)
    assert "posted late" not in posted(store)[0]
    mark = store.timeline.mark("4h")
    assert mark is not None
    assert not mark.late


def test_the_final_report_says_the_worker_can_be_scaled_to_zero(
    store: StateStore, watch: Watch
) -> None:
    watch.cycles(timedelta(0), 24 * HOUR)
    marks.post_due(store, CUTOVER, CUTOVER + 8 * HOUR)
    marks.post_due(store, CUTOVER, CUTOVER + 24 * HOUR, "raxx-cutover-watcher")
    final = lines(posted(store)[-1])
    assert final[0] == "RM-10 24-hour dashboard mark: final report"
    assert final[-2:] == [
        "• 4-hour result: clean; RM-11 gate OPEN",
        "• The 24-hour watch is over. The worker can be scaled to 0:"
        " `heroku ps:scale worker=0 -a raxx-cutover-watcher`",
    ]


def test_the_final_report_without_the_watchers_app_name(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    marks.post_due(store, CUTOVER, CUTOVER + 25 * HOUR)
    final = posted(store)[-1]
    assert "`heroku ps:scale worker=0 -a YOUR-WATCHER-APP`" in final
    # All three were missed: each says so.
    assert sum("posted late" in text for text in posted(store)) == 3


# -- the dashboard mark ---------------------------------------------------------------------


def test_dashboard_lines(store: StateStore, watch: Watch) -> None:
    watch.cycles(timedelta(0), 8 * HOUR)
    watch.cycle(CUTOVER + 2 * HOUR, pg_connections=pg_connections_result(12))
    watch.cycle(CUTOVER + 3 * HOUR, pg_info=pg_info_result(12))
    minute = CUTOVER.replace(second=0)
    store.history.add_log_counts(
        {
            ("sqlite", minute): 2,  # T0's own minute counts
            ("sqlite", minute - MINUTE): 5,  # before T0: not this watch's
            ("request_timeout", minute + 30 * MINUTE): 1,
            ("memory", minute + 60 * MINUTE): 4,
        }
    )
    assert marks.dashboard_lines(store, CUTOVER, CUTOVER + 8 * HOUR) == [
        "Postgres status (pg:info): Available (at 22:33Z)",
        "Connection peak since T0: 12/25 (48%) at 16:48Z, pg_connections",
        "Router since T0: no router observation",
        "Postgres load peak since T0: no Heroku Postgres metrics sample (written for Standard"
        " and Premium plans only)",
        "Log scan since T0 (7.2, expected 0): sqlite 2, operational_error 0",
        "Other log patterns since T0: memory 4, request_timeout 1",
        "Tables in public: 35 at 22:33Z (baseline 35, as expected); the same in all 34 count(s)"
        " since T0",
        "Alerts since T0: none",
        "Blind windows since T0: none",
    ]


def test_dashboard_lines_say_what_was_not_seen(store: StateStore, watch: Watch) -> None:
    now = CUTOVER + 8 * HOUR
    assert marks.dashboard_lines(store, CUTOVER, now) == [
        "Since T0: not observed: the watcher recorded no check between 2026-05-16 14:48Z and"
        " 2026-05-16 22:48Z (it was not running)",
        "Postgres status (pg:info): no observation since T0",
        "Connection peak since T0: no connection count observed",
        "Router since T0: no router observation",
        "Postgres load peak since T0: no Heroku Postgres metrics sample (written for Standard"
        " and Premium plans only)",
        "Log pattern counts since T0: no log observation yet, so no counts",
        "Tables in public: no observation since T0",
        "Alerts since T0: none",
        "Blind windows since T0: none",
    ]
    watch.cycle(CUTOVER + HOUR, tables=tables_result(34))
    watch.cycle(
        CUTOVER + 2 * HOUR,
        pg_info=Result.unknown("Heroku Data API: 503 Service Unavailable"),
        tables=Result.unknown("the database is unreachable"),
        logs=Result.unknown("log stream down: 502 Bad Gateway"),
    )
    got = marks.dashboard_lines(store, CUTOVER, now)
    # The first observation came an hour after T0: the mark says so first.
    assert got.pop(0) == (
        "Since T0: observed only from 2026-05-16 15:48Z: the watcher recorded nothing between"
        " 2026-05-16 14:48Z and then"
    )
    assert got[0] == (
        "Postgres status (pg:info): not known: pg_info UNKNOWN at 16:48Z:"
        " `Heroku Data API: 503 Service Unavailable`; last seen Available at 15:48Z"
    )
    assert got[6] == (
        "the log check was UNKNOWN at 16:48Z, counts may be incomplete:"
        " `log stream down: 502 Bad Gateway`"
    )
    assert got[7] == (
        "Tables in public: not known: tables UNKNOWN at 16:48Z:"
        " `the database is unreachable`; last counted 34 at 15:48Z"
    )


def test_pg_not_available_and_tables_that_moved(store: StateStore, watch: Watch) -> None:
    watch.cycle(CUTOVER, tables=tables_result(36))
    watch.cycle(CUTOVER + HOUR, pg_info=pg_info_result(3, "Unavailable"), tables=tables_result(34))
    got = marks.dashboard_lines(store, CUTOVER, CUTOVER + 8 * HOUR)
    assert got[0].startswith(
        "Postgres status (pg:info): NOT Available (at 15:48Z): `Status 'Unavailable'"
    )
    assert got[6] == (
        "Tables in public: 34 at 15:48Z (baseline 35, 1 fewer); between 34 and 36 since T0"
    )


def test_untrusted_text_cannot_ping_anyone(store: StateStore, watch: Watch) -> None:
    finding = Finding("logs.sqlite", State.CRITICAL, "<!channel> sqlite3 *boom*")
    watch.cycle(CUTOVER + HOUR, logs=Result.from_findings([finding], ""))
    marks.post_due(store, CUTOVER, CUTOVER + 4 * HOUR)
    text = posted(store)[0]
    assert "<!channel>" not in text
    assert "`&lt;!channel&gt; sqlite3 *boom*`" in text


def test_events_in_the_store_decide_not_the_alerts_table(store: StateStore) -> None:
    # A mark built from events alone (as kept by any writer): a WARNING event inside the window.
    from watcher.store.alerts import AlertChange, AlertRecord

    at = CUTOVER + 30 * MINUTE
    record = AlertRecord("logs.memory", "logs", "WARNING", "resolved", "R14", at, at)
    store.alerts.change(
        "logs.memory",
        lambda old: AlertChange(
            record, events=[AlertEvent("logs.memory", "warned", "WARNING", "R14", at)]
        ),
    )
    assert (
        rm11_gate.gate_verdict(store, CUTOVER).reasons[0] == "WARNING alert logs.memory at 15:18Z"
    )


def test_the_4_hour_mark_waits_for_a_check_still_recording_inside_the_window(
    store: StateStore, watch: Watch
) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    settle = timedelta(seconds=15)
    due = CUTOVER + 4 * HOUR
    assert marks.post_due(store, CUTOVER, due + timedelta(seconds=2), settle=settle) == []
    # A probe that started 5 s before T0+4h records its CRITICAL only now.
    watch.observe(due - timedelta(seconds=5), healthz=healthz_sqlite())
    assert marks.post_due(store, CUTOVER, due + settle, settle=settle) == ["4h"]
    assert store.facts.gate() is False


# -- issue 12: a window the watcher never observed is never "clean" ----------------------------


def test_a_four_hour_window_never_observed_is_not_called_clean(
    store: StateStore, watch: Watch
) -> None:
    # T0 30 hours ago: the watcher first ran long after the 4-hour window.
    watch.cycles(30 * HOUR, 30 * HOUR + 30 * MINUTE)
    assert marks.post_due(store, CUTOVER, CUTOVER + 30 * HOUR + 30 * MINUTE) == [
        "4h",
        "8h",
        "24h",
    ]
    four = lines(posted(store)[0])
    assert four[0] == "RM-10 4-hour result: not observed — RM-11 gate CLOSED"
    text = "\n".join(four)
    assert "clean: no CRITICAL" not in text
    assert (
        "not known (14:48Z to 18:48Z): not observed: the watcher recorded no check between"
        " 2026-05-16 14:48Z and 2026-05-16 18:48Z (it was not running)" in text
    )
    assert "posted late: due 2026-05-16 18:48Z" in text
    assert not rm11_gate.gate_verdict(store, CUTOVER).open


def test_a_stream_gap_is_a_blind_window_not_an_alert_that_closes_the_gate(
    store: StateStore, watch: Watch
) -> None:
    watch.cycles(timedelta(0), 4 * HOUR)
    store.alerts.add_events(
        [
            AlertEvent(
                "logs.stream_gap",
                "blind",
                "WARNING",
                "lines between 15:01:40Z and 15:02:05Z may be lost",
                CUTOVER + HOUR,
            )
        ]
    )
    result = rm11_gate.four_hour_result(store, CUTOVER)
    assert result[0].startswith("clean")
    assert any("lines between 15:01:40Z and 15:02:05Z may be lost" in line for line in result)
    assert rm11_gate.gate_verdict(store, CUTOVER).open


# -- router, load and blind windows (issue 14) ----------------------------------------------


def router_result(requests: int, errors: int, p95: float, ratio: float = 0.0) -> Result:
    observation = RouterObservation(
        requests=100,
        errors=int(ratio * 100),
        error_ratio=ratio,
        requests_since_t0=requests,
        errors_since_t0=errors,
        error_ratio_since_t0=errors / requests,
        p95_ms=p95,
        p95_since_t0_ms=p95,
    )
    return Result(State.OK, "router", observation)


def pg_metrics_result(load: float, peak: float, peak_at: datetime) -> Result:
    observation = PgMetricsObservation(
        load_5m=load, peak_load_5m=peak, peak_load_at=peak_at.timestamp()
    )
    return Result(State.OK, "pg", observation)


def test_the_marks_say_router_p95_and_5xx_share_since_t0_and_the_peak_load(
    store: StateStore, watch: Watch
) -> None:
    watch.cycle(CUTOVER + HOUR, router=router_result(1000, 2, 140.0))
    watch.cycle(CUTOVER + 2 * HOUR, router=router_result(3000, 90, 310.0, ratio=0.1))
    # The watcher restarted: its since-T0 counts start again.
    watch.cycle(CUTOVER + 3 * HOUR, router=router_result(500, 0, 150.0))
    watch.cycle(
        CUTOVER + 4 * HOUR,
        pg_metrics=pg_metrics_result(0.3, 2.64, CUTOVER + 3 * HOUR + 20 * MINUTE),
    )
    watch.cycle(CUTOVER + 5 * HOUR, pg_metrics=pg_metrics_result(0.2, 0.4, CUTOVER + 5 * HOUR))
    got = {
        line.split(":", 1)[0]: line
        for line in marks.dashboard_lines(store, CUTOVER, CUTOVER + 8 * HOUR)
    }
    assert got["Router since T0"] == (
        "Router since T0: 3500 requests, 5xx share 2.57% (90), p95 310 ms (the highest of 2"
        " watcher runs); worst window: p95 310 ms at 16:48Z, 5xx 10.0% at 16:48Z"
    )
    assert got["Postgres load peak since T0"] == (
        "Postgres load peak since T0: load-avg-5m 2.64 at 18:08Z"
    )


def test_a_logplex_drop_is_a_blind_window_and_the_gate_stays_open_but_says_so(
    store: StateStore, watch: Watch
) -> None:
    watch.cycles(timedelta(0), HOUR)
    dropped = Finding(
        "logs.log_dropped",
        State.WARNING,
        "log_dropped: 1 line(s) in the last 30 min: Error L11 (Tail buffer overflow)",
    )
    watch.cycle(CUTOVER + HOUR, logs=Result.from_findings([dropped], ""))
    watch.cycles(HOUR + CYCLE, 2 * HOUR)
    # pg_metrics UNKNOWN for 3 cycles: blind, then seen again.
    for n in range(3):
        watch.cycle(CUTOVER + 2 * HOUR + n * CYCLE, pg_metrics=Result.unknown("no sample"))
    seen = pg_metrics_result(0.2, 0.2, CUTOVER + 2 * HOUR)
    watch.cycles(2 * HOUR + 3 * CYCLE, 4 * HOUR, pg_metrics=seen)
    windows = rm11_gate.blind_windows(store, CUTOVER, CUTOVER + 4 * HOUR)
    assert [(w.what, w.start, w.end) for w in windows] == [
        ("logs.log_dropped", CUTOVER + HOUR, CUTOVER + HOUR + CYCLE),
        ("pg_metrics", CUTOVER + 2 * HOUR + 2 * CYCLE, CUTOVER + 2 * HOUR + 3 * CYCLE),
    ]
    assert rm11_gate.gate_verdict(store, CUTOVER).open
    marks.post_due(store, CUTOVER, CUTOVER + 4 * HOUR + MINUTE)
    (post,) = posted(store)
    assert "RM-11 gate OPEN" in post
    assert "blind window from 15:48Z to 16:03Z: Logplex dropped lines" in post
    assert "the watch was blind on `pg_metrics` from 17:18Z to 17:33Z: `no sample`" in post
    assert "but the watch had 2 blind window(s), listed above" in post
    later = marks.dashboard_lines(store, CUTOVER, CUTOVER + 8 * HOUR)
    assert later[-3:] == [
        "Blind windows since T0: 2",
        "blind window from 15:48Z to 16:03Z: Logplex dropped lines, the log is incomplete:"
        " `log_dropped: 1 line(s) in the last 30 min: Error L11 (Tail buffer overflow)`",
        "the watch was blind on `pg_metrics` from 17:18Z to 17:33Z: `no sample`",
    ]
