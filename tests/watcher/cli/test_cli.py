"""`watcher` end to end as a subprocess, against the test PostgreSQL and the healthz fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.conftest import LOOPBACK_DEFAULTS
from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz, healthy, maintenance
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import closed_port, json_reply
from tests.fakes.logplex import SESSION_TOKEN, FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.sentry_ingest import FakeSentryIngest
from tests.fakes.slack import FakeSlack
from tests.support.postgres import OWNER_PASSWORD, PgServer, WatchedDatabase, empty_database
from watcher import __version__

ROOT = Path(__file__).resolve().parents[3]
BUILT = ["healthz", "pg_connections", "tables", "grants", "migrations", "pg_activity"]
SECRETS = {
    "HEROKU_API_KEY": "heroku-api-key-5f9d2c",
    "SENTRY_AUTH_TOKEN": "sntrys_token_8a7b6c",
    "SLACK_BOT_TOKEN": "xoxb-slack-token-4e3d",
    "WATCHER_METRICS_TOKEN": "metrics-token-1a2b3c",
}


def watcher(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would: a fresh process, only the given settings."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    # The code under test, whatever copy of the package is installed; APIs on loopback.
    base |= {"PYTHONPATH": str(ROOT), **LOOPBACK_DEFAULTS}
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(watched_db: WatchedDatabase, healthz_server: FakeHealthz) -> dict[str, str]:
    return {
        "DATABASE_URL": watched_db.owner_url,
        "WATCHER_APP_ROLE": watched_db.app_role,
        "WATCHER_HEALTHZ_URL": healthz_server.healthz_url,
        "WATCHER_CHECK_TIMEOUT": "5",
        **SECRETS,
    }


def checks_flags(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("--check", name)]


def assert_no_secret(text: str) -> None:
    for secret in [*SECRETS.values(), OWNER_PASSWORD]:
        assert secret not in text


def test_healthy_cutover_prints_ok_table_and_exits_0(
    env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    done = watcher("once", *checks_flags(BUILT), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CUTOVER-WATCHER OK: raxx-api-prod at ")
    assert lines[2].split() == ["STATE", "CHECK", "SUMMARY"]
    rows = {line.split()[1]: line for line in lines[3:]}
    assert list(rows) == BUILT
    assert all(row.startswith("OK ") for row in rows.values())
    assert "\033[" not in done.stdout  # not a terminal: no colour
    assert healthz_server.requests[0].headers["user-agent"] == f"cutover-watcher/{__version__}"
    # Its log on stderr, in the daemon's format: stdout is the plugin's output alone.
    assert done.stderr.startswith('at=info logger=watcher.cli.main msg="checks done" ')
    assert_no_secret(done.stdout + done.stderr)


def test_every_check_appears_and_unconfigured_ones_make_it_unknown(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = watcher("once", env=env, cwd=tmp_path)
    assert done.returncode == 3
    # HEROKU_API_KEY is set, and the Heroku API is a closed loopback port here.
    assert (
        "UNKNOWN   logs            Heroku Platform API unreachable: connection refused"
        in done.stdout
    )


def test_sqlite_healthz_is_critical_exit_2(
    env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    done = watcher("once", *checks_flags(BUILT), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith("CUTOVER-WATCHER CRITICAL:")
    assert "CRITICAL  healthz" in done.stdout and "db=sqlite" in done.stdout


def test_json_is_the_spec_object(
    env: dict[str, str], healthz_server: FakeHealthz, watched_db: WatchedDatabase, tmp_path: Path
) -> None:
    healthz_server.reply = maintenance()
    watched_db.execute(f"REVOKE INSERT ON historical_bars FROM {watched_db.app_role}")
    done = watcher("once", "--json", *checks_flags(BUILT), env=env, cwd=tmp_path)
    assert done.returncode == 2
    report: dict[str, Any] = json.loads(done.stdout)
    assert set(report) == {"app", "checked_at", "state", "exit_code", "checks"}
    assert (report["app"], report["state"], report["exit_code"]) == ("raxx-api-prod", "CRITICAL", 2)
    assert report["checked_at"].endswith("Z") and len(report["checked_at"]) == 20
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == BUILT
    for check in report["checks"]:
        assert set(check) == {
            "name",
            "state",
            "summary",
            "sop",
            "duration_seconds",
            "metrics",
            "findings",
        }
        assert isinstance(check["duration_seconds"], float)
    assert checks["healthz"]["sop"] == "5.1, 7.1, 7.3"
    assert checks["healthz"]["findings"] == [
        {"id": "healthz.maintenance", "state": "CRITICAL", "summary": checks["healthz"]["summary"]}
    ]
    assert [f["id"] for f in checks["grants"]["findings"]] == ["grants.table_privileges"]
    assert "historical_bars" in checks["grants"]["summary"]
    assert checks["tables"]["metrics"] == {"tables": 35.0, "baseline": 35.0}
    assert checks["pg_connections"]["state"] == "OK"
    assert_no_secret(done.stdout + done.stderr)


def test_check_option_runs_only_the_named_and_only_they_decide(
    env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    done = watcher(
        "once", "--json", "--check", "grants", "--check", "tables", env=env, cwd=tmp_path
    )
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["checks"]] == ["grants", "tables"]
    assert (report["state"], done.returncode) == ("OK", 0)
    assert healthz_server.requests == []


def test_unreachable_database_and_healthz(env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **env,
        "DATABASE_URL": f"postgres://raxx:{OWNER_PASSWORD}@127.0.0.1:{closed_port()}/raxx",
        "WATCHER_HEALTHZ_URL": f"http://127.0.0.1:{closed_port()}/healthz",
    }
    done = watcher("once", "--json", *checks_flags(BUILT), env=env, cwd=tmp_path)
    report = json.loads(done.stdout)
    states = {c["name"]: c["state"] for c in report["checks"]}
    assert states == {"healthz": "CRITICAL", **{n: "UNKNOWN" for n in BUILT[1:]}}
    assert done.returncode == 2
    assert_no_secret(done.stdout + done.stderr)


def test_configuration_error_exits_3_with_one_line(tmp_path: Path) -> None:
    done = watcher(
        "once",
        env={"WATCHER_PG_CONNECTION_LIMIT": "abc", "DATABASE_URL": "mysql://u:Pw-77x@h/d"},
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "WATCHER_PG_CONNECTION_LIMIT" in line and "DATABASE_URL" in line
    assert "abc" not in line and "Pw-77x" not in line


def test_configuration_error_in_dotenv_exits_3(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATCHER_PG_CONNECTION_CRIT_RATIO=1.2\n")
    done = watcher("once", env={}, cwd=tmp_path)
    assert done.returncode == 3
    assert "WATCHER_PG_CONNECTION_CRIT_RATIO" in done.stderr


@pytest.mark.parametrize("args", [["once", "--check", "nope"], ["frobnicate"], []])
def test_usage_errors_exit_3_not_2(args: list[str], tmp_path: Path) -> None:
    done = watcher(*args, env={}, cwd=tmp_path)
    assert done.returncode == 3
    assert "usage: watcher" in done.stderr


def test_version(tmp_path: Path) -> None:
    done = watcher("--version", env={}, cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"cutover-watcher {__version__}")


@pytest.mark.parametrize(
    ("case", "exit_code", "words"),
    [
        ("clean", 0, "no new unresolved issues in production since"),
        ("old", 0, "no new unresolved issues"),
        ("unrelated", 1, "1 new unresolved issue(s)"),
        ("operational", 2, "[operational error] RAXX-BACKEND-"),
        ("bad-token", 3, "rejected SENTRY_AUTH_TOKEN (401)"),
        ("wrong-org", 3, "organization 'not-raxx' not found (404)"),
    ],
)
def test_sentry_check_end_to_end(case: str, exit_code: int, words: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with FakeSentry() as fake:
        env = {
            "WATCHER_SENTRY_API_URL": fake.url,
            "SENTRY_AUTH_TOKEN": sentry_fake.TOKEN,
            "WATCHER_SENTRY_ORG": sentry_fake.ORG,
            "WATCHER_CUTOVER_AT": (now - timedelta(hours=2)).isoformat(),
        }
        if case == "old":
            fake.add(
                "OperationalError: x",
                now - timedelta(days=2),
                type="OperationalError",
                last_seen=now - timedelta(minutes=5),
            )
        if case == "unrelated":
            fake.add("KeyError: 'AAPL'", now - timedelta(hours=1), type="KeyError")
        if case == "operational":
            fake.add(
                "OperationalError: server closed the connection unexpectedly",
                now - timedelta(hours=1),
                type="OperationalError",
                count=7,
            )
        if case == "bad-token":
            env["SENTRY_AUTH_TOKEN"] = "sntrys_revoked_0000"
        if case == "wrong-org":
            fake.failures = [
                json_reply({"id": sentry_fake.PROJECT_ID}),
                json_reply({"detail": "not found"}, 404),
            ]
            env["WATCHER_SENTRY_ORG"] = "not-raxx"
        done = watcher("once", "--check", "sentry", env=env, cwd=tmp_path)
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert words in done.stdout
    assert sentry_fake.TOKEN not in done.stdout + done.stderr
    assert "sntrys_revoked_0000" not in done.stdout + done.stderr


def test_json_output_masks_secrets_that_json_would_escape(
    env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    secret = 'pw"Secret\\9x'
    healthz_server.reply = healthy(db=f"leak {secret}")
    done = watcher(
        "once",
        "--json",
        "--check",
        "healthz",
        env={**env, "SENTRY_AUTH_TOKEN": secret},
        cwd=tmp_path,
    )
    assert secret not in done.stdout and json.dumps(secret)[1:-1] not in done.stdout
    assert "[redacted]" in json.loads(done.stdout)["checks"][0]["summary"]


@pytest.mark.parametrize(
    ("plan", "connections", "log_line", "exit_code", "states"),
    [
        ("Standard 0", "7/120", "app[web.1]: GET /healthz 200", 0, {"pg_info": "OK", "logs": "OK"}),
        (
            "Standard 0",
            "16/120",
            "heroku[web.1]: Error R14 (Memory quota exceeded)",
            1,
            {"pg_info": "WARNING", "logs": "WARNING"},
        ),
        (
            "Essential 0",
            "7/20",
            "app[web.1]: permission denied for table users",
            2,
            {"pg_info": "WARNING", "logs": "CRITICAL"},
        ),
    ],
)
def test_pg_info_and_logs_end_to_end(
    plan: str,
    connections: str,
    log_line: str,
    exit_code: int,
    states: dict[str, str],
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    with FakeHeroku() as heroku, FakeLogplex() as logplex:
        heroku.set_info(
            heroku.add_postgres(), status="Available", connections=connections, plan=plan
        )
        heroku.logplex_url = logplex.session_url
        logplex.history = [
            f"{(now - timedelta(minutes=m)).isoformat()} app[web.1]: GET / 200"
            for m in range(40, 2, -1)
        ]
        logplex.history.append(f"{(now - timedelta(minutes=1)).isoformat()} {log_line}")
        env = {
            "HEROKU_API_KEY": heroku_fake.TOKEN,
            "WATCHER_HEROKU_API_URL": heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": heroku.url,
            "DYNO": "worker.1",
        }
        done = watcher(
            "once", "--json", "--check", "pg_info", "--check", "logs", env=env, cwd=tmp_path
        )
    report = json.loads(done.stdout)
    assert done.returncode == exit_code, done.stdout
    assert {c["name"]: c["state"] for c in report["checks"]} == states
    logs_check = report["checks"][1]
    assert logs_check["metrics"]["lines"] == 39
    for secret in (heroku_fake.TOKEN, heroku_fake.DB_PASSWORD, SESSION_TOKEN):
        assert secret not in done.stdout + done.stderr


@pytest.fixture
def slack_env(env: dict[str, str], slack: FakeSlack) -> dict[str, str]:
    return {
        **env,
        "SLACK_BOT_TOKEN": slack_fake.TOKEN,
        "WATCHER_SLACK_API_URL": slack.api_url,
        "WATCHER_SLACK_MENTION": "<@U024BE7LH>",
    }


def test_notify_pages_once_across_two_runs_and_resolves(
    slack_env: dict[str, str], slack: FakeSlack, healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    first = watcher("once", "--check", "healthz", "--notify", "--json", env=slack_env, cwd=tmp_path)
    second = watcher(
        "once", "--check", "healthz", "--notify", "--json", env=slack_env, cwd=tmp_path
    )
    assert (first.returncode, second.returncode) == (2, 2)
    assert json.loads(first.stdout)["notifications"] == {"sent": 1, "pending": 0, "failed": []}
    assert json.loads(second.stdout)["notifications"] == {"sent": 0, "pending": 0, "failed": []}
    (paged,) = slack.top_level()
    assert (paged.text or "").startswith("<@U024BE7LH> CRITICAL raxx-api-prod healthz")
    healthz_server.reply = healthy()
    for _ in range(2):
        done = watcher("once", "--check", "healthz", "--notify", env=slack_env, cwd=tmp_path)
    assert done.returncode == 0
    assert "notifications: 2 sent, 0 pending" in done.stdout
    assert (paged.current_text or "").startswith("RESOLVED (was CRITICAL)")
    assert len(slack.replies(paged.ts)) == 1


def test_notify_waits_out_a_short_429_and_pages_in_the_same_run(
    slack_env: dict[str, str], slack: FakeSlack, healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    # Slack's 429 with Retry-After: 1 (as slack_sdk reads it): one second fits the run's
    # delivery budget (WATCHER_CHECK_TIMEOUT), so the page goes out now, not at the next run.
    healthz_server.reply = healthy(db="sqlite")
    slack.fail_next(FakeSlack.ratelimited(retry_after=1))
    done = watcher("once", "--check", "healthz", "--notify", "--json", env=slack_env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert json.loads(done.stdout)["notifications"] == {"sent": 1, "pending": 0, "failed": []}
    (paged,) = slack.top_level()
    assert (paged.text or "").startswith("<@U024BE7LH> CRITICAL raxx-api-prod healthz")
    assert len(slack.calls("chat.postMessage")) == 2


def test_notify_that_reaches_no_one_exits_at_least_3(
    slack_env: dict[str, str], slack: FakeSlack, healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    slack.fail_next(FakeSlack.error("channel_not_found"))
    done = watcher("once", "--check", "healthz", "--notify", "--json", env=slack_env, cwd=tmp_path)
    assert done.returncode == 3
    data = json.loads(done.stdout)
    assert data["exit_code"] == 3 and data["state"] == "CRITICAL"
    (failed,) = data["notifications"]["failed"]
    assert failed["reason"] == "channel_not_found"
    assert "WATCHER_SLACK_CHANNEL" in failed["fix"]
    assert slack_fake.TOKEN not in done.stdout + done.stderr


def test_notify_without_a_slack_token_says_how_to_fix_it(
    env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    no_slack = {k: v for k, v in env.items() if k != "SLACK_BOT_TOKEN"}
    done = watcher("once", "--check", "healthz", "--notify", env=no_slack, cwd=tmp_path)
    assert done.returncode == 3
    assert "FAILED: not_configured: set SLACK_BOT_TOKEN" in done.stdout


def test_without_notify_nothing_is_posted(
    slack_env: dict[str, str], slack: FakeSlack, healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    done = watcher("once", "--check", "healthz", "--json", env=slack_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "notifications" not in json.loads(done.stdout)
    assert slack.requests == []


def test_record_prints_the_section_8_fields_from_the_store(
    slack_env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    cutover = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    env = {**slack_env, "WATCHER_CUTOVER_AT": cutover}
    watcher("once", "--check", "healthz", "--notify", env=env, cwd=tmp_path)
    done = watcher("record", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "**Section 5.1 healthz db field:** `postgresql`" in done.stdout
    assert "**4-hour watch ended at (UTC):** not yet" in done.stdout
    assert_no_secret(done.stdout + done.stderr)


def test_record_with_an_unusable_store_exits_3(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"not a database" * 100)
    done = watcher("record", env={**env, "WATCHER_STATE_URL": "sqlite:///state.db"}, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith("watcher record: state store")


def test_a_notification_failed_for_good_is_reported_to_sentry(
    slack_env: dict[str, str], slack: FakeSlack, healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    healthz_server.reply = healthy(db="sqlite")
    slack.fail_next(FakeSlack.error("not_in_channel"))
    with FakeSentryIngest() as ingest:
        env = {**slack_env, "SENTRY_DSN": ingest.dsn}
        done = watcher("once", "--check", "healthz", "--notify", env=env, cwd=tmp_path)
        (event,) = ingest.events()
    assert done.returncode == 3
    assert "notification failed for good: not_in_channel" in json.dumps(event)
    assert event["tags"]["reason"] == "not_in_channel"
    assert slack_fake.TOKEN not in ingest.text()


def test_notify_with_a_postgresql_state_store_pages_once(
    slack_env: dict[str, str],
    slack: FakeSlack,
    healthz_server: FakeHealthz,
    pg_server: PgServer,
    tmp_path: Path,
) -> None:
    with empty_database(pg_server) as database:
        env = {**slack_env, "WATCHER_STATE_URL": database.url}
        healthz_server.reply = healthy(db="sqlite")
        for _ in range(2):
            done = watcher("once", "--check", "healthz", "--notify", env=env, cwd=tmp_path)
            assert done.returncode == 2, done.stderr
        assert len(slack.top_level()) == 1
        with pg_server.admin(database.name) as conn, conn.cursor() as cur:
            cur.execute("SELECT status FROM watcher.alerts WHERE id = 'healthz.db_sqlite'")
            assert cur.fetchall() == [("firing",)]
        assert not (tmp_path / "watcher-state.db").exists()


def test_an_epoch_cutover_time_is_a_configuration_error_exit_3(tmp_path: Path) -> None:
    done = watcher("once", env={"WATCHER_CUTOVER_AT": "1700000000"}, cwd=tmp_path)
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1
    assert "WATCHER_CUTOVER_AT" in done.stderr and "1700000000" not in done.stdout


def test_report_of_an_empty_store_says_so_exits_3_and_creates_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = watcher("report", env={**env, "WATCHER_STATE_URL": "sqlite:///state.db"}, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == (
        "watcher report: no state store at state.db: nothing has been watched with it"
        " (is WATCHER_STATE_URL the daemon's store?)\n"
    )
    assert not (tmp_path / "state.db").exists()


def test_report_of_an_empty_postgresql_store_creates_no_schema(
    env: dict[str, str], pg_server: PgServer, tmp_path: Path
) -> None:
    with empty_database(pg_server) as database:
        done = watcher("report", env={**env, "WATCHER_STATE_URL": database.url}, cwd=tmp_path)
        assert done.returncode == 3, done.stderr
        with psycopg2.connect(database.url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'watcher'")
            assert cur.fetchone() == (0,)
        conn.close()


def test_report_prints_markdown_and_writes_one_html_page(
    slack_env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    cutover = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    env = {**slack_env, "WATCHER_CUTOVER_AT": cutover}
    watcher("once", "--check", "healthz", "--notify", env=env, cwd=tmp_path)
    markdown = watcher("report", env=env, cwd=tmp_path)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# RM-10 watch report: raxx-api-prod")
    for heading in ("## Section 8 record", "## Timeline", "## Alerts", "## Charts"):
        assert f"\n{heading}\n" in markdown.stdout
    page = watcher("report", "--html", "report.html", env=env, cwd=tmp_path)
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "report.html").read_text()
    size = len(html.encode())
    assert page.stderr.strip() == f"watcher report: wrote report.html ({size:,} bytes)"
    assert html.startswith("<!DOCTYPE html>") and "healthz latency" in html
    assert oct((tmp_path / "report.html").stat().st_mode & 0o777) == oct(0o644)
    assert_no_secret(markdown.stdout + markdown.stderr + html + page.stderr)


def test_report_to_a_file_that_cannot_be_written_exits_3(
    slack_env: dict[str, str], healthz_server: FakeHealthz, tmp_path: Path
) -> None:
    watcher("once", "--check", "healthz", "--notify", env=slack_env, cwd=tmp_path)
    done = watcher("report", "--html", "no/such/dir/report.html", env=slack_env, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith("watcher report: cannot write no/such/dir/report.html")
