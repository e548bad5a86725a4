"""`watcher doctor` as a user runs it: the table, SPEC 10's JSON, the exit codes, no secret."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import heroku as heroku_fake
from tests.fakes import slack as slack_fake
from tests.support.postgres import OWNER_PASSWORD
from tests.watcher.cli.test_cli import watcher
from tests.watcher.doctor.conftest import World


def test_json_is_the_spec_shape_and_the_exit_code_is_in_it(world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in world.env.items() if k != "WATCHER_CUTOVER_AT"}
    done = watcher("doctor", "--json", env=env, cwd=tmp_path)
    data = json.loads(done.stdout)
    assert set(data) == {"rows", "exit_code"}
    assert all(set(row) == {"name", "result", "detail", "fix"} for row in data["rows"])
    results = {row["name"]: row["result"] for row in data["rows"]}
    # The subprocess runs on the real clock: only the SKIP of the unset T0 is not OK.
    assert results.pop("cutover_at") == "SKIP"
    assert set(results.values()) == {"OK"}
    assert done.returncode == data["exit_code"] == 0
    assert not world.slack.calls("chat.postMessage")


def test_a_misconfigured_stand_in_fails_with_fixes_and_leaks_no_secret(
    world: World, tmp_path: Path
) -> None:
    world.slack.member_of = set()
    env = {**world.env, "HEROKU_API_KEY": "HRKU-revoked-0000", "WATCHER_SLACK_MENTION": "<@U0GONE>"}
    done = watcher("doctor", env=env, cwd=tmp_path)
    assert done.returncode == 2
    out = done.stdout
    assert "heroku.token     FAIL  Heroku rejected HEROKU_API_KEY (401)" in out
    assert "-> invite the bot: /invite @cutover-watcher in #ops-alerts" in out
    assert "slack.mention    FAIL  <@U0GONE>: user_not_found" in out
    assert "watcher doctor: something failed" in out
    for secret in ("HRKU-revoked-0000", heroku_fake.TOKEN, slack_fake.TOKEN, OWNER_PASSWORD):
        assert secret not in out + done.stderr
