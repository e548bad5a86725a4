"""Heroku's Platform API and Data API as the watcher uses them: pg:info and log sessions.

Errors become one-line reasons that name the setting to fix. Nothing from an answer's body is
ever quoted in them: the Data API's answer carries the database's credentials, and a log
session's `logplex_url` carries its own token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from checks.sources.clock import Clock
from checks.sources.http_api import Api, ApiError, json_body, retry_after_header

PLATFORM = "Heroku Platform API"
DATA = "Heroku Data API"
ACCEPT = "application/vnd.heroku+json; version=3"
# Attachments with inclusions and log sessions are only served to the newer variant.
ACCEPT_SDK = "application/vnd.heroku+json; version=3.sdk"
POSTGRES_PLAN_PREFIX = "heroku-postgresql:"
PRIMARY_ATTACHMENT = "DATABASE"
CEDAR, FIR = "cedar", "fir"


@dataclass(frozen=True)
class HerokuConfig:
    """Where the APIs are, the token for both, and the app watched."""

    api_url: str
    data_api_url: str
    token: str
    app: str


@dataclass(frozen=True)
class Attachment:
    """The Heroku Postgres add-on attached to the app as DATABASE."""

    addon_id: str
    addon_name: str
    plan_name: str


class HerokuApi:
    """The app's add-ons and database info, and log sessions.

    `rate_limit_remaining` is the latest `RateLimit-Remaining` the Platform API sent, error
    answers included (None until one arrives).
    """

    def __init__(self, http: httpx.Client, config: HerokuConfig, clock: Clock) -> None:
        self.config = config
        self.rate_limit_remaining: int | None = None
        auth = {"Authorization": f"Bearer {config.token}", "Accept": ACCEPT}
        self._platform = Api(
            PLATFORM, http, clock, auth, retry_after_header, on_response=self._note_rate_limit
        )
        # The Data API takes the same token and the same headers (as the Heroku CLI sends).
        self._data = Api(DATA, http, clock, auth)

    @property
    def sent(self) -> int:
        """HTTP requests made to both APIs, retries included."""
        return self._platform.sent + self._data.sent

    def postgres_attachment(self, deadline: float) -> Attachment:
        """The heroku-postgresql add-on attached as DATABASE (the app's DATABASE_URL)."""
        response = self._platform_request(
            "GET",
            f"/apps/{self._app_path}/addon-attachments",
            deadline,
            "attachments",
            headers={"Accept": ACCEPT_SDK, "Accept-Inclusion": "addon:plan,config_vars"},
        )
        body = json_body(response, PLATFORM)
        if not isinstance(body, list):
            raise ApiError(f"{PLATFORM}: the addon-attachments answer is not a list")
        postgres = [a for a in body if _plan_name(a).startswith(POSTGRES_PLAN_PREFIX)]
        app = self.config.app
        if not postgres:
            raise ApiError(
                f"{PLATFORM}: app {app!r} has no heroku-postgresql add-on attached:"
                " check WATCHER_APP"
            )
        primary = [a for a in postgres if _is_primary(a)]
        if not primary:
            names = ", ".join(sorted({str(a.get("name")) for a in postgres}))
            raise ApiError(
                f"{PLATFORM}: no heroku-postgresql add-on is attached to app {app!r} as"
                f" {PRIMARY_ATTACHMENT} (attached as: {_cut(names)})"
            )
        addon = primary[0]["addon"]
        addon_id, addon_name = addon.get("id"), addon.get("name")
        if not isinstance(addon_id, str) or not addon_id or not isinstance(addon_name, str):
            raise ApiError(f"{PLATFORM}: the {PRIMARY_ATTACHMENT} attachment has no add-on id")
        return Attachment(addon_id, addon_name, _plan_name(primary[0]))

    def database_info(self, addon_id: str, deadline: float) -> dict[str, Any]:
        """The Data API's answer for the database (what `heroku pg:info` shows)."""
        url = f"{self.config.data_api_url.rstrip('/')}/client/v11/databases/{quote(addon_id)}"
        try:
            response = self._data.request("GET", url, deadline)
        except ApiError as exc:
            raise ApiError(self._explain(exc, DATA, f"database {addon_id}"), exc.status) from None
        body = json_body(response, DATA)
        if not isinstance(body, dict):
            raise ApiError(f"{DATA}: the database answer is not a JSON object")
        return body

    def app_generation(self, deadline: float) -> str | None:
        """`cedar` or `fir` from `GET /apps/{app}`, as the Heroku CLI decides it; None if unsaid.

        The CLI reads `generation` as a string or as an object with a `name`
        (heroku/cli, src/lib/apps/generation.ts); an app without one is treated as Cedar.
        """
        response = self._platform_request(
            "GET", f"/apps/{self._app_path}", deadline, "app", headers={"Accept": ACCEPT_SDK}
        )
        body = json_body(response, PLATFORM)
        generation = body.get("generation") if isinstance(body, dict) else None
        if isinstance(generation, dict):
            generation = generation.get("name")
        if isinstance(generation, str) and generation.lower() in (CEDAR, FIR):
            return generation.lower()
        return None

    def create_log_session(self, deadline: float, lines: int | None, tail: bool) -> str:
        """A new log session's `logplex_url` (it carries its own token: never show it)."""
        body: dict[str, Any] = {"tail": tail}
        if lines is not None:
            body["lines"] = lines
        response = self._platform_request(
            "POST",
            f"/apps/{self._app_path}/log-sessions",
            deadline,
            "log session",
            body=body,
            headers={"Accept": ACCEPT_SDK},
        )
        answer = json_body(response, PLATFORM)
        url = answer.get("logplex_url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ApiError(f"{PLATFORM}: the log session answer has no logplex_url")
        return url

    @property
    def _app_path(self) -> str:
        return quote(self.config.app, safe="")

    def _platform_request(
        self,
        method: str,
        path: str,
        deadline: float,
        what: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self.config.api_url.rstrip("/") + path
        try:
            response = self._platform.request(method, url, deadline, body=body, headers=headers)
        except ApiError as exc:
            raise ApiError(self._explain(exc, PLATFORM, what), exc.status) from None
        return response

    def _note_rate_limit(self, response: httpx.Response) -> None:
        value = response.headers.get("ratelimit-remaining", "").strip()
        if value.isdigit():
            self.rate_limit_remaining = int(value)

    def _explain(self, exc: ApiError, api: str, what: str) -> str:
        app = self.config.app
        if exc.status == 401:
            return (
                f"Heroku rejected HEROKU_API_KEY (401): the {api} says it is invalid or"
                " expired; set a valid token (heroku authorizations:create)"
            )
        if exc.status == 403:
            return (
                f"Heroku refused HEROKU_API_KEY (403) for the {what}: the token may not"
                f" access app {app!r}; give its account access, or check WATCHER_APP"
            )
        if exc.status == 404 and api == DATA:
            return f"{DATA}: {what} not found (404): not provisioned yet, or replaced"
        if exc.status == 404:
            return f"Heroku app {app!r} not found (404): check WATCHER_APP"
        return str(exc)


def _plan_name(attachment: object) -> str:
    """`addon.plan.name` of an attachment, or "" where the answer lacks it."""
    if not isinstance(attachment, dict):
        return ""
    addon = attachment.get("addon")
    plan = addon.get("plan") if isinstance(addon, dict) else None
    name = plan.get("name") if isinstance(plan, dict) else None
    return name if isinstance(name, str) else ""


def _is_primary(attachment: dict[str, Any]) -> bool:
    # The name is the attachment's; config_vars confirms it where the name was customised.
    config_vars = attachment.get("config_vars")
    return attachment.get("name") == PRIMARY_ATTACHMENT or (
        isinstance(config_vars, list) and f"{PRIMARY_ATTACHMENT}_URL" in config_vars
    )


def _cut(text: str, limit: int = 80) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")
