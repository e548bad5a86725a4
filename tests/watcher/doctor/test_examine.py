"""`watcher doctor`'s rows against the fakes: each OK, and each failing the ways it fails."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes import slack as slack_fake
from tests.fakes.healthz import healthy
from tests.fakes.http import closed_port
from tests.support.clock import CUTOVER
from tests.support.postgres import PgServer, empty_database, limited_credential
from tests.watcher.doctor.conftest import World
from watcher.doctor.rows import Outcome

SPEC_ROWS = [
    "heroku.token",
    "heroku.app",
    "heroku.database",
    "heroku.logs",
    "data_api",
    "healthz",
    "database",
    "sentry",
    "slack.token",
    "slack.channel",
    "slack.mention",
    "slack.scopes",
    "state",
    "alertmanager",
    "pushgateway",
    "cutover_at",
]


def test_a_healthy_stand_in_is_ok_on_every_row_and_posts_nothing(world: World) -> None:
    diagnosis = world.diagnose()
    assert [r.name for r in diagnosis.rows] == SPEC_ROWS
    assert {r.name: r.result for r in diagnosis.rows} == dict.fromkeys(SPEC_ROWS, Outcome.OK)
    assert diagnosis.exit_code == 0
    shown = {r.name: r.detail for r in diagnosis.rows}
    assert "ops@raxx.app" in shown["heroku.token"]
    assert "generation cedar, maintenance off" in shown["heroku.app"]
    assert "heroku-postgresql:standard-0" in shown["heroku.database"]
    assert "1 line(s) of history" in shown["heroku.logs"]
    assert "Status Available, Connections 7/120" in shown["data_api"]
    assert "sees pg_roles" in shown["database"] and "other roles' sessions" in shown["database"]
    assert "environment production" in shown["sentry"]
    assert "#ops-alerts (C0OPSALRT): the bot is a member" in shown["slack.channel"]
    assert "Dana On-Call" in shown["slack.mention"]
    assert "chat:write granted" in shown["slack.scopes"]
    assert "in 3 h 0 min" in shown["cutover_at"]
    # Reading only: nothing posted, edited, or written to the watched database.
    assert not world.slack.calls("chat.postMessage") and not world.slack.calls("chat.update")
    assert world.slack.messages == []


def test_a_rejected_heroku_token_fails_with_the_fix_and_the_rest_waits_for_it(
    world: World,
) -> None:
    rows = {r.name: r for r in world.diagnose(HEROKU_API_KEY="HRKU-revoked").rows}
    assert rows["heroku.token"].result is Outcome.FAIL
    assert "401" in rows["heroku.token"].detail
    assert "HEROKU_API_KEY" in rows["heroku.token"].fix
    for name in ("heroku.app", "heroku.database", "heroku.logs", "data_api"):
        assert rows[name].result is Outcome.FAIL
        assert rows[name].fix == "fix heroku.token first"


def test_an_app_the_token_cannot_find_names_watcher_app(world: World) -> None:
    row = world.row("heroku.app", WATCHER_APP="raxx-api-staging")
    assert row.result is Outcome.FAIL and "404" in row.detail and "WATCHER_APP" in row.fix


def test_no_database_attachment_and_an_unavailable_database(world: World) -> None:
    (addon,) = world.heroku.addons
    world.heroku.set_info(addon, status="Unavailable")
    rows = {r.name: r for r in world.diagnose().rows}
    assert rows["data_api"].result is Outcome.FAIL and "Unavailable" in rows["data_api"].detail
    world.heroku.remove(addon)
    rows = {r.name: r for r in world.diagnose().rows}
    assert rows["heroku.database"].result is Outcome.FAIL
    assert "--as DATABASE" in rows["heroku.database"].fix
    assert rows["data_api"].fix == "fix heroku.database first"


def test_a_log_session_logplex_refuses(world: World) -> None:
    world.logplex.status = 503
    row = world.row("heroku.logs")
    assert row.result is Outcome.FAIL and "HTTP 503" in row.detail


def test_healthz_unreachable_fails_with_the_setting_to_check(world: World) -> None:
    row = world.row("healthz", WATCHER_HEALTHZ_URL=f"http://127.0.0.1:{closed_port()}/healthz")
    assert row.result is Outcome.FAIL
    assert "unreachable" in row.detail and "WATCHER_HEALTHZ_URL" in row.fix


def test_healthz_on_sqlite_is_expected_before_t0_and_a_failure_after(world: World) -> None:
    world.healthz.reply = healthy(db="sqlite")
    before = world.row("healthz")
    assert before.result is Outcome.OK and "expected before T0" in before.detail
    world.clock.advance(4 * 3600)
    after = world.row("healthz")
    assert after.result is Outcome.FAIL and "4.8" in after.fix


def test_a_credential_that_cannot_see_pg_roles(world: World) -> None:
    world.db.execute("REVOKE SELECT ON pg_catalog.pg_roles FROM PUBLIC")
    with limited_credential(world.db) as credential:
        row = world.row("database", DATABASE_URL=credential.url)
    assert row.result is Outcome.FAIL
    assert "cannot read pg_roles" in row.detail and "pg_roles" in row.fix


def test_a_credential_without_pg_monitor_is_told_to_grant_it(world: World) -> None:
    with limited_credential(world.db) as credential:
        row = world.row("database", DATABASE_URL=credential.url)
    assert row.result is Outcome.FAIL
    assert "cannot see other roles' sessions" in row.detail
    assert f"GRANT pg_monitor TO {credential.name}" in row.fix


def test_an_unknown_app_role_and_an_unreachable_database(world: World) -> None:
    row = world.row("database", WATCHER_APP_ROLE="raptor_nobody")
    assert row.result is Outcome.FAIL and "WATCHER_APP_ROLE" in row.fix
    url = f"postgresql://u:p@127.0.0.1:{closed_port()}/raxx"
    row = world.row("database", DATABASE_URL=url, WATCHER_APP_ROLE=world.db.app_role)
    assert row.result is Outcome.FAIL and "unreachable" in row.detail


def test_sentry_token_organization_project_and_environment(world: World) -> None:
    assert world.row("sentry", SENTRY_AUTH_TOKEN="sntrys_wrong").fix.startswith(
        "set SENTRY_AUTH_TOKEN"
    )
    token = world.env["SENTRY_AUTH_TOKEN"]
    row = world.row("sentry", SENTRY_AUTH_TOKEN=token, WATCHER_SENTRY_ORG="raxy")
    assert row.result is Outcome.FAIL and "WATCHER_SENTRY_ORG" in row.fix
    row = world.row("sentry", WATCHER_SENTRY_ORG="raxx", WATCHER_SENTRY_PROJECT="raxx-web")
    assert row.result is Outcome.FAIL and "WATCHER_SENTRY_PROJECT" in row.fix
    row = world.row(
        "sentry", WATCHER_SENTRY_PROJECT="raxx-backend", WATCHER_SENTRY_ENVIRONMENT="prod"
    )
    assert row.result is Outcome.FAIL
    assert "production, staging" in row.detail and "WATCHER_SENTRY_ENVIRONMENT" in row.fix


def test_a_rejected_slack_token(world: World) -> None:
    rows = {r.name: r for r in world.diagnose(SLACK_BOT_TOKEN="xoxb-revoked").rows}
    assert rows["slack.token"].result is Outcome.FAIL
    assert "invalid_auth" in rows["slack.token"].detail
    assert "SLACK_BOT_TOKEN" in rows["slack.token"].fix
    assert rows["slack.scopes"].fix == "fix slack.token first"


def test_the_bot_not_in_the_channel_is_told_to_invite_it(world: World) -> None:
    world.slack.member_of = set()
    row = world.row("slack.channel")
    assert row.result is Outcome.FAIL and "not a member" in row.detail
    assert row.fix == "invite the bot: /invite @cutover-watcher in #ops-alerts"


def test_a_channel_found_on_a_later_page_and_one_that_does_not_exist(world: World) -> None:
    world.slack.channels = {f"team-{n}": f"C0TEAM{n:04d}" for n in range(7)}
    world.slack.channels["ops-alerts"] = slack_fake.CHANNEL_ID
    world.slack.page_size = 3
    assert world.row("slack.channel").result is Outcome.OK
    assert len(world.slack.calls("conversations.list")) == 3
    row = world.row("slack.channel", WATCHER_SLACK_CHANNEL="#ops-alert")
    assert row.result is Outcome.FAIL and "WATCHER_SLACK_CHANNEL" in row.fix


def test_a_channel_given_by_id_and_without_channels_read(world: World) -> None:
    ok = world.row("slack.channel", WATCHER_SLACK_CHANNEL=slack_fake.CHANNEL_ID)
    assert ok.result is Outcome.OK
    world.slack.scopes -= {"channels:read", "groups:read"}
    row = world.row("slack.channel")
    assert row.result is Outcome.FAIL and "missing_scope" in row.detail
    assert "channels:read" in row.fix


@pytest.mark.parametrize(
    ("mention", "result", "words"),
    [
        ("<@U0NOBODY>", Outcome.FAIL, "user_not_found"),
        ("<@U024BE7LH|dana>", Outcome.OK, "Dana On-Call"),
        (f"<!subteam^{slack_fake.ON_CALL_GROUP}>", Outcome.OK, "@raxx-oncall (3 people)"),
        ("<!subteam^S0GONE>", Outcome.FAIL, "no such user group"),
        ("@dana.oncall", Outcome.FAIL, "not a Slack mention"),
        ("<!here>", Outcome.OK, "everyone"),
    ],
)
def test_the_mention_resolves_to_a_person_or_group(
    world: World, mention: str, result: Outcome, words: str
) -> None:
    row = world.row("slack.mention", WATCHER_SLACK_MENTION=mention)
    assert row.result is result and words in row.detail


def test_a_deactivated_on_call_and_a_token_that_cannot_read_users(world: World) -> None:
    world.slack.users[slack_fake.ON_CALL]["deleted"] = True
    row = world.row("slack.mention")
    assert row.result is Outcome.FAIL and "Copy member ID" in row.fix
    world.slack.scopes.discard("users:read")
    row = world.row("slack.mention")
    assert row.result is Outcome.FAIL and "users:read" in row.fix


def test_a_token_without_chat_write(world: World) -> None:
    world.slack.scopes.discard("chat:write")
    row = world.row("slack.scopes")
    assert row.result is Outcome.FAIL
    assert "lacks chat:write" in row.detail and "reinstall" in row.fix


def test_an_unwritable_postgresql_state_store(world: World, pg_server: PgServer) -> None:
    with empty_database(pg_server) as store:
        # The store exists (the daemon made it); the URL given now is a read-only credential.
        assert world.row("state", WATCHER_STATE_URL=store.url).result is Outcome.OK
        conn = pg_server.admin(store.name)
        conn.autocommit = True
        with conn, conn.cursor() as cur:
            cur.execute("CREATE ROLE doctor_reader LOGIN PASSWORD 'reader'")
            cur.execute("ALTER ROLE doctor_reader SET default_transaction_read_only = on")
            cur.execute("GRANT USAGE ON SCHEMA watcher TO doctor_reader")
            cur.execute("GRANT SELECT ON ALL TABLES IN SCHEMA watcher TO doctor_reader")
        conn.close()
        try:
            reader = pg_server.url(store.name, "doctor_reader", "reader")
            row = world.row("state", WATCHER_STATE_URL=reader)
        finally:
            admin = pg_server.admin(store.name)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("DROP OWNED BY doctor_reader")
                cur.execute("DROP ROLE doctor_reader")
            admin.close()
    assert row.result is Outcome.FAIL
    assert "not writable" in row.detail and "read-only transaction" in row.detail
    assert "WATCHER_STATE_URL" in row.fix


def test_a_sqlite_store_where_no_file_can_be_made(world: World, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    row = world.row("state", WATCHER_STATE_URL=f"sqlite:///{tmp_path}/a-file/state.db")
    assert row.result is Outcome.FAIL and "WATCHER_STATE_URL" in row.fix


def test_alertmanager_and_pushgateway_unreachable(world: World) -> None:
    port = closed_port()
    rows = {
        r.name: r
        for r in world.diagnose(
            WATCHER_ALERTMANAGER_URL=f"http://127.0.0.1:{port}",
            WATCHER_PUSHGATEWAY_URL=f"http://127.0.0.1:{port}",
        ).rows
    }
    assert rows["alertmanager"].result is Outcome.FAIL
    assert rows["pushgateway"].result is Outcome.FAIL


def test_cutover_at_unset_far_ahead_or_long_past(world: World) -> None:
    assert world.row("cutover_at", WATCHER_CUTOVER_AT=None).result is Outcome.SKIP
    ahead = (CUTOVER + timedelta(days=2)).isoformat()
    assert world.row("cutover_at", WATCHER_CUTOVER_AT=ahead).result is Outcome.FAIL
    past = (CUTOVER - timedelta(days=2)).isoformat()
    assert "24 h ago" in world.row("cutover_at", WATCHER_CUTOVER_AT=past).detail


def test_only_skips_among_the_essentials_exit_1_optional_ones_do_not(world: World) -> None:
    optional = world.diagnose(WATCHER_ALERTMANAGER_URL=None, WATCHER_PUSHGATEWAY_URL=None)
    assert optional.exit_code == 0
    skipped = world.diagnose(SLACK_BOT_TOKEN=None, SENTRY_AUTH_TOKEN=None)
    rows = {r.name: r for r in skipped.rows}
    assert rows["slack.channel"].result is Outcome.SKIP
    assert rows["slack.channel"].fix == "set SLACK_BOT_TOKEN to check it"
    assert rows["sentry"].fix == "set SENTRY_AUTH_TOKEN to check it"
    assert skipped.exit_code == 1
    world.slack.member_of = set()
    assert world.diagnose(SLACK_BOT_TOKEN=slack_fake.TOKEN).exit_code == 2


def test_the_watched_database_is_only_read(world: World) -> None:
    world.diagnose()
    # The doctor held its one read-only session briefly, and left none behind.
    sessions = world.db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cutover-watcher'"
    )
    assert sessions == 0


def test_slack_down_or_not_slack_is_a_failure_not_a_crash(world: World) -> None:
    world.slack.outage = True
    rows = {r.name: r for r in world.diagnose().rows}
    assert rows["slack.token"].result is Outcome.FAIL and "HTTP 503" in rows["slack.token"].detail
    assert "WATCHER_SLACK_API_URL" in rows["slack.token"].fix
    url = f"http://127.0.0.1:{closed_port()}/api/"
    row = world.row("slack.token", WATCHER_SLACK_API_URL=url)
    assert row.result is Outcome.FAIL and "unreachable" in row.detail


def test_a_fir_app_opens_a_tailing_session(world: World) -> None:
    world.heroku.generation = "fir"
    row = world.row("heroku.logs")
    assert row.result is Outcome.OK and "Fir log session opened and tailing" in row.detail
    assert world.heroku.log_session_bodies[-1] == {"tail": True}
