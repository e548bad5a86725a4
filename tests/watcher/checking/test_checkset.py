"""The check set against the real PostgreSQL and healthz fake: baselines, sharing, read-only."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from checks.registry import NAMES as CHECK_NAMES
from checks.registry import Registry
from checks.result import State
from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import closed_port, json_reply
from tests.fakes.sentry import FakeSentry
from tests.support.clock import CUTOVER, FakeClock
from tests.support.postgres import OWNER, WatchedDatabase
from watcher.checking.runner import CheckReport, run_checks
from watcher.checking.sources import CheckSet
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.store.state import StateStore

SQL_CHECKS = ["pg_connections", "tables", "grants", "migrations", "pg_activity"]


@pytest.fixture
def configure(
    monkeypatch: pytest.MonkeyPatch, watched_db: WatchedDatabase, healthz_server: FakeHealthz
):  # type: ignore[no-untyped-def]
    def apply(**extra: str) -> None:
        env = {
            "WATCHER_DATABASE_URL": watched_db.owner_url,
            "WATCHER_APP_ROLE": watched_db.app_role,
            "WATCHER_HEALTHZ_URL": healthz_server.healthz_url,
            "WATCHER_CHECK_TIMEOUT": "5",
            **extra,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    apply()
    return apply


def run(names: list[str], clock: FakeClock | None = None) -> dict[str, CheckReport]:
    settings = load_settings()
    parts = Parts(settings, clock or FakeClock(), Redactor(settings.secrets()))
    try:
        reports = parts.run_checks(names)
    finally:
        parts.close()
    return {r.name: r for r in reports}


def test_every_named_check_has_its_sop_section() -> None:
    checks = Registry.default()
    assert checks.names == CHECK_NAMES
    assert all(check.sop[0].isdigit() for check in checks)


def test_healthz_timeout_is_its_own_critical(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    with httpx.Client() as http:
        checkset = CheckSet(settings, StateStore.from_url("sqlite:///s.db"), FakeClock(), http)
        (planned,) = checkset.planned(["healthz"])
    assert planned.on_timeout is not None
    assert [f.id for f in planned.on_timeout(10).findings] == ["healthz.timeout"]


def test_every_check_appears_in_spec_order(configure) -> None:  # type: ignore[no-untyped-def]
    reports = run(list(CHECK_NAMES))
    assert list(reports) == [
        "healthz",
        "logs",
        "sentry",
        "pg_info",
        "pg_connections",
        "tables",
        "grants",
        "migrations",
        "router",
        "pg_metrics",
        "pg_activity",
    ]
    for name in ("healthz", *SQL_CHECKS):
        assert reports[name].result.state == State.OK, reports[name].result.summary
    for name in ("logs", "pg_info", "router", "pg_metrics"):
        assert (reports[name].result.state, reports[name].result.summary) == (
            State.UNKNOWN,
            "not configured: set HEROKU_API_KEY",
        )
    assert (reports["sentry"].result.state, reports["sentry"].result.summary) == (
        State.UNKNOWN,
        "not configured: set SENTRY_AUTH_TOKEN and WATCHER_SENTRY_ORG",
    )


def test_first_observation_becomes_the_baseline(
    configure, watched_db: WatchedDatabase, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    first = run(["tables", "migrations"])
    assert "first observation" in first["tables"].result.summary
    assert "first observation" in first["migrations"].result.summary
    watched_db.execute(
        "DROP TABLE backup_codes", "UPDATE alembic_version SET version_num = '0002_x'"
    )
    clock = FakeClock()
    clock.advance(3600)
    later = run(["tables", "migrations"], clock)
    assert later["tables"].result.state == State.CRITICAL
    assert "baseline 35 (first seen 2026-05-16 14:48Z)" in later["tables"].result.summary
    assert later["migrations"].result.state == State.WARNING
    assert (tmp_path / "watcher-state.db").exists()


def test_configured_baselines_win_over_observations(configure) -> None:  # type: ignore[no-untyped-def]
    configure(WATCHER_EXPECTED_TABLES="36", WATCHER_EXPECTED_REVISION="0002_next")
    reports = run(["tables", "migrations"])
    assert reports["tables"].result.state == State.CRITICAL
    assert "from WATCHER_EXPECTED_TABLES" in reports["tables"].result.summary
    assert reports["migrations"].result.state == State.WARNING
    assert "0002_next" in reports["migrations"].result.summary


def test_unusable_state_store_makes_only_baseline_checks_unknown(configure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "broken.db").write_bytes(b"not sqlite" * 200)
    configure(WATCHER_STATE_URL="sqlite:///broken.db")
    reports = run(["tables", "grants"])
    assert reports["tables"].result.state == State.UNKNOWN
    assert reports["tables"].result.summary.startswith("no baseline: state store broken.db")
    assert reports["grants"].result.state == State.OK


def test_without_a_database_url_sql_checks_name_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHER_HEALTHZ_URL", f"http://127.0.0.1:{closed_port()}/healthz")
    reports = run(SQL_CHECKS)
    for name in SQL_CHECKS:
        assert reports[name].result.state == State.UNKNOWN
        assert "set WATCHER_DATABASE_URL (or DATABASE_URL)" in reports[name].result.summary


def test_unreachable_database_is_unknown_for_sql_checks_only(
    configure, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    configure(WATCHER_DATABASE_URL=f"postgres://u:pw-31337x@127.0.0.1:{closed_port()}/raxx")
    reports = run(["healthz", *SQL_CHECKS])
    assert reports["healthz"].result.state == State.OK
    for name in SQL_CHECKS:
        assert reports[name].result.state == State.UNKNOWN
        assert reports[name].result.summary.startswith("database unreachable")
        assert "pw-31337x" not in reports[name].result.summary


def test_statement_timeout_is_the_checks_unknown(configure, watched_db: WatchedDatabase) -> None:  # type: ignore[no-untyped-def]
    configure(WATCHER_CHECK_TIMEOUT="4")  # the statement timeout is a quarter of it
    with contextlib.closing(watched_db.admin()) as locker, locker.cursor() as cur:
        cur.execute("BEGIN; LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        reports = run(["migrations", "grants"])
    assert reports["migrations"].result.state == State.UNKNOWN
    assert "query timed out after 1 s" in reports["migrations"].result.summary
    # Only the check whose statement waited on the lock is affected.
    assert reports["grants"].result.state == State.OK


@contextlib.contextmanager
def owner_connection_limit(db: WatchedDatabase, limit: int) -> Iterator[None]:
    db.execute(f"ALTER ROLE {OWNER} CONNECTION LIMIT {limit}")
    try:
        yield
    finally:
        db.execute(f"ALTER ROLE {OWNER} CONNECTION LIMIT -1")


def test_watched_database_is_untouched(configure, watched_db: WatchedDatabase) -> None:  # type: ignore[no-untyped-def]
    """Given the owner's credential, a run writes nothing, uses one connection, keeps none."""
    xid = "SELECT pg_current_xact_id()::text::bigint"
    schema = (
        "SELECT md5(string_agg(table_name, ',' ORDER BY table_name))"
        " FROM information_schema.tables WHERE table_schema = 'public'"
    )
    schema_before = watched_db.scalar(schema)
    # The owner role may hold one connection: a second one by the watcher would fail a check.
    with owner_connection_limit(watched_db, 1):
        before = int(str(watched_db.scalar(xid)))
        reports = run(SQL_CHECKS)
        after = int(str(watched_db.scalar(xid)))
        open_sessions = watched_db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cutover-watcher'"
        )
    assert all(r.result.state == State.OK for r in reports.values()), reports
    assert open_sessions == 0
    # Each probe takes one transaction id; a write by the watcher would have taken another.
    assert after == before + 1
    assert watched_db.scalar(schema) == schema_before


