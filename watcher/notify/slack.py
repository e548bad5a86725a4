"""Slack's Web API through slack-sdk: post, reply in a thread, edit; every failure classified."""

from __future__ import annotations

import http.client
import logging
import re
import socket
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watcher.notify.slack_messages import Composer, plain
from watcher.notify.transport import (
    SKIPPED,
    Channel,
    ChannelContext,
    Landed,
    Transport,
    TransportError,
    status_error,
)
from watcher.store.outbox import SENT, OutboxItem
from watcher.store.state import StateStore

log = logging.getLogger(__name__)

# Answers that will not change until someone fixes a setting (reference: sentry-slack.md).
FIXES = {
    "invalid_auth": "set SLACK_BOT_TOKEN to a valid bot token (xoxb-...) with chat:write",
    "not_authed": "set SLACK_BOT_TOKEN to a valid bot token (xoxb-...) with chat:write",
    "account_inactive": "the bot's account is deactivated: reinstall the app, set SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked: reinstall the app and set SLACK_BOT_TOKEN",
    "missing_scope": "give the Slack app the chat:write scope and reinstall it",
    "channel_not_found": "check WATCHER_SLACK_CHANNEL names a channel that exists",
    "not_in_channel": "invite the bot to WATCHER_SLACK_CHANNEL (or grant chat:write.public)",
    "is_archived": "unarchive WATCHER_SLACK_CHANNEL or point it at a live channel",
    "not_configured": "set SLACK_BOT_TOKEN so escalations reach WATCHER_SLACK_CHANNEL",
}
# Each message is tagged with Slack message metadata (event_type + event_payload), so a post
# whose outcome is not known can be looked for (conversations.history) before posting again.
EVENT_TYPE = "cutover_watcher_message"
# Looking needs channels:history (public channel) or groups:history (private channel), and,
# unless WATCHER_SLACK_CHANNEL is the channel's id (C0123...), channels:read / groups:read to
# find that id before the first message gets through.
LOOKUP_SCOPES = (
    "channels:history and channels:read (public channel) or groups:history and groups:read"
    " (private channel)"
)
# Pages of conversations.list read at most, to find the channel's id by its name.
_LIST_PAGES = 5
# Slack answers that say the look-up itself cannot be done with this token or channel.
_LOOKUP_UNAVAILABLE = frozenset(
    {"missing_scope", "not_allowed_token_type", "channel_not_found", "not_in_channel"}
)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
# Slack's own transient errors, answered with HTTP 200 and ok=false.
_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Slack's error codes are snake_case words.
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*")
# The message itself is wrong: send it again as plain text.
REFUSED_MESSAGE = frozenset({"msg_too_long", "invalid_blocks", "invalid_blocks_format"})


# The outbox's error; the name this module has always used.
DeliveryError = TransportError


class LookupUnavailable(Exception):
    """The channel cannot be searched for a message (a scope, or its id, is missing)."""


@dataclass(frozen=True)
class Tag:
    """What marks one outbox message in Slack: its id, and the store it belongs to."""

    outbox_id: int
    store: str

    def metadata(self) -> dict[str, Any]:
        return {
            "event_type": EVENT_TYPE,
            "event_payload": {"outbox_id": self.outbox_id, "store": self.store},
        }

    def marks(self, message: Any) -> bool:
        meta = message.get("metadata") if isinstance(message, dict) else None
        if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
            return False
        payload = meta.get("event_payload")
        return (
            isinstance(payload, dict)
            and str(payload.get("outbox_id")) == str(self.outbox_id)
            and payload.get("store") == self.store
        )


def fix_for(reason: str) -> str:
    """What the operator should do about a permanent failure."""
    return FIXES.get(reason, f"see Slack's documentation of the error {reason!r}")


