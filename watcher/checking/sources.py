"""The checks of one run and the sources they share, opened once each and closed after the run.

Implements `checks.check.Sources` from the settings: one HTTP client, one read-only database
session, one Heroku, Sentry and log session; and plans the registry's checks for the runner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import httpx

from checks import logs, pg_metrics, router
from checks.check import AnyCheck, Need
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_window import LogWindow
from checks.registry import Registry
from checks.result import Baseline, CheckError
from checks.sentry import Since
from checks.sources.clock import Clock
from checks.sources.database import Database, DatabaseOptions
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from checks.sources.sentry_api import SentryApi, SentryConfig
from watcher.checking.runner import PlannedCheck
from watcher.settings import Settings
from watcher.store.state import StateStore, StateStoreError

# Without WATCHER_CUTOVER_AT or a recorded watch start, Sentry is read this far back.
SENTRY_FALLBACK_WINDOW = timedelta(hours=24)
SENTRY_WAITING_WINDOW = timedelta(minutes=1)
# A check's own calls stop in time to say why, before the runner's timeout speaks for them.
BUDGET_SHARE = 0.8


class CheckSet:
    """The checks of one run and what they share; `close()` ends the database session."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        clock: Clock,
        http: httpx.Client,
        checks: Registry | None = None,
        log: Callable[[], LogWindow] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._http = http
        self._checks = checks or Registry.default()
        # The daemon's follower, or None: a one-shot session read on first use.
        self._follower_log = log
        self._log: LogWindow | CheckError | None = None
        self._log_lock = threading.Lock()
        self._db: Database | None = None
        self._sentry_api: SentryApi | None = None
        self._heroku: HerokuApi | None = None
        if settings.database_url is not None:
            timeout = settings.check_timeout
            self._db = Database(
                DatabaseOptions(
                    settings.database_url.get_secret_value(),
                    connect_timeout=max(2.0, timeout / 4),
                    statement_timeout=max(1.0, timeout / 4),
                    # The SQL checks share the session and the run's time: stop in time to
                    # say why, before the runner's own timeout speaks for them.
                    budget=timeout * 0.9,
                ),
                clock,
            )

    def planned(self, names: Iterable[str] | None = None) -> list[PlannedCheck]:
        """The named checks (all, by default), in the order given."""
        chosen = self._checks.select(self._checks.names if names is None else names)
        return [self._plan(check) for check in chosen]

    def _plan(self, check: AnyCheck) -> PlannedCheck:
        return PlannedCheck(check.name, check.sop, lambda: check.run(self), check.on_timeout)

    @property
    def heroku_rate_limit_remaining(self) -> int | None:
        """The Heroku API's latest RateLimit-Remaining, whichever check's request it answered."""
        return None if self._heroku is None else self._heroku.rate_limit_remaining

    def close(self) -> None:
        """End the database session: the watcher holds no connection between runs."""
        if self._db is not None:
            self._db.close()

    # -- checks.check.Sources -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def budget(self) -> float:
        return self._settings.check_timeout * BUDGET_SHARE

    def missing(self, need: Need) -> str | None:
        settings = self._settings
        if need is Need.HEROKU:
            return None if settings.heroku_api_key is not None else "HEROKU_API_KEY"
        if need is Need.DATABASE:
            configured = settings.database_url is not None
            return None if configured else "WATCHER_DATABASE_URL (or DATABASE_URL)"
        unset = [
            name
            for name, value in (
                ("SENTRY_AUTH_TOKEN", settings.sentry_auth_token),
                ("WATCHER_SENTRY_ORG", settings.sentry_org),
            )
            if value is None
        ]
        return " and ".join(unset) or None

    def http(self) -> httpx.Client:
        return self._http

    def heroku(self) -> HerokuApi:
        """One client for the Heroku checks."""
        settings = self._settings
        if settings.heroku_api_key is None:
            raise CheckError("not configured: set HEROKU_API_KEY")
        if self._heroku is None:
            config = HerokuConfig(
                settings.heroku_api_url,
                settings.heroku_data_api_url,
                settings.heroku_api_key.get_secret_value(),
                settings.app,
            )
            self._heroku = HerokuApi(self._http, config, self._clock)
        return self._heroku

    def database(self) -> Database:
        if self._db is None:
            raise CheckError("not configured: set WATCHER_DATABASE_URL (or DATABASE_URL)")
        return self._db

    def sentry(self) -> SentryApi:
        settings = self._settings
        token, org = settings.sentry_auth_token, settings.sentry_org
        if token is None or org is None:
            raise CheckError(f"not configured: set {self.missing(Need.SENTRY)}")
        if self._sentry_api is None:
            config = SentryConfig(
                settings.sentry_api_url,
                token.get_secret_value(),
                org,
                settings.sentry_project,
                settings.sentry_environment,
            )
            self._sentry_api = SentryApi(self._http, config, self._clock)
        return self._sentry_api

    def log(self) -> LogWindow:
        """The follower's window in the daemon; else one log session for the whole run."""
        if self._follower_log is not None:
            return self._follower_log()
        with self._log_lock:
            if self._log is None:
                try:
                    self._log = self._read_log()
                except CheckError as exc:
                    self._log = exc
            if isinstance(self._log, CheckError):
                raise CheckError(str(self._log))
            return self._log

    def _read_log(self) -> LogWindow:
        matcher = LogMatcher(catalogue(self._settings.app_role), self._settings.own_dyno)
        t0 = self._t0()
        stats = router.RouterStats(t0, timedelta(seconds=self._settings.router_window))
        samples = pg_metrics.PgSamples(t0)
        return logs.read_recent(
            self.heroku(), self._http, matcher, self._clock, self.budget, stats, samples
        )

    def _t0(self) -> datetime | None:
        """T0 if known (set, or the daemon's recorded start); None, not a fallback window."""
        if self._settings.cutover_at is not None:
            return self._settings.cutover_at
        try:
            return self._store.facts.watch_start()
        except StateStoreError:
            return None

    def since(self) -> Since:
        """T0: the cutover time if set, else the daemon's recorded start, else 24 hours ago."""
        cutover = self._settings.cutover_at
        if cutover is not None and cutover > self._clock.now():
            # Waiting for the cutover: asking Sentry for a window that ends before it starts
            # gets a 400; ask from now (a minute back, so the window is never empty).
            return Since(
                self._clock.now() - SENTRY_WAITING_WINDOW,
                f"waiting for the cutover at {cutover:%Y-%m-%d %H:%MZ}: from now",
            )
        if cutover is not None:
            return Since(cutover, "from WATCHER_CUTOVER_AT")
        try:
            started = self._store.facts.watch_start()
        except StateStoreError as exc:
            raise CheckError(f"no T0: {exc}") from None
        if started is not None:
            return Since(started, "the watch start")
        return Since(
            self._clock.now() - SENTRY_FALLBACK_WINDOW,
            "the last 24 hours: WATCHER_CUTOVER_AT unset",
        )

    def baseline(self, name: str, configured: str | None, setting: str, observed: str) -> Baseline:
        """The configured baseline, else the first observation kept in the state store."""
        if configured is not None:
            return Baseline(configured, f"from {setting}")
        try:
            stored = self._store.facts.baseline(name)
            if stored is None:
                self._store.facts.keep_baseline(name, observed, self._clock.now())
                return Baseline(observed, "first observation, kept as the baseline")
        except StateStoreError as exc:
            raise CheckError(f"no baseline: {exc}") from None
        return Baseline(stored.value, f"first seen {stored.observed_at:%Y-%m-%d %H:%MZ}")

    def kept_baseline(self, name: str) -> Baseline | None:
        try:
            stored = self._store.facts.baseline(name)
        except StateStoreError:
            return None
        if stored is None:
            return None
        return Baseline(stored.value, f"kept since {stored.observed_at:%Y-%m-%d %H:%MZ}")
