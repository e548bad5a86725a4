"""Removes secret values from any text before it leaves the process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
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
                # As written, URL-encoded, and escaped inside a JSON string.
                json_form = json.dumps(secret)[1:-1]
                forms.update({secret, quote(secret, safe=""), quote_plus(secret), json_form})
        # Longest first, so a URL is masked whole before the password inside it.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string masked, keys included."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output, tracebacks included, passes through a `Redactor`."""

    def __init__(self, redactor: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor(super().format(record))
