"""Log records as logfmt lines (Heroku's convention): one event, one line, secrets masked."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

from watcher.redact import Redactor

# Characters a line reader could split on (`str.splitlines` knows more than `\n`) or that a
# terminal would act on: always escaped, so one event stays one line.
_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\x9f\u2028\u2029]')
_NAMED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A value is quoted when a logfmt reader would otherwise end it early or misread it.
_NEEDS_QUOTES = re.compile(r'[\s"=\\]|[^\x21-\x7e\xa0-\U0010ffff]')
_BAD_KEY_CHAR = re.compile(r"[^A-Za-z0-9_.\-]")
# Loggers that would print every request URL at INFO (a Logplex session URL is its own
# credential), a line per scheduled job run, or at DEBUG every Slack request's body (a
# message quotes the matched log line): only their warnings are worth a line.
_QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "apscheduler", "slack_sdk")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\u{ord(char):04x}"


def quote(value: str) -> str:
    """A value as logfmt writes it: bare when it can be, else quoted and escaped."""
    if value and not _NEEDS_QUOTES.search(value):
        return value
    return '"' + _ESCAPE.sub(_escape_char, value) + '"'


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _key(name: Any) -> str:
    return _BAD_KEY_CHAR.sub("_", str(name)) or "_"


class LogfmtFormatter(logging.Formatter):
    """`at=<level> logger=<name> msg=<message> key=value... [exc=...]`, masked, on one line.

    Extra pairs come from `extra={"fields": {...}}`. No timestamp: Heroku stamps every line.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        pairs: list[tuple[str, Any]] = [
            ("at", record.levelname.lower()),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            pairs += [(_key(k), v) for k, v in fields.items()]
        pairs += _exception_pairs(record)
        # Masked before escaping (a secret as written) and after (the line as printed).
        line = " ".join(f"{key}={quote(self._redactor(_text(v)))}" for key, v in pairs)
        return self._redactor(line)


def _exception_pairs(record: logging.LogRecord) -> list[tuple[str, str]]:
    """The exception as `exc="Type: message"` and where it was raised; never a traceback."""
    if not record.exc_info or record.exc_info[1] is None:
        return []
    exc = record.exc_info[1]
    pairs = [("exc", f"{type(exc).__name__}: {exc}")]
    tb = exc.__traceback__
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        pairs.append(("exc_at", where))
    return pairs


def configure(redactor: Redactor, level: int | str, stream: TextIO | None = None) -> None:
    """Make a logfmt handler on `stream` (default: stdout) the root logger's only handler."""
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(LogfmtFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
