"""slack.token, slack.channel, slack.mention, slack.scopes: Slack's Web API, read only.

`auth.test` (the token, and its scopes in the `x-oauth-scopes` answer header),
`conversations.list` (a `#name`, page by page) and `conversations.info` (`is_member`),
`users.info` (`<@U...>`) and `usergroups.list` (`<!subteam^S...>`). Nothing is posted.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watcher.doctor.rows import Context, Row, fail, not_checked, ok, skip
from watcher.notify.slack import fix_for

NAMES = ("slack.token", "slack.channel", "slack.mention", "slack.scopes")
REQUIRED_SCOPE = "chat:write"
# What the other scopes give (none is needed to post).
USEFUL_SCOPES = {
    "channels:read": "this check of the channel",
    "channels:history": "looking for a post whose send timed out before posting it again",
    "users:read": "this check of the mention",
}
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>")
# conversations.list pages read at most (1,000 channels a page).
_MAX_PAGES = 50
MEMBER_ID_HOW = "in Slack: the on-call's profile, ⋮ (more), Copy member ID"


class SlackCallError(Exception):
    """A call that did not answer ok: Slack's error code (or the transport's failure)."""

    def __init__(self, code: str, needed: str = "") -> None:
        super().__init__(code)
        self.code, self.needed = code, needed


@dataclass(frozen=True)
class Bot:
    """What auth.test said: who the bot is, and its token's scopes (None: not said)."""

    user: str
    user_id: str
    team: str
    scopes: frozenset[str] | None


def rows(ctx: Context) -> list[Row]:
    settings = ctx.settings
    if settings.slack_bot_token is None:
        return [skip(name, "SLACK_BOT_TOKEN") for name in NAMES]
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base,
        timeout=max(1, round(ctx.timeout)),
        retry_handlers=[],
    )
    try:
        bot = _auth_test(client)
    except SlackCallError as exc:
        first = fail("slack.token", f"auth.test: {exc.code}", _token_fix(exc.code))
        return [first, *(not_checked(name, "slack.token") for name in NAMES[1:])]
    token_row = ok("slack.token", f"auth.test: bot @{bot.user} ({bot.user_id}) in {bot.team}")
    return [
        token_row,
        _channel(client, settings.slack_channel, bot),
        _mention(client, settings.slack_mention),
        _scopes(bot),
    ]


def _call(send: Callable[[], Any]) -> Any:
    try:
        return send()
    except SlackApiError as exc:
        data = getattr(exc.response, "data", None)
        status = int(getattr(exc.response, "status_code", 0) or 0)
        data = data if isinstance(data, dict) else {}
        error = data.get("error")
        # Slack's codes are snake_case words; anything else is slack-sdk's words for a body
        # that is not Slack's (a proxy's page, an outage's HTML).
        if status < 500 and isinstance(error, str) and _ERROR_CODE.fullmatch(error):
            raise SlackCallError(error, str(data.get("needed") or "")) from None
        raise SlackCallError(f"HTTP {status}" if status else "bad_response") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # Refused, timed out, cut mid-answer, or not Slack's JSON at all.
        raise SlackCallError(f"unreachable ({type(exc).__name__})") from None


def _auth_test(client: WebClient) -> Bot:
    response = _call(client.auth_test)
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    said = headers.get("x-oauth-scopes")
    if isinstance(said, list):
        said = ",".join(said)
    scopes = (
        None if said is None else frozenset(s.strip() for s in str(said).split(",") if s.strip())
    )
    return Bot(
        str(response.get("user") or "?"),
        str(response.get("user_id") or "?"),
        str(response.get("team") or "?"),
        scopes,
    )


def _token_fix(code: str) -> str:
    if code.startswith(("unreachable", "HTTP")) or code == "bad_response":
        return (
            "check WATCHER_SLACK_API_URL and that this machine reaches slack.com (proxy, firewall)"
        )
    return fix_for(code)


