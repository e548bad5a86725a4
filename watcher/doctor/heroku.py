"""heroku.token, heroku.app, heroku.database, heroku.logs, data_api: Platform and Data API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from checks.logparse.log_stream import stream_lines
from checks.sources.heroku_api import ACCEPT, ACCEPT_SDK, FIR, Attachment, HerokuApi, HerokuConfig
from checks.sources.http_api import Api, ApiError, json_body
from watcher.doctor.rows import Context, Row, fail, not_checked, ok, skip

NAMES = ("heroku.token", "heroku.app", "heroku.database", "heroku.logs", "data_api")
KEY_FIX = (
    "set HEROKU_API_KEY to a valid token of an account with access to the app"
    " (heroku authorizations:create -d cutover-watcher)"
)
# Seconds a log session is read for a first line (a quiet Fir app tails and may send none).
LOG_READ_SECONDS = 5.0


def rows(ctx: Context) -> list[Row]:
    settings = ctx.settings
    if settings.heroku_api_key is None:
        return [skip(name, "HEROKU_API_KEY") for name in NAMES]
    token = settings.heroku_api_key.get_secret_value()
    config = HerokuConfig(
        settings.heroku_api_url, settings.heroku_data_api_url, token, settings.app
    )
    api = Api("Heroku Platform API", ctx.http, ctx.clock, {"Authorization": f"Bearer {token}"})
    heroku = HerokuApi(ctx.http, config, ctx.clock)
    first = _token(ctx, api)
    if first.result != "OK":
        return [first, *(not_checked(name, "heroku.token") for name in NAMES[1:])]
    app_row, generation = _app(ctx, api)
    if app_row.result != "OK":
        return [first, app_row, *(not_checked(name, "heroku.app") for name in NAMES[2:])]
    database_row, attachment = _database(ctx, heroku)
    logs_row = _logs(ctx, heroku, generation)
    if attachment is None:
        data_row = not_checked("data_api", "heroku.database")
    else:
        data_row = _data_api(ctx, heroku, attachment)
    return [first, app_row, database_row, logs_row, data_row]


def _token(ctx: Context, api: Api) -> Row:
    url = ctx.settings.heroku_api_url.rstrip("/") + "/account"
    try:
        body = json_body(
            api.request("GET", url, ctx.deadline(), headers={"Accept": ACCEPT}), api.name
        )
    except ApiError as exc:
        if exc.status == 401:
            return fail("heroku.token", "Heroku rejected HEROKU_API_KEY (401)", KEY_FIX)
        return fail("heroku.token", f"GET /account: {exc}", _reach_fix("WATCHER_HEROKU_API_URL"))
    email = body.get("email") if isinstance(body, dict) else None
    return ok("heroku.token", f"GET /account: the token is {email or 'an account'}'s")


def _app(ctx: Context, api: Api) -> tuple[Row, str | None]:
    app = ctx.settings.app
    url = f"{ctx.settings.heroku_api_url.rstrip('/')}/apps/{quote(app, safe='')}"
    try:
        response = api.request("GET", url, ctx.deadline(), headers={"Accept": ACCEPT_SDK})
        body = json_body(response, api.name)
    except ApiError as exc:
        if exc.status == 404:
            return fail(
                "heroku.app",
                f"app {app!r} not found (404)",
                "check WATCHER_APP (heroku apps shows the token's apps)",
            ), None
        if exc.status == 403:
            return fail(
                "heroku.app",
                f"the token may not read app {app!r} (403)",
                f"add the token's account to {app!r} (heroku access:add), or check WATCHER_APP",
            ), None
        return fail(
            "heroku.app", f"GET /apps/{app}: {exc}", _reach_fix("WATCHER_HEROKU_API_URL")
        ), None
    body = body if isinstance(body, dict) else {}
    generation = _generation(body)
    maintenance = "on" if body.get("maintenance") else "off"
    return ok(
        "heroku.app",
        f"{body.get('name', app)}: generation {generation or 'cedar (not said)'},"
        f" maintenance {maintenance}",
    ), generation


def _generation(body: dict[str, Any]) -> str | None:
    generation = body.get("generation")
    if isinstance(generation, dict):
        generation = generation.get("name")
    return generation.lower() if isinstance(generation, str) else None


def _database(ctx: Context, heroku: HerokuApi) -> tuple[Row, Attachment | None]:
    try:
        attachment = heroku.postgres_attachment(ctx.deadline())
    except ApiError as exc:
        return fail(
            "heroku.database",
            str(exc),
            "attach the heroku-postgresql add-on as DATABASE (heroku addons:attach"
            " <addon> --as DATABASE), or check WATCHER_APP",
        ), None
    return ok(
        "heroku.database",
        f"DATABASE is {attachment.addon_name} ({attachment.plan_name})",
    ), attachment


def _logs(ctx: Context, heroku: HerokuApi, generation: str | None) -> Row:
    fir = generation == FIR
    try:
        # Fir sessions always tail and keep no history; Cedar's is asked for one line.
        url = heroku.create_log_session(ctx.deadline(), None if fir else 1, fir)
    except ApiError as exc:
        return fail(
            "heroku.logs",
            f"no log session: {exc}",
            "the token needs read access to the app's logs (the operate permission on a team app)",
        )
    try:
        status, read = _read_session(ctx.http, url, LOG_READ_SECONDS if fir else ctx.timeout)
    except httpx.HTTPError as exc:
        # The session URL carries its own token: only the kind of failure is said.
        return fail(
            "heroku.logs",
            f"a log session was opened but could not be read ({type(exc).__name__})",
            "check that this machine reaches Logplex (logs.heroku.com, port 443)",
        )
    if status != 200:
        return fail(
            "heroku.logs",
            f"a log session was opened but Logplex answered HTTP {status}",
            "try again in a minute; if it stays, see status.heroku.com",
        )
    if fir:
        return ok(
            "heroku.logs",
            f"a Fir log session opened and tailing ({read} line(s) in {LOG_READ_SECONDS:g} s)",
        )
    return ok("heroku.logs", f"a log session opened and read ({read} line(s) of history)")


def _read_session(http: httpx.Client, url: str, seconds: float) -> tuple[int, int]:
    """Logplex's status for a session, and the lines read from it (at most one)."""
    with http.stream(
        "GET", url, headers={"Accept": "text/event-stream"}, timeout=httpx.Timeout(seconds)
    ) as response:
        if response.status_code != 200:
            return response.status_code, 0
        lines = 0
        try:
            for _ in stream_lines(response):
                lines += 1
                break
        except httpx.ReadTimeout:
            pass  # a quiet tail: the session was opened and read, nothing was said
        return 200, lines


def _data_api(ctx: Context, heroku: HerokuApi, attachment: Attachment) -> Row:
    try:
        answer = heroku.database_info(attachment.addon_id, ctx.deadline())
    except ApiError as exc:
        return fail(
            "data_api",
            str(exc),
            _reach_fix("WATCHER_HEROKU_DATA_API_URL")
            if exc.status is None
            else "the token must be able to run heroku pg:info on the app",
        )
    info = {
        str(entry.get("name")): ", ".join(str(v) for v in entry.get("values") or [])
        for entry in answer.get("info") or []
        if isinstance(entry, dict)
    }
    status = info.get("Status", "")
    shown = (
        f"Status {status or '(none)'}, Connections {info.get('Connections', '?')},"
        f" Plan {info.get('Plan', '?')}"
    )
    if status != "Available":
        return fail(
            "data_api",
            f"pg:info answers: {shown}",
            f"heroku pg:info -a {ctx.settings.app}: the database must be Available before T0",
        )
    return ok("data_api", f"pg:info answers: {shown}")


def _reach_fix(setting: str) -> str:
    return f"check {setting} and that this machine reaches it (proxy, firewall)"
