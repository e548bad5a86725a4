"""Settings: SPEC section 2 defaults, aliases, `.env`, and errors that never show a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LOOPBACK_DEFAULTS
from watcher.settings import ConfigError, load_settings


def test_defaults_are_the_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LOOPBACK_DEFAULTS:
        monkeypatch.delenv(name)
    s = load_settings()
    assert s.app == "raxx-api-prod"
    assert s.heroku_api_url == "https://api.heroku.com"
    assert s.heroku_data_api_url == "https://api.data.heroku.com"
    assert s.healthz_url == "https://api.raxx.app/healthz"
    assert s.app_role == "raptor_app"
    assert (s.pg_connection_limit, s.pg_connection_warn_ratio, s.pg_connection_crit_ratio) == (
        25,
        0.6,
        0.8,
    )
    assert (s.sentry_api_url, s.sentry_project, s.sentry_environment) == (
        "https://sentry.io",
        "raxx-backend",
        "production",
    )
    assert (s.slack_api_url, s.slack_channel) == ("https://slack.com/api/", "#ops-alerts")
    assert (s.check_interval, s.healthz_interval, s.check_timeout) == (900, 60, 10)
    assert s.state_url.get_secret_value() == "sqlite:///watcher-state.db"
    assert s.log_level == "INFO"  # SPEC section 8: the daemon's work shows at the default
    for unset in (
        s.database_url,
        s.heroku_api_key,
        s.sentry_auth_token,
        s.sentry_org,
        s.slack_bot_token,
        s.slack_mention,
        s.cutover_at,
        s.expected_tables,
        s.expected_revision,
        s.metrics_port,
        s.metrics_token,
        s.pushgateway_url,
        s.alertmanager_url,
        s.sentry_dsn,
    ):
        assert unset is None


def test_database_url_falls_back_to_heroku_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://o:pw@db.example:5432/d?sslmode=require")
    url = load_settings().database_url
    assert url is not None
    assert url.get_secret_value() == "postgres://o:pw@db.example:5432/d?sslmode=require"
    monkeypatch.setenv("WATCHER_DATABASE_URL", "postgresql://w:pw@other:5432/d")
    url = load_settings().database_url
    assert url is not None and url.get_secret_value().startswith("postgresql://w:")


def test_port_wins_over_watcher_metrics_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_METRICS_PORT", "9100")
    assert load_settings().metrics_port == 9100
    monkeypatch.setenv("PORT", "5000")
    assert load_settings().metrics_port == 5000


def test_dotenv_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("WATCHER_APP=from-dotenv\nWATCHER_CHECK_TIMEOUT=4\n")
    s = load_settings()
    assert (s.app, s.check_timeout) == ("from-dotenv", 4)
    monkeypatch.setenv("WATCHER_APP", "from-env")
    assert load_settings().app == "from-env"


def test_cutover_at_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_CUTOVER_AT", "2026-05-16T16:48:42+02:00")
    cutover = load_settings().cutover_at
    assert cutover is not None and cutover.isoformat() == "2026-05-16T14:48:42+00:00"


@pytest.mark.parametrize(
    "variable",
    [
        "SENTRY_AUTH_TOKEN",
        "DATABASE_URL",
        "PORT",
        "WATCHER_EXPECTED_TABLES",
        "WATCHER_CUTOVER_AT",
        "WATCHER_SENTRY_ORG",
        "WATCHER_METRICS_PORT",
    ],
)
def test_blank_optional_values_count_as_unset(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "")
    s = load_settings()
    assert None is s.sentry_auth_token is s.database_url is s.metrics_port is s.expected_tables
    assert None is s.cutover_at is s.sentry_org


def test_blank_watcher_database_url_lets_database_url_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHER_DATABASE_URL", "")
    monkeypatch.setenv("DATABASE_URL", "postgres://o:pw@db:5432/d")
    assert load_settings().database_url is not None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://u:x@h/db"),
        ("WATCHER_DATABASE_URL", "mysql://u:x@h/db"),
        ("PORT", "abc"),
        ("WATCHER_METRICS_PORT", "abc"),
    ],
)
def test_error_names_the_variable_that_was_set(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    named = str(caught.value).removeprefix("configuration error: ").split(":")[0]
    assert named == variable


def test_error_names_the_variable_set_in_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATCHER_METRICS_PORT=abc\n")
    with pytest.raises(ConfigError, match=r"^configuration error: WATCHER_METRICS_PORT: "):
        load_settings()


def test_unreadable_dotenv_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"WATCHER_APP=\xff\n")
    with pytest.raises(ConfigError, match=r"\.env cannot be read"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("WATCHER_PG_CONNECTION_LIMIT", "abc", "WATCHER_PG_CONNECTION_LIMIT"),
        ("WATCHER_PG_CONNECTION_LIMIT", "-5", "WATCHER_PG_CONNECTION_LIMIT"),
        ("WATCHER_PG_CONNECTION_WARN_RATIO", "1.5", "WATCHER_PG_CONNECTION_WARN_RATIO"),
        ("WATCHER_PG_CONNECTION_CRIT_RATIO", "7", "WATCHER_PG_CONNECTION_CRIT_RATIO"),
        ("WATCHER_PG_CONNECTION_WARN_RATIO", "0.9", "WATCHER_PG_CONNECTION_WARN_RATIO"),
        ("DATABASE_URL", "mysql://raxx:Sup3rSecretPw@db/raxx", "DATABASE_URL"),
        (
            "WATCHER_DATABASE_URL",
            "postgres://raxx:Sup3rSecretPw@db:port/raxx",
            "WATCHER_DATABASE_URL",
        ),
        ("WATCHER_HEALTHZ_URL", "api.raxx.app/healthz", "WATCHER_HEALTHZ_URL"),
        ("WATCHER_SLACK_API_URL", "ftp://slack.example/api/", "WATCHER_SLACK_API_URL"),
        ("WATCHER_CHECK_TIMEOUT", "-1", "WATCHER_CHECK_TIMEOUT"),
        ("WATCHER_CUTOVER_AT", "yesterday", "WATCHER_CUTOVER_AT"),
        ("WATCHER_CUTOVER_AT", "2026-06-01T09:00:00", "WATCHER_CUTOVER_AT"),
        ("WATCHER_STATE_URL", "mysql://w:Sup3rSecretPw@db/state", "WATCHER_STATE_URL"),
        ("WATCHER_STATE_URL", "postgresql://w:Sup3rSecretPw@db:port/state", "WATCHER_STATE_URL"),
        ("WATCHER_FIRE_AFTER", "0", "WATCHER_FIRE_AFTER"),
        ("WATCHER_REMINDER_INTERVAL", "-5", "WATCHER_REMINDER_INTERVAL"),
        ("WATCHER_EXPECTED_TABLES", "thirty-five", "WATCHER_EXPECTED_TABLES"),
        ("PORT", "http", "PORT"),
        (
            "WATCHER_HEALTHZ_URL",
            "http://u:Sup3rSecretPw\u2100@127.0.0.1/healthz",
            "WATCHER_HEALTHZ_URL",
        ),
        ("WATCHER_HEALTHZ_URL", "http://127.0.0.1:notaport/healthz", "WATCHER_HEALTHZ_URL"),
        ("WATCHER_HEALTHZ_URL", "http://127.0.0.1:99999/healthz", "WATCHER_HEALTHZ_URL"),
        (
            "WATCHER_PUSHGATEWAY_URL",
            "http://u:Sup3rSecretPw\u2100@127.0.0.1/",
            "WATCHER_PUSHGATEWAY_URL",
        ),
        ("WATCHER_STATE_URL", "sqlite:///:memory:", "WATCHER_STATE_URL"),
        ("WATCHER_STATE_URL", "sqlite:///", "WATCHER_STATE_URL"),
    ],
)
def test_bad_value_names_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("configuration error: ")
    assert named in message
    assert "\n" not in message
    assert value not in message
    assert "Sup3rSecretPw" not in message


def test_several_bad_values_are_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_PG_CONNECTION_LIMIT", "abc")
    monkeypatch.setenv("WATCHER_HEALTHZ_URL", "nope")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "WATCHER_PG_CONNECTION_LIMIT" in message and "WATCHER_HEALTHZ_URL" in message
    assert "\n" not in message


def test_secrets_are_hidden_and_listed_for_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEROKU_API_KEY", "heroku-key-0001")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-slack-0002")
    monkeypatch.setenv("DATABASE_URL", "postgres://o:db-pass%2F0003@db:5432/d")
    s = load_settings()
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert "heroku-key-0001" not in shown and "db-pass" not in shown
    # The password as it stands in the URL and as the server receives it.
    assert {"heroku-key-0001", "xoxb-slack-0002", "db-pass%2F0003", "db-pass/0003"} <= set(
        s.secrets()
    )


def test_a_postgresql_state_store_is_accepted_and_its_password_is_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHER_STATE_URL", "postgresql://w:Sup3rSecretPw@db.internal/state")
    settings = load_settings()
    assert settings.state_url.get_secret_value().startswith("postgresql://")
    assert "Sup3rSecretPw" in settings.secrets()


def test_alert_thresholds_default_to_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.fire_after, settings.resolve_after, settings.blind_after) == (2, 2, 3)
    assert settings.reminder_interval == 1800


@pytest.mark.parametrize("value", ["-1", "1700000000", "1700000000.5"])
def test_an_epoch_number_is_not_a_cutover_time(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WATCHER_CUTOVER_AT", value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "WATCHER_CUTOVER_AT" in message and "ISO-8601" in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        # pydantic would say "a valid datetime or date": a date alone is refused, so no "date".
        (
            "WATCHER_CUTOVER_AT",
            "garbage",
            "WATCHER_CUTOVER_AT: must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z",
        ),
        (
            "WATCHER_CUTOVER_AT",
            "2026-05-16",
            "WATCHER_CUTOVER_AT: must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z",
        ),
        (
            "WATCHER_CUTOVER_AT",
            "2026-13-01T00:00:00Z",
            "WATCHER_CUTOVER_AT: must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z",
        ),
        (
            "WATCHER_CUTOVER_AT",
            "1779000000",
            "WATCHER_CUTOVER_AT: must be an ISO-8601 time with"
            " a zone, e.g. 2026-05-16T14:48:42Z, not a number",
        ),
        # The port is what is wrong, not the scheme.
        (
            "DATABASE_URL",
            "postgres://u:Sup3rSecretPw@db.example:99999/x",
            "DATABASE_URL: has an invalid port: it must be a number from 1 to 65535",
        ),
        (
            "WATCHER_STATE_URL",
            "postgresql://u:Sup3rSecretPw@db:0/x",
            "WATCHER_STATE_URL: has an invalid port: it must be a number from 1 to 65535",
        ),
        (
            "WATCHER_HEALTHZ_URL",
            "http://h:99999/healthz",
            "WATCHER_HEALTHZ_URL: has an invalid port: it must be a number from 1 to 65535",
        ),
        (
            "DATABASE_URL",
            "mysql://u:Sup3rSecretPw@db/x",
            "DATABASE_URL: must be a postgres:// or postgresql:// URL with a host",
        ),
        # Both variables in full, in the VAR: form of every other message.
        (
            "WATCHER_PG_CONNECTION_WARN_RATIO",
            "0.9",
            "WATCHER_PG_CONNECTION_WARN_RATIO: must not"
            " exceed WATCHER_PG_CONNECTION_CRIT_RATIO (the warning comes before the critical)",
        ),
    ],
)
def test_configuration_errors_say_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == f"configuration error: {message}"
