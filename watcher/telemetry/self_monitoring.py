"""The watcher's own Sentry: its errors, failed escalations, and a Crons heartbeat."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Literal

import sentry_sdk
from sentry_sdk.crons import MonitorStatus, capture_checkin
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.utils import BadDsn

if TYPE_CHECKING:
    from sentry_sdk._types import MonitorConfig

from watcher.redact import Redactor

log = logging.getLogger(__name__)

MONITOR_SLUG = "cutover-watcher"
# Minutes, as Sentry Crons counts them: a check-in this late, or a cycle this long, alerts.
CHECKIN_MARGIN_MINUTES = 5
MAX_RUNTIME_MINUTES = 10

CheckInStatus = Literal["ok", "error", "in_progress"]
_STATUS = {
    "ok": MonitorStatus.OK,
    "error": MonitorStatus.ERROR,
    "in_progress": MonitorStatus.IN_PROGRESS,
}


def _pending_at_exit(pending: int, timeout: float) -> None:
    # Replaces the SDK's message on stderr, which would break the one-logfmt-line-per-event log.
    log.info("sending Sentry events before exit", extra={"fields": {"pending": pending}})


class SelfMonitoring:
    """Sentry for the watcher itself; every method is a no-op without a DSN."""

    def __init__(self, dsn: str | None, release: str, environment: str, redactor: Redactor) -> None:
        self._dsn, self._release, self._environment = dsn, release, environment
        self._redactor = redactor
        self._enabled = False
        self._lock = threading.Lock()
        # The open `in_progress` check-in: its `ok`/`error` must carry the same id, or Sentry
        # sees a second check-in and times the first one out after MAX_RUNTIME_MINUTES.
        self._open_check_in: str | None = None

    @property
    def enabled(self) -> bool:
        """True once started with a usable DSN."""
        return self._enabled

    def start(self) -> None:
        """Initialise the SDK; a DSN it rejects turns self-monitoring off with a warning."""
        if self._dsn is None or self._enabled:
            return
        try:
            sentry_sdk.init(
                dsn=self._dsn,
                release=self._release,
                environment=self._environment,
                # No personal data (user IP and the like): `send_default_pii` is left at its
                # default, off; passing it at all is a DeprecationWarning in sentry-sdk 2.75.
                traces_sample_rate=None,
                # Stack frames' locals can hold credentials the redactor does not know
                # (a Logplex session URL carries its own token).
                include_local_variables=False,
                # No HTTP client breadcrumbs (httpx, Heroku, Slack): their URLs are credentials too.
                auto_enabling_integrations=False,
                # No `sentry-trace`/`baggage` headers on the watcher's own requests: the
                # baggage names the DSN's key, and Slack, Heroku and the rest are not Sentry.
                trace_propagation_targets=[],
                integrations=[
                    # Log lines go to stdout only: errors reach Sentry through report_failure
                    # and the uncaught-exception hooks, not once per retried log.error.
                    LoggingIntegration(level=None, event_level=None),
                    AtexitIntegration(callback=_pending_at_exit),
                ],
                # Applies to check-ins too: nothing leaves without every string masked.
                before_send=self._scrub,
            )
        except BadDsn:
            # The SDK's message may quote the DSN: only the variable is named.
            log.warning("SENTRY_DSN is not a valid Sentry DSN: self-monitoring is off")
            return
        self._enabled = True

    def checkin(self, status: CheckInStatus, interval_minutes: int) -> None:
        """A Crons heartbeat for monitor `cutover-watcher`; Sentry alerts when they stop."""
        if not self._enabled:
            return
        config: MonitorConfig = {
            "schedule": {"type": "interval", "value": interval_minutes, "unit": "minute"},
            "checkin_margin": CHECKIN_MARGIN_MINUTES,
            "max_runtime": MAX_RUNTIME_MINUTES,
        }
        with self._lock:
            # A new `in_progress` abandons an open one, which Sentry then marks timed out.
            check_in_id = None if status == "in_progress" else self._open_check_in
            sent = capture_checkin(
                monitor_slug=MONITOR_SLUG,
                check_in_id=check_in_id,
                status=_STATUS[status],
                monitor_config=config,
            )
            self._open_check_in = sent if status == "in_progress" else None

    def report_failure(self, message: str, **tags: object) -> None:
        """An error event, e.g. when a notification failed for good."""
        if not self._enabled:
            return
        sentry_sdk.capture_message(
            self._redactor(message),
            level="error",
            tags={key: self._redactor(str(value)) for key, value in tags.items()},
        )

    def flush(self, timeout: float) -> None:
        """Send what is queued, waiting at most `timeout` seconds (the SDK waits only at exit)."""
        if self._enabled:
            sentry_sdk.flush(timeout=timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Flush, then detach the SDK: later captures are dropped (tests, a second start)."""
        if not self._enabled:
            return
        self._enabled = False
        sentry_sdk.get_client().close(timeout=timeout)
        sentry_sdk.get_global_scope().set_client(None)

    def _scrub(self, event: Any, hint: Any) -> Any:
        """`before_send`: every string of the event, keys included, masked."""
        return self._redactor.scrub(event)
