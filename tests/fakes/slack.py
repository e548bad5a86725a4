"""Slack's Web API as slack_sdk's `WebClient(token=TOKEN, base_url=fake.url + "/api/")` calls it.

Methods: `chat.postMessage`, `chat.update`, `chat.getPermalink`, `auth.test` and the reading
`conversations.history`, `.replies`, `.list` (paged by `cursor`), `.info` (with `is_member`),
`users.info` and `usergroups.list`. Every answer that passed authentication carries the
token's scopes in the `x-oauth-scopes` header, as Slack's do; each reading method needs its
scope (`missing_scope` with `needed` and `provided` otherwise). slack_sdk's WebClient POSTs every method (it
ignores the documented GET of `chat.getPermalink`: Slack takes POST for every method), the chat
methods as a JSON body and the others form-encoded, the token in `Authorization: Bearer`; both
encodings are accepted here (a form's `blocks` is a JSON string, as Slack takes it).
Errors are Slack's: HTTP 200 with `{"ok": false, "error": ...}`, except rate limiting (429 with
`Retry-After`) and outages (5xx). Only a successful call records or edits a message.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http import MAX_DELAY, FakeServer, Reply, Request, json_reply

TOKEN = "xoxb-fake-1234567890-0987654321-c0ffeeFakeSlackT0ken"
CHANNEL = "#ops-alerts"
CHANNEL_ID = "C0OPSALRT"
BOT_USER = "U0WATCHER"
BOT_ID = "B0WATCHER"
# The on-call (WATCHER_SLACK_MENTION's user) and the on-call user group.
ON_CALL = "U024BE7LH"
ON_CALL_GROUP = "S0614TZR7"
# The first message's ts; each later one is 100 microseconds on, so ts is strictly increasing.
_FIRST_TS_MICROS = 1_747_405_862_000_100
# What Slack documents for `text`: longer messages are rejected or cut.
MAX_TEXT = 40_000
# The workspace's address, as `auth.test` and `chat.getPermalink` answer with it.
WORKSPACE_URL = "https://raxx.slack.com/"


@dataclass
class Call:
    """One API call, decoded from either encoding: what a `fail_when` predicate sees."""

    method: str
    args: dict[str, Any]
    request: Request


@dataclass
class Edit:
    """One successful `chat.update`; None for a field the update did not send."""

    text: str | None
    blocks: list[Any] | None


@dataclass
class Posted:
    """A message as first posted; `edits` are the later updates, oldest first."""

    channel: str
    ts: str
    text: str | None
    blocks: list[Any] | None
    thread_ts: str | None
    edits: list[Edit] = field(default_factory=list)
    # Message metadata as posted (`event_type`, `event_payload`), if any.
    metadata: dict[str, Any] | None = None

    @property
    def current_text(self) -> str | None:
        """The text the channel shows now, after the edits."""
        return next((e.text for e in reversed(self.edits) if e.text is not None), self.text)

    @property
    def current_blocks(self) -> list[Any] | None:
        """The blocks the channel shows now, after the edits."""
        found = (e.blocks for e in reversed(self.edits) if e.blocks is not None)
        return next(found, self.blocks)

    def api(self, include_metadata: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": self.ts,
            "text": self.current_text or "",
        }
        if self.current_blocks is not None:
            message["blocks"] = self.current_blocks
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.edits:
            message["edited"] = {"user": BOT_USER, "ts": self.ts}
        if include_metadata and self.metadata is not None:
            message["metadata"] = self.metadata
        return message


class FakeSlack(FakeServer):
    """The Web API; failures are answered in this order: `fail_next`, `outage`, `fail_when`."""

    def __init__(self, channels: dict[str, str] | None = None) -> None:
        # Channel names (without `#`) to ids; a name not here is `channel_not_found`, as in Slack.
        self.channels = {"ops-alerts": CHANNEL_ID} if channels is None else dict(channels)
        self.messages: list[Posted] = []
        self.failures: list[Reply] = []
        self.outage = False
        self.fail_when: Callable[[Call], Reply | None] | None = None
        # Seconds before a successful answer goes out, after the message is recorded: a client
        # that times out then does not know Slack posted it.
        self.delay = 0.0
        # The token's scopes that matter to reading history: without them, `missing_scope`.
        self.scopes = {
            "chat:write",
            "channels:history",
            "groups:history",
            "channels:read",
            "groups:read",
            "users:read",
            "usergroups:read",
        }
        # Channel ids the bot is a member of (invited to); None: every channel.
        self.member_of: set[str] | None = None
        # Users (`users.info`) and user groups (`usergroups.list`) of the workspace, by id.
        self.users: dict[str, dict[str, Any]] = {
            ON_CALL: {"name": "dana.oncall", "real_name": "Dana On-Call", "deleted": False},
            BOT_USER: {"name": "cutover-watcher", "real_name": "cutover-watcher", "is_bot": True},
        }
        self.usergroups: dict[str, dict[str, Any]] = {
            ON_CALL_GROUP: {"handle": "raxx-oncall", "name": "Raxx on-call", "user_count": 3}
        }
        # Channels per conversations.list page (Slack's own default is 100).
        self.page_size = 100
        # Told of every message recorded or edited: (the message, the edit or None for a post).
        self.listeners: list[Callable[[Posted, Edit | None], None]] = []
        self._lock = threading.Lock()
        self._next_ts = _FIRST_TS_MICROS
        super().__init__(self._answer)

    def __enter__(self) -> FakeSlack:
        super().__enter__()
        return self

    @property
    def api_url(self) -> str:
        """WebClient's `base_url`."""
        return f"{self.url}/api/"

    # -- what tests read ---------------------------------------------------------------

    def top_level(self) -> list[Posted]:
        """Messages posted to a channel, not in a thread."""
        with self._lock:
            return [m for m in self.messages if m.thread_ts is None]

    def replies(self, ts: str) -> list[Posted]:
        """Messages posted in the thread of the message `ts`."""
        with self._lock:
            return [m for m in self.messages if m.thread_ts == ts]

    def calls(self, method: str) -> list[Request]:
        """Requests received for one API method (answered successfully or not)."""
        return [r for r in self.requests if r.path == f"/api/{method}"]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll `predicate` until true; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + min(timeout, MAX_DELAY)
        while not predicate():
            if time.monotonic() > deadline:
                with self._lock:
                    texts = [m.current_text for m in self.messages]
                raise AssertionError(f"Slack fake: condition not met in {timeout} s; got {texts}")
            time.sleep(0.05)

    # -- failure injection -------------------------------------------------------------

    def fail_next(self, *replies: Reply) -> None:
        """Answer the next calls with these replies, one per call, before normal service."""
        with self._lock:
            self.failures.extend(replies)

    @staticmethod
    def error(code: str) -> Reply:
        """Slack's ordinary failure: HTTP 200, `ok: false`."""
        return json_reply({"ok": False, "error": code})

    @staticmethod
    def ratelimited(retry_after: int = 1) -> Reply:
        return json_reply(
            {"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": str(retry_after)}
        )

    @staticmethod
    def unavailable(status: int = 503) -> Reply:
        """An outage answers from the edge with an HTML page, not the API's JSON."""
        page = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
        return Reply(status, page, {"Content-Type": "text/html; charset=utf-8"})

    @staticmethod
    def reject_long_text(limit: int = MAX_TEXT) -> Callable[[Call], Reply | None]:
        """A `fail_when` that answers `msg_too_long` for text over `limit` characters."""

        def check(call: Call) -> Reply | None:
            text = call.args.get("text")
            too_long = isinstance(text, str) and len(text) > limit
            return FakeSlack.error("msg_too_long") if too_long else None

        return check

    @staticmethod
    def reject_blocks() -> Callable[[Call], Reply | None]:
        """A `fail_when` that answers `invalid_blocks` to any call carrying blocks."""

        def check(call: Call) -> Reply | None:
            return FakeSlack.error("invalid_blocks") if call.args.get("blocks") else None

        return check

    # -- the API -----------------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            if self.failures:
                return self.failures.pop(0)
        if self.outage:
            return self.unavailable()
        reads = request.path in (
            "/api/conversations.history",
            "/api/conversations.replies",
            "/api/conversations.list",
            "/api/conversations.info",
            "/api/users.info",
            "/api/usergroups.list",
        )
        if (request.method != "POST" and not reads) or not request.path.startswith("/api/"):
            return json_reply({"ok": False, "error": "unknown_method"}, 404)
        try:
            args = _decode(request)
        except ValueError:
            return self.error("invalid_json")
        call = Call(request.path.removeprefix("/api/"), args, request)
        token = _token(request, args)
        if token is None:
            return self.error("not_authed")
        if token != TOKEN:
            return self.error("invalid_auth")
        if self.fail_when is not None and (reply := self.fail_when(call)) is not None:
            return reply
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.list": self._list,
            "chat.getPermalink": self._permalink,
            "conversations.info": self._info,
            "users.info": self._user,
            "usergroups.list": self._usergroups,
        }.get(call.method)
        if handler is None:
            return self.error("unknown_method")
        reply = handler(args)
        # Slack names the token's scopes on every answer to an authenticated call.
        headers = {**reply.headers, "x-oauth-scopes": ",".join(sorted(self.scopes))}
        return Reply(reply.status, reply.body, headers, reply.delay)

    def _ok(self, body: dict[str, Any]) -> Reply:
        """A successful answer, late by `delay`."""
        return Reply(200, {"ok": True, **body}, {"Content-Type": "application/json"}, self.delay)

    def _missing(self, *needed: str) -> Reply | None:
        """Slack's `missing_scope` when the token has none of `needed`."""
        if any(scope in self.scopes for scope in needed):
            return None
        return json_reply(
            {
                "ok": False,
                "error": "missing_scope",
                "needed": ",".join(needed),
                "provided": ",".join(sorted(self.scopes)),
            }
        )

    def _is_member(self, channel_id: str) -> bool:
        return self.member_of is None or channel_id in self.member_of

    def _conversation(self, name: str, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "is_member": self._is_member(channel_id),
        }

    def _info(self, args: dict[str, Any]) -> Reply:
        """conversations.info: the channel by id; a public channel is found member or not."""
        if (missing := self._missing("channels:read", "groups:read")) is not None:
            return missing
        for name, channel_id in self.channels.items():
            if channel_id == args.get("channel"):
                return self._ok({"channel": self._conversation(name, channel_id)})
        return self.error("channel_not_found")

    def _user(self, args: dict[str, Any]) -> Reply:
        if (missing := self._missing("users:read")) is not None:
            return missing
        user_id = args.get("user")
        user = self.users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            return self.error("user_not_found")
        return self._ok(
            {
                "user": {
                    "id": user_id,
                    "team_id": "T0RAXX",
                    "deleted": False,
                    "is_bot": False,
                    **user,
                    "profile": {"real_name": user.get("real_name", "")},
                }
            }
        )

    def _usergroups(self, args: dict[str, Any]) -> Reply:
        if (missing := self._missing("usergroups:read")) is not None:
            return missing
        groups = [
            {"id": group_id, "team_id": "T0RAXX", "date_delete": 0, **group}
            for group_id, group in self.usergroups.items()
        ]
        return self._ok({"usergroups": groups})

    def _auth_test(self, args: dict[str, Any]) -> Reply:
        return self._ok(
            {
                "url": WORKSPACE_URL,
                "team": "raxx",
                "user": "cutover-watcher",
                "team_id": "T0RAXX",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        )

    def _post(self, args: dict[str, Any]) -> Reply:
        channel = self._channel_id(args.get("channel"))
        if channel is None:
            return self.error("channel_not_found")
        blocks = args.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            return self.error("invalid_blocks_format")
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            return self.error("no_text")
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        with self._lock:
            ts = f"{self._next_ts // 1_000_000}.{self._next_ts % 1_000_000:06d}"
            self._next_ts += 100
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                with contextlib.suppress(json.JSONDecodeError):
                    metadata = json.loads(metadata)
            message = Posted(
                channel,
                ts,
                text,
                blocks,
                thread_ts,
                metadata=metadata if isinstance(metadata, dict) else None,
            )
            self.messages.append(message)
        for listener in self.listeners:
            listener(message, None)
        return self._ok({"channel": channel, "ts": ts, "message": message.api()})

    def _update(self, args: dict[str, Any]) -> Reply:
        channel = args.get("channel")
        # chat.update takes the channel id from the post's answer; a name is not found.
        if channel not in self.channels.values():
            return self.error("channel_not_found")
        blocks = args.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            return self.error("invalid_blocks_format")
        with self._lock:
            found = [m for m in self.messages if m.channel == channel and m.ts == args.get("ts")]
            if not found:
                return self.error("message_not_found")
            message = found[0]
            edit = Edit(args.get("text"), blocks)
            message.edits.append(edit)
        for listener in self.listeners:
            listener(message, edit)
        return self._ok(
            {
                "channel": channel,
                "ts": message.ts,
                "text": message.current_text or "",
                "message": message.api(),
            }
        )

    def _read(self, args: dict[str, Any], thread: str | None) -> Reply:
        """conversations.history (thread None) or .replies: newest first, after `oldest`."""
        if "channels:history" not in self.scopes:
            return json_reply({"ok": False, "error": "missing_scope", "needed": "channels:history"})
        channel = args.get("channel")
        # Like chat.update, the reading methods take the channel's id, not its name.
        if channel not in self.channels.values():
            return self.error("channel_not_found")
        oldest = float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._lock:
            found = [
                m
                for m in self.messages
                if m.channel == channel
                and float(m.ts) > oldest
                and (m.thread_ts is None if thread is None else thread in (m.ts, m.thread_ts))
            ]
        found.sort(key=lambda m: float(m.ts), reverse=thread is None)
        limit = int(args.get("limit") or 100)
        return self._ok(
            {
                "messages": [m.api(with_metadata) for m in found[:limit]],
                "has_more": len(found) > limit,
            }
        )

    def _list(self, args: dict[str, Any]) -> Reply:
        """conversations.list, `page_size` (or `limit`, if fewer) channels a page by `cursor`."""
        if "channels:read" not in self.scopes:
            return json_reply({"ok": False, "error": "missing_scope", "needed": "channels:read"})
        everything = [self._conversation(name, cid) for name, cid in self.channels.items()]
        cursor = str(args.get("cursor") or "")
        start = int(cursor.removeprefix("dGVhbTpD")) if cursor.startswith("dGVhbTpD") else 0
        size = min(self.page_size, int(args.get("limit") or 100))
        page = everything[start : start + size]
        following = f"dGVhbTpD{start + size}" if start + size < len(everything) else ""
        return self._ok({"channels": page, "response_metadata": {"next_cursor": following}})

    def _history(self, args: dict[str, Any]) -> Reply:
        return self._read(args, None)

    def _replies(self, args: dict[str, Any]) -> Reply:
        ts = args.get("ts")
        if not isinstance(ts, str):
            return self.error("thread_not_found")
        return self._read(args, ts)

    def _permalink(self, args: dict[str, Any]) -> Reply:
        """Slack's answer shape (docs.slack.dev, chat.getPermalink): the link to one message,
        with `thread_ts` and `cid` for a reply in a thread."""
        channel = args.get("channel")
        if channel not in self.channels.values():
            return self.error("channel_not_found")
        with self._lock:
            found = [
                m for m in self.messages if m.channel == channel and m.ts == args.get("message_ts")
            ]
        if not found:
            return self.error("message_not_found")
        message = found[0]
        link = f"{WORKSPACE_URL}archives/{channel}/p{message.ts.replace('.', '')}"
        if message.thread_ts is not None:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return self._ok({"channel": channel, "permalink": link})

    def _channel_id(self, channel: object) -> str | None:
        if not isinstance(channel, str):
            return None
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.removeprefix("#"))


def _decode(request: Request) -> dict[str, Any]:
    """The call's arguments from a JSON or form body; raises ValueError on a bad body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        args = json.loads(request.body or b"{}")
        if not isinstance(args, dict):
            raise ValueError("not an object")
    else:
        form = parse_qs(request.body.decode(), keep_blank_values=True)
        args = {name: values[-1] for name, values in form.items()}
        args.update({name: values[-1] for name, values in request.query.items()})
    if isinstance(args.get("blocks"), str):
        # Slack takes blocks as a JSON string too; one that does not parse stays a string.
        with contextlib.suppress(json.JSONDecodeError):
            args["blocks"] = json.loads(args["blocks"])
    return args


def _token(request: Request, args: dict[str, Any]) -> str | None:
    """The bearer token, or (older clients) a `token` argument."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value
    token = args.get("token")
    return token if isinstance(token, str) else None
