"""Channels: how a queued notice leaves the watcher (the healthchecks.io model).

`Transport` -> `HttpTransport` -> `SlackTransport`, `AlertmanagerTransport`, ...: every notice is
recorded in the outbox before any channel sends it; the outbox's delivery hands each row to the
transport of its channel, which renders its own message at send time. A `TransportError` says
why a send failed and whether trying again can help (`permanent`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

if TYPE_CHECKING:
    from checks.sources.clock import Clock
    from watcher.notify.delivery import DeliveryMetrics
    from watcher.notify.notices import Notice
    from watcher.notify.slack_messages import Composer
    from watcher.settings import Settings
    from watcher.store.state import StateStore
from watcher.store.outbox import OutboxItem


@dataclass(frozen=True)
class TransportError(Exception):
    """A send that did not succeed: why, and whether trying again can help."""

    reason: str
    permanent: bool = False
    retry_after: float | None = None
    # The request may have reached the receiver and been acted on (no answer, or a cut one).
    maybe_sent: bool = False

    def __str__(self) -> str:
        return self.reason


# What a send returns: where the message landed (for threads and edits), or SKIPPED.
Landed = tuple[str, str]
SKIPPED = ("", "skipped")


class Transport(ABC):
    """One channel: which notices it takes, how it sends one, what fixes a permanent failure."""

    name: ClassVar[str]
    # Permanent failures a new setting can fix: tried again after a restart.
    fixable: ClassVar[frozenset[str]] = frozenset()
    # Waits for a rate limit hold the whole channel, not one message.
    paused_by_rate_limit: ClassVar[bool] = True
    # Shows incidents (docs/incidents.md): one top-level post per incident, its alerts in its
    # thread.
    # A channel that does not (Alertmanager, a webhook) is told of each alert on its own.
    shows_incidents: ClassVar[bool] = False

    def wants(self, notice: Notice) -> bool:
        """Whether this channel is told of `notice` at all (default: everything)."""
        return True

    @abstractmethod
    def send(self, item: OutboxItem, parent: OutboxItem | None, store: StateStore) -> Landed:
        """Send one queued row (its `parent`: the post it replies to or edits, if any)."""

    def fix_for(self, reason: str) -> str:
        """What the operator should do about a permanent failure."""
        return f"see the {self.name} documentation of the error {reason!r}"

    def after_sent(  # noqa: B027 (most channels need nothing more)
        self, item: OutboxItem, landed: Landed, store: StateStore
    ) -> None:
        """Called once a row is kept as sent: a channel may keep more about it (a link)."""

    def keep_alive(self, store: StateStore) -> None:  # noqa: B027 (most channels need none)
        """Called every minute or so: a channel whose receiver forgets state re-sends it."""


class HttpTransport(Transport):
    """A channel over HTTP (httpx): JSON in, every failure mode classified."""

    def __init__(self, http: httpx.Client, timeout: float) -> None:
        self._http = http
        self._timeout = timeout

    def post_json(self, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        """POST `body` as JSON; the answer's JSON (None if it has none), or a TransportError."""
        try:
            response = self._http.post(url, json=body, headers=headers, timeout=self._timeout)
        except httpx.TimeoutException:
            raise TransportError("timeout", maybe_sent=True) from None
        except httpx.ConnectError:
            raise TransportError("network") from None
        except httpx.HTTPError:
            raise TransportError("network", maybe_sent=True) from None
        error = status_error(response.status_code, response.headers.get("Retry-After"))
        if error is not None:
            raise error
        try:
            return response.json()
        except ValueError:
            return None


def status_error(status: int, retry_after: object = None) -> TransportError | None:
    """An HTTP status as a TransportError: 429 waits, 5xx retries, other 4xx is permanent."""
    if status == 429:
        return TransportError("ratelimited", retry_after=_seconds(retry_after))
    if status >= 500:
        return TransportError(f"http_{status}")
    if status >= 400:
        return TransportError(f"http_{status}", permanent=True)
    if status >= 300:
        return TransportError(f"http_{status}")  # a redirect not followed: nothing was taken
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds <= 3600 else None


@dataclass(frozen=True)
class ChannelContext:
    """What a channel is built from: the settings, the shared HTTP client, a clock, the words."""

    settings: Settings
    http: httpx.Client
    clock: Clock
    composer: Composer
    metrics: DeliveryMetrics | None = None


@dataclass(frozen=True)
class Channel:
    """A registered channel: its name, and how to build its transport (None: not configured)."""

    name: str
    build: Callable[[ChannelContext], Transport | None]
