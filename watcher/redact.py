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
# A secret cut short (a value shown to 40 characters, a log line's sample) is still a secret:
# any run of this many of its characters is masked too.
_PART = 8


class Redactor:
    """Replaces every known secret, raw or URL-encoded, whole or in part, with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        parts: set[str] = set()
        for secret in secrets:
            if len(secret) >= _MIN_SECRET_LENGTH:
                # As written, URL-encoded (`/` kept, or not), and escaped inside a JSON string.
                json_form = json.dumps(secret)[1:-1]
                these = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
                these.add(json_form)
                forms.update(these)
                # A URL in part is its scheme and host, no secret: its password is listed
                # on its own.
                if "://" not in secret:
                    parts.update(f[i : i + _PART] for f in these for i in range(len(f) - _PART + 1))
        # Longest first, so a URL is masked whole before the password inside it.
        self._forms = sorted(forms, key=len, reverse=True)
        self._parts = frozenset(parts)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return self._mask_parts(text) if self._parts else text

    def _mask_parts(self, text: str) -> str:
        """Every stretch of `text` made of runs of a secret's characters, masked."""
        spans: list[list[int]] = []
        for i in range(len(text) - _PART + 1):
            if text[i : i + _PART] in self._parts:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = i + _PART
                else:
                    spans.append([i, i + _PART])
        if not spans:
            return text
        pieces, last = [], 0
        for start, end in spans:
            pieces += [text[last:start], MASK]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

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
