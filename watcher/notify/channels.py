"""The channel registry: where notices go, one line per channel.

A new channel is a module with a `Transport` (usually an `HttpTransport`) and its
`CHANNEL = Channel(name, build)`, and its line below. `build` returns None while the channel is
not configured: nothing is queued for it then.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.notify import alertmanager, slack
from watcher.notify.transport import Channel, ChannelContext, Transport

CHANNELS: tuple[Channel, ...] = (
    slack.CHANNEL,
    alertmanager.CHANNEL,
)


def build(channels: Sequence[Channel], context: ChannelContext) -> list[Transport]:
    """The transports of the configured channels, in order."""
    return [t for c in channels if (t := c.build(context)) is not None]
