"""The composition root: the watcher's parts, built once from the settings and a clock.

`watcher once`, `once --notify`, `run` and the tests get their state store, HTTP client,
metrics, self-monitoring, checks and notifier here, wired the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
from prometheus_client import CollectorRegistry

from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_window import LogWindow
from checks.registry import Registry
from checks.sources.clock import Clock
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from watcher import __version__
from watcher.checking.runner import CheckReport, run_checks
from watcher.checking.sources import CheckSet
from watcher.logs.follower import LogFollower
from watcher.notify.channels import CHANNELS
from watcher.notify.delivery import Failure
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import Settings
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics
from watcher.telemetry.self_monitoring import SelfMonitoring
from watcher.watch import Watch

USER_AGENT = f"cutover-watcher/{__version__}"


class Parts:
    """One watcher's parts; `close()` ends the HTTP client and the state store."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        redactor: Redactor,
        checks: Registry | None = None,
        registry: CollectorRegistry | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings, self.clock, self.redactor = settings, clock, redactor
        self.checks = checks or Registry.default()
        self.store = StateStore.from_url(settings.state_url.get_secret_value())
        self.http = http or httpx.Client(
            timeout=settings.check_timeout, headers={"User-Agent": USER_AGENT}
        )
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics(self.registry, __version__, self.checks, (c.name for c in CHANNELS))
        dsn = settings.sentry_dsn
        self.monitor = SelfMonitoring(
            None if dsn is None else dsn.get_secret_value(),
            __version__,
            settings.sentry_environment,
            redactor,
        )
        self._notifier: Notifier | None = None

    def check_set(self, log: Callable[[], LogWindow] | None = None) -> CheckSet:
        """The sources of one run; `log` is the daemon's follower, else a session is read."""
        return CheckSet(self.settings, self.store, self.clock, self.http, self.checks, log)

    def run_checks(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        """Run the named checks (all by default) once, concurrently; no connection is kept."""
        checkset = self.check_set()
        try:
            planned = checkset.planned(names)
            return run_checks(planned, self.settings.check_timeout, self.clock, self.redactor)
        finally:
            checkset.close()

    @property
    def notifier(self) -> Notifier:
        """Alerts, the outbox and its channels; a message lost for good is reported to Sentry."""
        if self._notifier is None:
            self._notifier = Notifier(
                self.settings,
                self.store,
                self.clock,
                self.http,
                self.metrics,
                self.report_failure,
                self.checks,
            )
        return self._notifier

    def watch(self) -> Watch:
        """The 24-hour watch's jobs (T0 is read from, or kept in, the store: it may raise)."""
        return Watch(
            self.settings,
            self.store,
            self.clock,
            self.http,
            self.metrics,
            self.notifier,
            self.redactor,
            self.checks,
        )

    def heroku(self) -> HerokuApi | None:
        """A Heroku API client, or None without HEROKU_API_KEY."""
        settings = self.settings
        if settings.heroku_api_key is None:
            return None
        config = HerokuConfig(
            settings.heroku_api_url,
            settings.heroku_data_api_url,
            settings.heroku_api_key.get_secret_value(),
            settings.app,
        )
        return HerokuApi(self.http, config, self.clock)

    def follower(self, watch: Watch) -> LogFollower | None:
        """The log follower feeding `watch`, or None without HEROKU_API_KEY."""
        heroku = self.heroku()
        if heroku is None:
            return None
        return LogFollower(
            heroku,
            self.http,
            LogMatcher(catalogue(self.settings.app_role), self.settings.own_dyno),
            self.clock,
            on_match=watch.on_log_match,
            remembered=watch.remembered_lines(),
            readers=watch.log_readers,
        )

    def report_failure(self, failure: Failure) -> None:
        self.monitor.report_failure(
            f"notification failed for good: {failure.reason}; fix: {failure.fix}",
            reason=failure.reason,
        )

    def close(self) -> None:
        self.http.close()
        self.store.close()
