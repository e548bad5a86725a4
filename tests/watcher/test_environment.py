"""The light settings path of `watcher scan` agrees with the settings model."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher import environment
from watcher.settings import load_settings


def test_secret_values_are_the_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "HEROKU_API_KEY": "hk-1111",
        "SENTRY_AUTH_TOKEN": "st-2222",
        "SLACK_BOT_TOKEN": "xoxb-3333",
        "WATCHER_METRICS_TOKEN": "mt-4444",
        "SENTRY_DSN": "https://k5555@o1.ingest.sentry.io/1",
        "DATABASE_URL": "postgres://u:pw%2F6666@db:5432/d",
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".env").write_text("WATCHER_STATE_URL=sqlite:///state-7777.db\n")
    assert sorted(environment.secret_values(environment.variables())) == sorted(
        load_settings().secrets()
    )


def test_environment_wins_over_dotenv_and_blank_is_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("WATCHER_APP_ROLE=from_dotenv\nDYNO=worker.1\n")
    monkeypatch.setenv("DYNO", "")
    values = environment.variables()
    assert (values["WATCHER_APP_ROLE"], values["DYNO"]) == ("from_dotenv", "worker.1")
    monkeypatch.setenv("WATCHER_APP_ROLE", "from_env")
    assert environment.variables()["WATCHER_APP_ROLE"] == "from_env"
