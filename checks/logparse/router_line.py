"""One Heroku router line (`heroku[router]: at=info method=GET ... service=14ms status=200 ...`).

The shapes are Heroku's own: Dev Center's "HTTP Routing" and "Heroku Error Codes" articles
(`at=error code=H12 desc="Request timeout" ... connect=6ms service=30001ms status=503 bytes=0`,
`at=error code=H10 desc="App crashed" ... dyno= connect= service= status=503 bytes=`); an
error line's timing fields may be empty, and the router writes `code=` for info and warning
lines too (H80 maintenance is `at=info`, H27 client interrupted is `at=warning`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MS = re.compile(r"([0-9]{1,9})ms")
_CODE = re.compile(r"H\d\d")
# Pages the router serves itself: the app never saw these requests (docs/checks.md: H80 is not a
# request of the app; H81 "Blank app" means no code is deployed to answer).
NOT_REQUESTS = frozenset({"H80", "H81"})


@dataclass(frozen=True)
class RouterRequest:
    """A request the router passed to the app (or failed to), as the router logged it."""

    status: int | None  # None when the router wrote no status
    code: str | None  # `H12`; None for an ordinary request
    level: str  # `info`, `warning`, `error` (the `at=` field)
    service_ms: int | None  # None when the router wrote `service=` empty (H10, H13, ...)

    @property
    def failed(self) -> bool:
        """Heroku's Metrics counts a status of 500 or more as failed; so is a router error."""
        return (self.status is not None and self.status >= 500) or (
            self.code is not None and self.level == "error"
        )

    @property
    def status_class(self) -> str:
        """`2xx`..`5xx` for the metric; a router error without a status counts as `5xx`."""
        if self.status is not None and 100 <= self.status <= 599:
            return f"{self.status // 100}xx"
        return "5xx" if self.failed else "other"


def parse_router(message: str) -> RouterRequest | None:
    """The request a router line's message describes; None if it is no request of the app."""
    # Read by position, not by splitting every field: half of all lines are router lines, and
    # the follower reads 20,000 lines a second. The fields before `path=` (at, code, desc) are
    # the router's own; `status` and `service` come after the path, so they are looked for only
    # after the path's closing quote: a path that holds `status=500` is the caller's text.
    at = message.find("at=", 0, 24)
    if at == -1 or (at and message[at - 1] != " "):
        return None
    level = message[at + 3 : message.find(" ", at)]
    if level not in ("info", "warning", "error"):
        return None
    path = message.find(' path="', at)
    head_end = len(message) if path == -1 else path
    code = None
    found = message.find(" code=", at, head_end)
    if found != -1 and _CODE.fullmatch(message[found + 6 : found + 9]):
        code = message[found + 6 : found + 9]
        if message[found + 9 : found + 10] not in ("", " "):
            code = None
    if code in NOT_REQUESTS:
        return None
    tail = 0 if path == -1 else message.find('"', path + 7) + 1
    if path != -1 and tail == 0:
        return None  # the path never ends: a cut or garbled line
    status = _int(_field(message, " status=", tail))
    if status is None and code is None:
        return None  # neither a status nor an error code: nothing to count
    return RouterRequest(status, code, level, _ms(_field(message, " service=", tail)))


def _field(message: str, key: str, start: int) -> str:
    """The value of `key` (` status=`) at or after `start`, up to the next space."""
    found = message.find(key, start)
    if found == -1:
        return ""
    begin = found + len(key)
    end = message.find(" ", begin)
    return message[begin:] if end == -1 else message[begin:end]


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 3 else None


def _ms(value: str) -> int | None:
    found = _MS.fullmatch(value)
    return int(found[1]) if found else None
