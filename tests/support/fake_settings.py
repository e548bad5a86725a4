"""Settings pointed at the shared fakes and a watched database: one place for every test that needs them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fakes import heroku as heroku_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.sentry import FakeSentry
from tests.fakes.slack import FakeSlack
from tests.support.postgres import WatchedDatabase
from watcher.settings import Settings, load_settings


def settings_against(
    db: WatchedDatabase,
    healthz: FakeHealthz,
    heroku: FakeHeroku,
    sentry: FakeSentry,
    slack: FakeSlack,
    *,
    cutover_at: datetime,
    state_url: str,
    **overrides: Any,
) -> Settings:
    """The watcher's settings with every source a fake (the mention `<@U024BE7LH>`, 5-s checks)."""
    values: dict[str, Any] = {
        "app": "raxx-api-prod",
        "database_url": db.owner_url,
        "app_role": db.app_role,
        "healthz_url": healthz.healthz_url,
        "heroku_api_key": heroku_fake.TOKEN,
        "heroku_api_url": heroku.url,
        "heroku_data_api_url": heroku.url,
        "sentry_auth_token": sentry_fake.TOKEN,
        "sentry_api_url": sentry.url,
        "sentry_org": sentry_fake.ORG,
        "slack_bot_token": slack_fake.TOKEN,
        "slack_api_url": slack.api_url,
        "slack_mention": "<@U024BE7LH>",
        "cutover_at": cutover_at,
        "check_timeout": 5,
        "state_url": state_url,
    }
    return load_settings(**(values | overrides))