class SlackTransport(Transport):
    """One bot token and channel; retrying is the outbox's job, so the SDK never retries.

    Speaks through slack-sdk (its HTTP statuses classified as `HttpTransport`'s are). A post
    gives the thread later replies go to and the message later updates edit.
    """

    name = "slack"
    fixable = frozenset(FIXES)
    shows_incidents = True

    def __init__(
        self, token: str | None, base_url: str, channel: str, timeout: float, composer: Composer
    ) -> None:
        self.channel = channel
        self._composer = composer
        self._kept_store_id: str | None = None
        self._lookup_warned = False
        self._client = (
            None
            if token is None
            else WebClient(
                token=token,
                base_url=base_url if base_url.endswith("/") else base_url + "/",
                timeout=max(1, round(timeout)),
                retry_handlers=[],
            )
        )

    def fix_for(self, reason: str) -> str:
        return fix_for(reason)

    def render(self, item: OutboxItem) -> dict[str, Any]:
        """The message for a queued notice, rendered now (a message queued before notices
        existed kept its Slack payload)."""
        notice = item.notice
        return item.payload if notice is None else self._composer.render(notice)

    def send(self, item: OutboxItem, parent: OutboxItem | None, store: StateStore) -> Landed:
        """Post, reply in the thread, or edit; a message Slack refuses goes again as plain text."""
        if self._client is None:
            raise TransportError("not_configured", permanent=True)
        payload = self.render(item)
        try:
            return self._send(item, parent, payload, store)
        except TransportError as exc:
            if exc.reason not in REFUSED_MESSAGE:
                raise
        try:
            return self._send(item, parent, plain(payload), store)
        except TransportError as again:
            if again.reason in REFUSED_MESSAGE:
                # Refused even as short plain text: sending it again cannot help.
                raise TransportError(again.reason, permanent=True) from None
            raise

    def after_sent(self, item: OutboxItem, landed: Landed, store: StateStore) -> None:
        """Keep Slack's link to a top-level post, for the report; a post without one is still
        delivered (the look-up's failure is logged, never a notification failure)."""
        if item.kind != "post":
            return
        link = self.permalink(*landed)
        if link is not None:
            store.outbox.keep_permalink(item.id, link)

    def permalink(self, channel: str, ts: str) -> str | None:
        """Slack's link to a posted message (`chat.getPermalink`); None if Slack gives none."""
        client = self._client
        if client is None:
            return None
        try:
            response = self._call(lambda: client.chat_getPermalink(channel=channel, message_ts=ts))
        except TransportError as exc:
            log.info("no permalink for a posted message: %s", exc.reason)
            return None
        link = response.get("permalink")
        # Only an https link is kept: it becomes a link in the report.
        return link if isinstance(link, str) and link.startswith("https://") else None

    def _send(
        self,
        item: OutboxItem,
        parent: OutboxItem | None,
        payload: dict[str, Any],
        store: StateStore,
    ) -> Landed:
        parent_posted = parent is not None and parent.status == SENT and parent.posted_ts
        if item.kind == "update":
            if not parent_posted:
                return SKIPPED  # nothing to edit: the original never reached Slack
            assert parent is not None and parent.posted_channel and parent.posted_ts
            # An edit sent twice shows once: no need to look first.
            self.update(parent.posted_channel, parent.posted_ts, payload)
            return parent.posted_channel, parent.posted_ts
        thread = None
        if item.kind == "reply" and parent_posted:
            assert parent is not None and parent.posted_channel and parent.posted_ts
            thread = (parent.posted_channel, parent.posted_ts)
        # A post, or a reply whose thread failed: on its own, so it still reaches someone.
        tag = Tag(item.id, self._store_id(store))
        if item.in_flight:
            # An earlier attempt may have reached Slack: post only if it is not there.
            found = self._already_posted(tag, thread, store)
            if found is not None:
                log.info(
                    "notification %s was posted by an earlier attempt; not posting again",
                    item.id,
                )
                return found
        return self.post(payload, thread, tag)

    def _store_id(self, store: StateStore) -> str:
        if self._kept_store_id is None:
            self._kept_store_id = store.facts.keep_store_id(uuid.uuid4().hex[:16])
        return self._kept_store_id

    def _already_posted(
        self, tag: Tag, thread: tuple[str, str] | None, store: StateStore
    ) -> tuple[str, str] | None:
        """Look for a post whose earlier attempt may have reached Slack; None: post it."""
        try:
            return self.find(tag, thread, channel_id=store.outbox.posted_channel(self.name))
        except TransportError as exc:
            # The look-up failed (a 503, a timeout): the post's outcome is still unknown.
            raise replace(exc, maybe_sent=True) from None
        except LookupUnavailable as exc:
            if not self._lookup_warned:
                self._lookup_warned = True
                log.warning(
                    "cannot look in Slack for messages whose send timed out (%s): they are"
                    " sent again, and may show twice; the token needs %s",
                    exc,
                    LOOKUP_SCOPES,
                )
            return None

    def post(
        self,
        payload: dict[str, Any],
        thread: tuple[str, str] | None = None,
        tag: Tag | None = None,
    ) -> tuple[str, str]:
        """Post a message (in a thread if given); returns the channel id and ts Slack gave it."""
        client = self._client
        assert client is not None
        channel, thread_ts = thread if thread else (self.channel, None)
        response = self._call(
            lambda: client.chat_postMessage(
                channel=channel,
                text=payload.get("text", ""),
                blocks=payload.get("blocks"),
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata=None if tag is None else tag.metadata(),
            )
        )
        return str(response.get("channel", channel)), str(response.get("ts", ""))

    def find(
        self,
        tag: Tag,
        thread: tuple[str, str] | None = None,
        channel_id: str | None = None,
    ) -> tuple[str, str] | None:
        """The channel id and ts of the message tagged `tag` among the channel's (or the
        thread's) latest 200, if any: it was posted minutes ago, not days.

        Raises LookupUnavailable when the token or the channel does not allow looking.
        """
        if thread is not None:
            channel, thread_ts = thread
        else:
            channel = channel_id or self._channel_id()
            thread_ts = None

        client = self._client
        assert client is not None

        def read() -> Any:
            if thread_ts is not None:
                return client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            return client.conversations_history(
                channel=channel, include_all_metadata=True, limit=200
            )

        try:
            response = self._call(read)
        except DeliveryError as exc:
            if exc.reason in _LOOKUP_UNAVAILABLE:
                raise LookupUnavailable(f"Slack answered {exc.reason}") from None
            raise
        for message in response.get("messages") or []:
            if tag.marks(message):
                return channel, str(message.get("ts", ""))
        return None

    def update(self, channel: str, ts: str, payload: dict[str, Any]) -> None:
        """Edit a posted message."""
        client = self._client
        assert client is not None
        self._call(
            lambda: client.chat_update(
                channel=channel, ts=ts, text=payload.get("text", ""), blocks=payload.get("blocks")
            )
        )

    def _channel_id(self) -> str:
        """WATCHER_SLACK_CHANNEL's id: the setting itself, or found by name."""
        if _CHANNEL_ID.fullmatch(self.channel):
            return self.channel
        client = self._client
        assert client is not None
        name, cursor = self.channel.removeprefix("#"), None
        for _ in range(_LIST_PAGES):
            try:
                response = self._call(
                    lambda cursor=cursor: client.conversations_list(
                        types="public_channel,private_channel",
                        exclude_archived=True,
                        limit=1000,
                        cursor=cursor,
                    )
                )
            except DeliveryError as exc:
                if exc.reason in _LOOKUP_UNAVAILABLE:
                    raise LookupUnavailable(
                        f"the channel's id is not known (conversations.list: {exc.reason});"
                        " set WATCHER_SLACK_CHANNEL to the id"
                    ) from None
                raise
            for channel in response.get("channels") or []:
                if isinstance(channel, dict) and channel.get("name") == name:
                    return str(channel.get("id", ""))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        raise LookupUnavailable(f"no channel named {name!r} in conversations.list")

    def _call(self, send: Any) -> Any:
        try:
            return send()
        except SlackApiError as exc:
            raise _classify(exc) from None
        except TimeoutError:
            raise DeliveryError("timeout", maybe_sent=True) from None
        except URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError | socket.timeout)
            # Refused: nothing was sent. Anything else may have broken after the request.
            refused = isinstance(exc.reason, ConnectionRefusedError)
            raise DeliveryError(
                "timeout" if timed_out else "network", maybe_sent=not refused
            ) from None
        except ConnectionRefusedError:
            raise DeliveryError("network") from None
        except (OSError, ConnectionError, http.client.HTTPException):
            # HTTPException: the answer broke off (IncompleteRead), or was no HTTP at all.
            raise DeliveryError("network", maybe_sent=True) from None
        except ValueError:
            raise DeliveryError("bad_response", maybe_sent=True) from None


def _classify(exc: SlackApiError) -> DeliveryError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        return TransportError("ratelimited", retry_after=_seconds(headers.get("Retry-After")))
    if status >= 500:
        return status_error(status) or TransportError(f"http_{status}")
    if not _ERROR_CODE.fullmatch(error):
        # slack-sdk's own words for a body that is not Slack's JSON (a proxy's page, say).
        return DeliveryError("bad_response")
    if error in _TRANSIENT:
        return DeliveryError(error)
    return DeliveryError(error, permanent=error not in REFUSED_MESSAGE)


def _seconds(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds <= 3600 else None


def build(context: ChannelContext) -> Transport:
    """Slack is always a channel: without a token, each message fails with the fix."""
    settings = context.settings
    token = settings.slack_bot_token
    return SlackTransport(
        None if token is None else token.get_secret_value(),
        settings.slack_api_url,
        settings.slack_channel,
        # Slack's latency, not the checks' timeout: a post that Slack is slow to answer is
        # usually posted, and a timeout leaves its outcome unknown.
        timeout=settings.slack_timeout,
        composer=context.composer,
    )


CHANNEL = Channel("slack", build)
