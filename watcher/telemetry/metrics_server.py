"""Serves `/metrics` (and `/`, the watch report, live) over HTTP, behind a bearer token when one
is configured."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from watcher.report.html import POLICY

log = logging.getLogger(__name__)

# Heroku routes `$PORT` on every interface of the dyno; a scraper elsewhere needs the same.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
METRICS_PATH = "/metrics"
# The watch report as one page (docs/commands.md), built at each request.
REPORT_PATH = "/"
# The page loads nothing: a browser that is told so refuses anything that slipped in.
REPORT_POLICY = POLICY
# For a platform or load balancer probe: says the process serves, reveals nothing, needs no token.
HEALTH_PATH = "/-/healthy"
# How often the serving loop looks for `stop()`, and how long `stop()` waits for it.
_POLL_SECONDS = 0.1
_STOP_SECONDS = 5.0
# A client that connects and goes quiet holds only its own thread, and only this long.
_CLIENT_TIMEOUT_SECONDS = 10.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _LogWriter:
    """`wsgi.errors` for wsgiref: a failed request becomes one log line, not a traceback."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        lines = [line for line in "".join(self._parts).splitlines() if line.strip()]
        self._parts.clear()
        if lines:
            # A traceback's last line is the exception; the rest would be many lines of noise.
            log.warning("metrics request failed", extra={"fields": {"error": lines[-1].strip()}})


class _QuietHandler(WSGIRequestHandler):
    """Never writes request lines or tracebacks to stderr (every log line is logfmt)."""

    timeout = _CLIENT_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return _LogWriter()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow client cannot stall a scrape."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is routine for a scrape endpoint.
        log.debug("metrics connection failed", exc_info=True)


class MetricsServer:
    """`/metrics` of a registry on a daemon thread; `port=0` picks a free port (tests).

    With `page`, `/` serves the HTML it returns, behind the same token.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        port: int,
        token: str | None,
        host: str = ALL_INTERFACES,
        page: Callable[[], str] | None = None,
    ) -> None:
        self._metrics: WsgiApp = make_wsgi_app(registry)
        self._page = page
        self._requested = (host, port)
        # Bytes, compared in constant time, so response timing does not reveal the token.
        self._token = None if token is None else token.encode("utf-8")
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port served: the one bound once started, else the one asked for."""
        if self._server is not None:
            return int(self._server.server_port)
        return self._requested[1]

    def start(self) -> None:
        """Bind and serve on a daemon thread; raises OSError if the port cannot be bound."""
        if self._server is not None:
            return
        host, port = self._requested
        server = make_server(
            host, port, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        assert isinstance(server, _ThreadingServer)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="metrics-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; requests in flight finish on their own."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        thread.join(timeout=_STOP_SECONDS)

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application: `/metrics` and `/` (token checked), `/-/healthy`, else 404."""
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return _plain(start_response, "200 OK", b"ok\n")
        served = path == METRICS_PATH or (path == REPORT_PATH and self._page is not None)
        if not served:
            return _plain(start_response, "404 Not Found", b"not found\n")
        if not self._authorized(environ.get("HTTP_AUTHORIZATION", "")):
            # Nothing of the request is echoed: a wrong token is never shown back.
            return _plain(
                start_response,
                "401 Unauthorized",
                b"unauthorized\n",
                [("WWW-Authenticate", 'Bearer realm="cutover-watcher"')],
            )
        if path == REPORT_PATH:
            return self._report(start_response)
        return self._metrics(environ, start_response)

    def _report(self, start_response: StartResponse) -> Iterable[bytes]:
        assert self._page is not None
        try:
            body = self._page().encode("utf-8")
        except Exception as exc:
            # The store may be down: the page says so, the log says why, nothing crashes.
            log.warning(
                "the report page cannot be built", extra={"fields": {"error": type(exc).__name__}}
            )
            return _plain(
                start_response,
                "503 Service Unavailable",
                b"the report cannot be built now: see the watcher's log\n",
            )
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Content-Security-Policy", REPORT_POLICY),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [body]

    def _authorized(self, header: str) -> bool:
        if self._token is None:
            return True
        scheme, _, credentials = header.strip().partition(" ")
        # WSGI hands header bytes over as latin-1 text: this gets the bytes the client sent.
        given = credentials.strip().encode("latin-1", errors="replace")
        return scheme.lower() == "bearer" and hmac.compare_digest(given, self._token)


def _plain(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(headers or []),
        ],
    )
    return [body]
