"""Calling an outside HTTP API within a check's time: timeouts, 429 waits, errors as reasons."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from checks.result import CheckError
from checks.sources.clock import Clock

MAX_ATTEMPTS = 4


class ApiError(CheckError):
    """An API could not be used; `status` is the HTTP status when there was one."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


# Given a 429 answer and the time now, how long the API asks us to wait (None: it did not say).
RetryAfter = Callable[[httpx.Response, datetime], float | None]


def retry_after_header(response: httpx.Response, now: datetime) -> float | None:
    """`Retry-After` in seconds or as an HTTP date (RFC 9110)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


class Api:
    """One outside API as a check uses it: a name for messages, a client, a clock, headers.

    `sent` counts the HTTP requests made, retries included.
    """

    def __init__(
        self,
        name: str,
        http: httpx.Client,
        clock: Clock,
        headers: Mapping[str, str],
        retry_after: RetryAfter = retry_after_header,
        on_response: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.name = name
        # Sees every answer, errors too, before it is judged (e.g. to read rate-limit headers).
        self.on_response = on_response
        self.http = http
        self.clock = clock
        self.headers = dict(headers)
        self.retry_after = retry_after
        self.sent = 0

    def request(
        self,
        method: str,
        url: str,
        deadline: float,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A 2xx response, waiting out 429s while the wait fits before `deadline` (monotonic)."""
        for attempt in range(MAX_ATTEMPTS):
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                raise ApiError(f"{self.name}: no time left for the request")
            self.sent += 1
            try:
                response = self.http.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    timeout=remaining,
                    headers={**self.headers, **(headers or {})},
                )
            except httpx.TimeoutException:
                raise ApiError(f"{self.name} did not answer within {remaining:.1f} s") from None
            except httpx.HTTPError as exc:
                raise ApiError(f"{self.name} unreachable: {transport_reason(exc)}") from None
            if self.on_response is not None:
                self.on_response(response)
            if response.status_code == 429:
                self._wait_for_rate_limit(response, attempt, deadline)
                continue
            if response.status_code >= 400:
                raise ApiError(
                    f"{self.name} answered HTTP {response.status_code}", response.status_code
                )
            return response
        raise ApiError(f"{self.name} rate limited (HTTP 429 {MAX_ATTEMPTS} times)", 429)

    def _wait_for_rate_limit(self, response: httpx.Response, attempt: int, deadline: float) -> None:
        asked = self.retry_after(response, self.clock.now())
        # No hint from the API: a short exponential back-off.
        wait = asked if asked is not None else float(2**attempt)
        if self.clock.monotonic() + wait >= deadline:
            raise ApiError(
                f"{self.name} rate limited (HTTP 429): retry in {wait:.0f} s is past this"
                " check's time",
                429,
            )
        self.clock.sleep(wait)


def json_body(response: httpx.Response, api_name: str) -> Any:
    """The response's JSON, or an `ApiError` that says what came instead."""
    try:
        return json.loads(response.content)
    # Nesting past the parser's recursion limit is no usable answer either, not a crash.
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "no content-type").split(";")[0]
        raise ApiError(
            f"{api_name} answered with a body that is not JSON ({kind},"
            f" {len(response.content)} bytes)"
        ) from None


def transport_reason(exc: httpx.HTTPError) -> str:
    """Why a request failed, without the URL that httpx puts in some messages."""
    if isinstance(exc, httpx.ConnectError):
        # The OS error text ("[Errno 111] Connection refused") names the failure, not the URL.
        text = str(exc).strip()
        return re.sub(r"^\[Errno -?\d+\]\s*", "", text).lower() or "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection or spoke broken HTTP"
    return type(exc).__name__
