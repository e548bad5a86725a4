"""Slack's Web API through slack-sdk: post, reply in a thread, edit; every failure classified."""

from __future__ import annotations

import http.client
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

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


@dataclass(frozen=True)
class DeliveryError(Exception):
    """A send that did not succeed: why, and whether trying again can help."""

    reason: str
    permanent: bool = False
    retry_after: float | None = None
    # The request may have reached Slack and been acted on (no answer, or a cut one).
    maybe_sent: bool = False

    def __str__(self) -> str:
        return self.reason


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


class SlackTransport:
    """One bot token and channel; retrying is the outbox's job, so the SDK never retries."""

    channel_name = "slack"

    def __init__(self, token: str, base_url: str, channel: str, timeout: float) -> None:
        self.channel = channel
        self._client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, round(timeout)),
            retry_handlers=[],
        )

    def post(
        self,
        payload: dict[str, Any],
        thread: tuple[str, str] | None = None,
        tag: Tag | None = None,
    ) -> tuple[str, str]:
        """Post a message (in a thread if given); returns the channel id and ts Slack gave it."""
        channel, thread_ts = thread if thread else (self.channel, None)
        response = self._call(
            lambda: self._client.chat_postMessage(
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

        def read() -> Any:
            if thread_ts is not None:
                return self._client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            return self._client.conversations_history(
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
        self._call(
            lambda: self._client.chat_update(
                channel=channel, ts=ts, text=payload.get("text", ""), blocks=payload.get("blocks")
            )
        )

    def _channel_id(self) -> str:
        """WATCHER_SLACK_CHANNEL's id: the setting itself, or found by name."""
        if _CHANNEL_ID.fullmatch(self.channel):
            return self.channel
        name, cursor = self.channel.removeprefix("#"), None
        for _ in range(_LIST_PAGES):
            try:
                response = self._call(
                    lambda cursor=cursor: self._client.conversations_list(
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
        return DeliveryError("ratelimited", retry_after=_seconds(headers.get("Retry-After")))
    if status >= 500:
        return DeliveryError(f"http_{status}")
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
