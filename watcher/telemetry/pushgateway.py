"""Pushes the registry to a Prometheus Pushgateway: a worker dyno cannot be scraped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.exposition import basic_auth_handler, default_handler

log = logging.getLogger(__name__)

JOB = "cutover-watcher"

Handler = Callable[..., Callable[[], None]]


def push(url: str, registry: CollectorRegistry, app: str, timeout: float) -> str | None:
    """Push (PUT) every metric under job and app; None on success, else a short reason."""
    try:
        gateway, handler = _gateway_and_handler(url)
        push_to_gateway(
            gateway,
            job=JOB,
            registry=registry,
            grouping_key={"app": app},
            timeout=timeout,
            handler=handler,
        )
    except Exception as exc:  # a failed push must never stop the cycle
        reason = _reason(exc)
        # Only the reason: an exception's text could carry the URL it was given.
        log.debug("pushgateway push failed", extra={"fields": {"reason": reason}})
        return reason
    return None


def _gateway_and_handler(url: str) -> tuple[str, Handler]:
    """The URL without its userinfo, and a handler that sends it as basic auth instead."""
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    host_port = parts.netloc.rpartition("@")[2]
    # No userinfo in the URL urllib sees, so no password in its errors or redirects.
    gateway = urlunsplit((parts.scheme, host_port, parts.path.rstrip("/"), parts.query, ""))
    if parts.username is None:
        return gateway, default_handler
    username, password = unquote(parts.username), unquote(parts.password or "")

    def with_basic_auth(
        url: str,
        method: str,
        timeout: float | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return gateway, with_basic_auth


def _reason(exc: BaseException) -> str:
    """`timeout`, `network`, `http_<status>`, `bad_url` or `error`."""
    if isinstance(exc, HTTPError):
        exc.close()  # the error carries the open answer
        return f"http_{exc.code}"
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, URLError) and isinstance(exc.reason, TimeoutError)
    ):
        return "timeout"
    if isinstance(exc, OSError):
        return "network"
    if isinstance(exc, ValueError):
        return "bad_url"
    return "error"