def _channel(client: WebClient, setting: str, bot: Bot) -> Row:
    name = "slack.channel"
    invite = f"invite the bot: /invite @{bot.user} in {setting}"
    try:
        channel_id = setting if _CHANNEL_ID.fullmatch(setting) else _find(client, setting)
        if channel_id is None:
            return fail(
                name,
                f"no channel {setting} among the channels the bot can list",
                f"check WATCHER_SLACK_CHANNEL; a private channel is listed only once the bot is"
                f" in it ({invite})",
            )
        info = _call(lambda: client.conversations_info(channel=channel_id))["channel"]
    except SlackCallError as exc:
        if exc.code == "missing_scope":
            return fail(
                name,
                f"the token may not read channels (missing_scope: {exc.needed or 'channels:read'})",
                "add channels:read (groups:read for a private channel) under OAuth & Permissions"
                " and reinstall the app",
            )
        if exc.code == "channel_not_found":
            return fail(
                name, f"{setting}: channel_not_found", f"check WATCHER_SLACK_CHANNEL; {invite}"
            )
        return fail(name, f"{setting}: {exc.code}", _token_fix(exc.code))
    shown = f"#{info.get('name', '?')} ({info.get('id', channel_id)})"
    if info.get("is_archived"):
        return fail(
            name,
            f"{shown} is archived",
            "unarchive it or point WATCHER_SLACK_CHANNEL at a live channel",
        )
    if not info.get("is_member"):
        return fail(name, f"{shown} exists, but the bot is not a member", invite)
    return ok(name, f"{shown}: the bot is a member")


def _find(client: WebClient, setting: str) -> str | None:
    """A `#name`'s id through conversations.list, page by page."""
    wanted, cursor = setting.removeprefix("#"), None
    for _ in range(_MAX_PAGES):

        def page_of(cursor: str | None = cursor) -> Any:
            return client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )

        page = _call(page_of)
        for channel in page.get("channels") or []:
            if isinstance(channel, dict) and channel.get("name") == wanted:
                return str(channel.get("id"))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def _mention(client: WebClient, mention: str | None) -> Row:
    name = "slack.mention"
    if not mention:
        return skip(name, "WATCHER_SLACK_MENTION", "no mention: a CRITICAL escalation pings no one")
    fix_user = f"set WATCHER_SLACK_MENTION to <@MEMBER_ID> of the on-call ({MEMBER_ID_HOW})"
    if mention in ("<!here>", "<!channel>"):
        return ok(name, f"{mention} pings everyone in the channel (not one on-call)")
    user, group = _USER.fullmatch(mention), _GROUP.fullmatch(mention)
    try:
        if user:
            answer = _call(lambda: client.users_info(user=user.group(1)))["user"]
            if answer.get("deleted"):
                return fail(name, f"{mention} is a deactivated account", fix_user)
            if answer.get("is_bot"):
                return fail(name, f"{mention} is a bot, not the on-call", fix_user)
            who = answer.get("real_name") or (answer.get("profile") or {}).get("real_name") or ""
            return ok(name, f"{mention} is {who or '?'} (@{answer.get('name', '?')})")
        if group:
            groups = _call(lambda: client.usergroups_list())["usergroups"]
            found = [g for g in groups if isinstance(g, dict) and g.get("id") == group.group(1)]
            if not found or found[0].get("date_delete"):
                return fail(
                    name,
                    f"{mention}: no such user group (or it was disabled)",
                    "set WATCHER_SLACK_MENTION to <!subteam^ID> of a live user group",
                )
            g = found[0]
            return ok(
                name, f"{mention} is @{g.get('handle', '?')} ({g.get('user_count', '?')} people)"
            )
    except SlackCallError as exc:
        if exc.code == "user_not_found":
            return fail(name, f"{mention}: user_not_found in this workspace", fix_user)
        if exc.code == "missing_scope":
            scope = "users:read" if user else "usergroups:read"
            return fail(
                name,
                f"the token may not look the mention up (missing_scope: {exc.needed or scope})",
                f"add {scope} under OAuth & Permissions and reinstall the app",
            )
        return fail(name, f"{mention}: {exc.code}", _token_fix(exc.code))
    return fail(
        name,
        f"{mention!r} is not a Slack mention: a plain @name pings no one",
        f"write it as <@MEMBER_ID> ({MEMBER_ID_HOW}) or <!subteam^GROUP_ID>",
    )


def _scopes(bot: Bot) -> Row:
    name = "slack.scopes"
    if bot.scopes is None:
        return fail(
            name,
            "Slack's answer did not name the token's scopes (no x-oauth-scopes header)",
            "use a bot token (xoxb-...) and check WATCHER_SLACK_API_URL is Slack's",
        )
    shown = ", ".join(sorted(bot.scopes)) or "none"
    if REQUIRED_SCOPE not in bot.scopes:
        return fail(
            name,
            f"the token lacks {REQUIRED_SCOPE} (it has: {shown})",
            f"add {REQUIRED_SCOPE} under OAuth & Permissions, reinstall the app, and set the new"
            " SLACK_BOT_TOKEN",
        )
    without = [f"{s} ({why})" for s, why in USEFUL_SCOPES.items() if s not in bot.scopes]
    note = f"; without {', '.join(without)}" if without else ""
    return ok(name, f"{REQUIRED_SCOPE} granted (scopes: {shown}){note}")
