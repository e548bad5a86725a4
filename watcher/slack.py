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

    def __str__(self) -> str:
        return self.reason


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
        self, payload: dict[str, Any], thread: tuple[str, str] | None = None
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
            )
        )
        return str(response.get("channel", channel)), str(response.get("ts", ""))

    def update(self, channel: str, ts: str, payload: dict[str, Any]) -> None:
        """Edit a posted message."""
        self._call(
            lambda: self._client.chat_update(
                channel=channel, ts=ts, text=payload.get("text", ""), blocks=payload.get("blocks")
            )
        )

    def _call(self, send: Any) -> Any:
        try:
            return send()
        except SlackApiError as exc:
            raise _classify(exc) from None
        except TimeoutError:
            raise DeliveryError("timeout") from None
        except URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError | socket.timeout)
            raise DeliveryError("timeout" if timed_out else "network") from None
        except (OSError, ConnectionError, http.client.HTTPException):
            # HTTPException: the answer broke off (IncompleteRead), or was no HTTP at all.
            raise DeliveryError("network") from None
        except ValueError:
            raise DeliveryError("bad_response") from None


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
