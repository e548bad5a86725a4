"""The few settings `watcher scan` needs, read without the full settings model.

`watcher scan` is timed against grep: building the pydantic model costs it a quarter of its
run. It needs only the app role, the watcher's own dyno and the secrets to mask, read as the
model reads them (the environment over `.env`, a blank value is unset); a test keeps the
secret list equal to the model's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

SECRET_VARIABLES = (
    "HEROKU_API_KEY",
    "SENTRY_AUTH_TOKEN",
    "SENTRY_DSN",
    "SLACK_BOT_TOKEN",
    "WATCHER_METRICS_TOKEN",
)
# URLs whose password is a secret too (the whole URL is masked, and the password alone).
SECRET_URL_VARIABLES = ("WATCHER_DATABASE_URL", "DATABASE_URL", "WATCHER_STATE_URL")
DEFAULT_APP_ROLE = "raptor_app"


def variables(env_file: Path = Path(".env")) -> dict[str, str]:
    """Variable -> value: `.env` first, the environment over it; blank values left out."""
    values: dict[str, str] = {}
    if env_file.is_file():
        values |= {k.upper(): v for k, v in dotenv_values(env_file).items() if v}
    values |= {k.upper(): v for k, v in os.environ.items() if v}
    return values


def secret_values(values: Mapping[str, str]) -> list[str]:
    """Every secret among `values`, as `Settings.secrets()` lists them."""
    found = [values[name] for name in SECRET_VARIABLES if values.get(name)]
    for name in SECRET_URL_VARIABLES:
        url = values.get(name)
        if not url:
            continue
        found.append(url)
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    return found