@pytest.fixture
def sentry_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentry]:
    with FakeSentry() as fake:
        monkeypatch.setenv("WATCHER_SENTRY_API_URL", fake.url)
        monkeypatch.setenv("SENTRY_AUTH_TOKEN", sentry_fake.TOKEN)
        monkeypatch.setenv("WATCHER_SENTRY_ORG", sentry_fake.ORG)
        yield fake


def test_sentry_names_the_one_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "sntrys_x")
    report = run(["sentry"])["sentry"]
    assert report.result.summary == "not configured: set WATCHER_SENTRY_ORG"


def test_sentry_t0_is_the_cutover_time(
    sentry_server: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_CUTOVER_AT", "2026-05-16T14:48:42Z")
    sentry_server.add(
        "OperationalError: boom", CUTOVER + timedelta(minutes=3), type="OperationalError"
    )
    report = run(["sentry"], FakeClock(CUTOVER + timedelta(hours=1)))["sentry"]
    assert report.result.state == State.CRITICAL
    assert "since 2026-05-16 14:48Z (from WATCHER_CUTOVER_AT)" in report.result.summary


def test_sentry_t0_falls_back_to_the_recorded_watch_start(sentry_server: FakeSentry) -> None:
    StateStore.from_url("sqlite:///watcher-state.db").facts.keep_watch_start(CUTOVER)
    report = run(["sentry"], FakeClock(CUTOVER + timedelta(hours=1)))["sentry"]
    assert "since 2026-05-16 14:48Z (the watch start)" in report.result.summary
    assert sentry_server.issue_requests()[0].query["start"] == ["2026-05-16T14:48:42"]


def test_sentry_t0_falls_back_to_the_last_24_hours(sentry_server: FakeSentry) -> None:
    report = run(["sentry"], FakeClock(CUTOVER))["sentry"]
    assert "WATCHER_CUTOVER_AT unset" in report.result.summary
    assert sentry_server.issue_requests()[0].query["start"] == ["2026-05-15T14:48:42"]


def test_pg_info_against_the_fake_heroku_keeps_the_addon_between_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeHeroku() as heroku:
        heroku.set_info(
            heroku.add_postgres("heroku-postgresql:standard-0"),
            status="Available",
            connections="21/120",
            plan="Standard 0",
        )
        monkeypatch.setenv("HEROKU_API_KEY", heroku_fake.TOKEN)
        monkeypatch.setenv("WATCHER_HEROKU_API_URL", heroku.url)
        monkeypatch.setenv("WATCHER_HEROKU_DATA_API_URL", heroku.url)
        report = run(["pg_info"])["pg_info"]
    assert report.result.state == State.CRITICAL  # 21 of the SOP's 25
    assert [f.id for f in report.result.findings] == ["pg_info.connections"]
    assert heroku_fake.TOKEN not in report.result.summary


def test_the_heroku_rate_limit_is_read_from_the_client_after_a_429(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeHeroku() as heroku, httpx.Client() as http:
        heroku.add_postgres()
        heroku.rate_limit_remaining = 1  # this request takes the last token
        heroku.failures = [
            json_reply({"id": "rate_limit", "message": "slow down"}, 429, **{"Retry-After": "600"})
        ]
        monkeypatch.setenv("HEROKU_API_KEY", heroku_fake.TOKEN)
        monkeypatch.setenv("WATCHER_HEROKU_API_URL", heroku.url)
        monkeypatch.setenv("WATCHER_HEROKU_DATA_API_URL", heroku.url)
        settings = load_settings()
        checkset = CheckSet(settings, StateStore.from_url("sqlite:///s.db"), FakeClock(), http)
        assert checkset.heroku_rate_limit_remaining is None
        (report,) = run_checks(checkset.planned(["pg_info"]), 5, FakeClock(), Redactor([]))
    assert report.result.state == State.UNKNOWN
    assert checkset.heroku_rate_limit_remaining == 0


def test_sentry_before_a_future_cutover_is_asked_from_now(
    sentry_server: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_CUTOVER_AT", "2026-05-16T16:48:42Z")  # two hours ahead
    report = run(["sentry"], FakeClock(CUTOVER))["sentry"]
    assert report.result.state == State.OK, report.result.summary
    assert "waiting for the cutover at 2026-05-16 16:48Z" in report.result.summary
    query = sentry_server.issue_requests()[0].query
    # Never a window that ends before it starts (Sentry answers that with a 400).
    assert query["start"] == ["2026-05-16T14:47:42"] and query["end"] == ["2026-05-16T14:48:42"]
