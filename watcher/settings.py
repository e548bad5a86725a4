"""Settings from the environment and an optional `.env` (docs/settings.md)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Settings are unusable; the message names the variables, never their values."""


def _split(url: str, expected: str) -> SplitResult:
    """The URL's parts; a bad port is named as such (the scheme is not what is wrong)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError(f"must be {expected}") from None
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ValueError("has an invalid port: it must be a number from 1 to 65535") from None
    if parts.port == 0:
        raise ValueError("has an invalid port: it must be a number from 1 to 65535")
    return parts


def _http_url(value: str) -> str:
    # Every message here is fixed text: the value may hold credentials.
    parts = _split(value, "an http:// or https:// URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _database_url(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    parts = _split(value.get_secret_value(), "a postgres:// or postgresql:// URL")
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ValueError("must be a postgres:// or postgresql:// URL with a host")
    return value


class Settings(BaseSettings):
    """Every setting of the watcher; secrets are `SecretStr`."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # pydantic echoes raw input in errors; secrets would go with it.
        hide_input_in_errors=True,
        # `PORT=` or `WATCHER_DATABASE_URL=` means unset (and lets DATABASE_URL through).
        env_ignore_empty=True,
        populate_by_name=False,
        frozen=True,
    )

    app: str = Field("raxx-api-prod", min_length=1)
    heroku_api_key: SecretStr | None = Field(None, validation_alias="HEROKU_API_KEY")
    heroku_api_url: str = "https://api.heroku.com"
    heroku_data_api_url: str = "https://api.data.heroku.com"
    healthz_url: str = "https://api.raxx.app/healthz"
    database_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WATCHER_DATABASE_URL", "DATABASE_URL")
    )
    app_role: str = Field("raptor_app", min_length=1)
    pg_connection_limit: int = Field(25, gt=0)
    pg_connection_warn_ratio: float = Field(0.6, gt=0, le=1)
    pg_connection_crit_ratio: float = Field(0.8, gt=0, le=1)
    # pg_activity (docs/settings.md): seconds past which a session is reported.
    pg_long_query_seconds: float = Field(60, ge=0)
    pg_idle_in_transaction_seconds: float = Field(60, ge=0)
    pg_blocked_seconds: float = Field(30, ge=0)
    expected_tables: int | None = Field(None, ge=0)
    expected_revision: str | None = None
    sentry_auth_token: SecretStr | None = Field(None, validation_alias="SENTRY_AUTH_TOKEN")
    sentry_api_url: str = "https://sentry.io"
    sentry_org: str | None = None
    sentry_project: str = "raxx-backend"
    sentry_environment: str = "production"
    sentry_dsn: SecretStr | None = Field(None, validation_alias="SENTRY_DSN")
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_api_url: str = "https://slack.com/api/"
    slack_channel: str = "#ops-alerts"
    slack_mention: str | None = None
    alertmanager_url: str | None = None
    cutover_at: datetime | None = None
    check_interval: float = Field(900, gt=0)
    healthz_interval: float = Field(60, gt=0)
    check_timeout: float = Field(10, gt=0, le=300)
    # Slack's latency, not the checks': a post Slack is slow to answer is usually posted.
    slack_timeout: float = Field(20, gt=0, le=120)
    state_url: SecretStr = SecretStr("sqlite:///watcher-state.db")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, validation_alias=AliasChoices("PORT", "WATCHER_METRICS_PORT")
    )
    metrics_token: SecretStr | None = None
    pushgateway_url: str | None = None
    # The router and pg_metrics checks (docs/settings.md, docs/checks.md): judged from the log.
    router_window: float = Field(900, ge=60, le=86400)
    router_min_requests: int = Field(20, ge=1)
    router_5xx_warn: float = Field(0.01, gt=0, le=1)
    router_5xx_crit: float = Field(0.05, gt=0, le=1)
    router_p95_warn_ms: float = Field(2000, gt=0)
    router_baseline_p95_ms: float | None = Field(None, gt=0)
    pg_load_warn: float = Field(1.0, gt=0)
    pg_load_crit: float = Field(2.0, gt=0)
    # The alert lifecycle (docs/alerts.md); the defaults are the documented ones.
    fire_after: int = Field(2, ge=1, le=100)
    resolve_after: int = Field(2, ge=1, le=100)
    reminder_interval: float = Field(1800, gt=0)
    blind_after: int = Field(3, ge=1, le=100)
    # The longest `watcher snooze --for` (docs/settings.md): planned work, not a way to mute
    # the watch.
    snooze_max: float = Field(14400, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Set by Heroku on every dyno: lines of the watcher's own dyno are never matched.
    own_dyno: str | None = Field(None, validation_alias="DYNO")

    @field_validator(
        "heroku_api_url",
        "heroku_data_api_url",
        "healthz_url",
        "sentry_api_url",
        "slack_api_url",
        "alertmanager_url",
        "pushgateway_url",
    )
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        return None if not value else _http_url(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        return _database_url(value)

    @field_validator("state_url")
    @classmethod
    def _check_state_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url.startswith(("postgresql://", "postgres://")):
            _database_url(value)
            return value
        if not url.startswith("sqlite:///"):
            raise ValueError("must be sqlite:///PATH or a postgresql:// URL")
        if url.removeprefix("sqlite:///") in ("", ":memory:"):
            # A store that forgets would make every run a "first observation".
            raise ValueError("must name a file to keep the state in, not memory")
        return value

    @field_validator("cutover_at", mode="before")
    @classmethod
    def _cutover_at_is_iso(cls, value: Any) -> Any:
        # pydantic takes a number as epoch seconds: `-1` or `1700000000` would put T0
        # anywhere. Only ISO-8601 is a time here.
        text = value if isinstance(value, str) else None
        if (
            value is not None
            and not isinstance(value, datetime)
            and (text is None or re.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*", text))
        ):
            raise ValueError(
                "must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z, not a number"
            )
        return value

    @field_validator("cutover_at")
    @classmethod
    def _check_cutover_at(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z")
        return None if value is None else value.astimezone(UTC)

    @field_validator(
        "heroku_api_key",
        "sentry_auth_token",
        "sentry_dsn",
        "slack_bot_token",
        "metrics_token",
        "sentry_org",
        "slack_mention",
        "expected_revision",
        "alertmanager_url",
        "pushgateway_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_ratios(self) -> Settings:
        if self.pg_connection_warn_ratio > self.pg_connection_crit_ratio:
            raise ValueError(
                "WATCHER_PG_CONNECTION_WARN_RATIO: must not exceed"
                " WATCHER_PG_CONNECTION_CRIT_RATIO (the warning comes before the critical)"
            )
        return self

    def secrets(self) -> list[str]:
        """Every secret value configured, for redaction; the database password included."""
        values = [
            s.get_secret_value()
            for s in (
                self.heroku_api_key,
                self.sentry_auth_token,
                self.sentry_dsn,
                self.slack_bot_token,
                self.metrics_token,
            )
            if s is not None
        ]
        for url in (self.database_url, self.state_url):
            if url is not None:
                values.append(url.get_secret_value())
                password = urlsplit(url.get_secret_value()).password
                if password:
                    values += [password, unquote(password)]
        return [v for v in values if v]


def env_name(field_name: str) -> str:
    """The environment variable(s) a field is read from, for messages."""
    info = Settings.model_fields[field_name]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        first, *others = (str(c) for c in alias.choices)
        return f"{first} (or {', '.join(others)})"
    return f"WATCHER_{field_name.upper()}"


def _aliases(field_name: str) -> list[str]:
    return re.findall(r"[A-Z][A-Z0-9_]+", env_name(field_name))


def _field_of(name: str) -> str | None:
    """The field an error's location names: a field name or one of its variables."""
    if name in Settings.model_fields:
        return name
    return next((f for f in Settings.model_fields if name.upper() in _aliases(f)), None)


def _variable_set(field_name: str, present: set[str]) -> str:
    """The variable the bad value came from: the first of the field's that is set."""
    aliases = _aliases(field_name)
    return next((a for a in aliases if a in present), aliases[0])


# pydantic's own words for a time it cannot read ("a valid datetime or date") promise more
# than is taken: a time with its zone, nothing else.
_TIME_WANTED = "must be an ISO-8601 time with a zone, e.g. 2026-05-16T14:48:42Z"


def _describe(error: Any, present: set[str]) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if str(error.get("type", "")).startswith(("datetime_", "date_", "timezone_")):
        message = _TIME_WANTED
    loc = error.get("loc") or ()
    if not loc:
        return message
    field = _field_of(str(loc[0]))
    name = str(loc[0]) if field is None else _variable_set(field, present)
    return f"{name}: {message}"


def _present_variables(env_file: Path) -> set[str]:
    names = {k.upper() for k, v in os.environ.items() if v != ""}
    if env_file.is_file():
        names |= {k.upper() for k, v in dotenv_values(env_file).items() if v}
    return names


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise `ConfigError` naming each bad variable."""
    env_file = Path(".env")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        present = _present_variables(env_file)
        problems = [
            _describe(e, present) for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("configuration error: " + "; ".join(problems)) from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigError(
            f"configuration error: .env cannot be read ({type(exc).__name__})"
        ) from None
