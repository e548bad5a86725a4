"""Removes secret values from any text before it leaves the process."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
# Shorter values would mask ordinary words; no real token or password is this short.
_MIN_SECRET_LENGTH = 4


class Redactor:
    """Replaces every known secret, raw or URL-encoded, with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= _MIN_SECRET_LENGTH:
                forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first, so a URL is masked whole before the password inside it.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output, tracebacks included, passes through a `Redactor`."""

    def __init__(self, redactor: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor(super().format(record))
