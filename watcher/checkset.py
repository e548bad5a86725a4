"""Every check the watch runs, built from the settings with the resources one run shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import httpx

from checks import grants, healthz, logs, migrations, pg_connections, pg_info, sentry, tables
from checks.clock import Clock
from checks.connection_limit import ConnectionThresholds
from checks.database import Database, DatabaseOptions
from checks.heroku_api import HerokuApi, HerokuConfig
from checks.log_patterns import LogMatcher, catalogue
from checks.result import Baseline, CheckError, Result
from checks.sentry_api import SentryApi, SentryConfig
from watcher.check_names import CHECK_NAMES
from watcher.runner import PlannedCheck
from watcher.settings import Settings
from watcher.state import StateStore, StateStoreError

# SPEC section 3, in its order: the JSON, the table and `--check` use these names.
CHECK_SOPS: dict[str, str] = {
    "healthz": healthz.SOP,
    "logs": logs.SOP,
    "sentry": sentry.SOP,
    "pg_info": pg_info.SOP,
    "pg_connections": pg_connections.SOP,
    "tables": tables.SOP,
    "grants": grants.SOP,
    "migrations": migrations.SOP,
}

# Without WATCHER_CUTOVER_AT or a recorded watch start, Sentry is read this far back.
SENTRY_FALLBACK_WINDOW = timedelta(hours=24)
SENTRY_WAITING_WINDOW = timedelta(minutes=1)


class CheckSet:
    """The checks of one run and what they share: one database session, closed by `close()`."""

    def __init__(
        self, settings: Settings, store: StateStore, clock: Clock, http: httpx.Client
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._http = http
        self._db: Database | None = None
        self._sentry_api: SentryApi | None = None
        self._heroku: HerokuApi | None = None
        self._pg_info: pg_info.PgInfo | None = None
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

    def planned(self, names: Iterable[str] = CHECK_NAMES) -> list[PlannedCheck]:
        """The named checks, in the order given."""
        runs: dict[str, Callable[[], Result]] = {
            "healthz": self._healthz,
            "sentry": self._sentry,
            "pg_info": self._pg_info_check,
            "logs": self._logs,
            "pg_connections": self._sql(self._pg_connections),
            "tables": self._sql(self._tables),
            "grants": self._sql(self._grants),
            "migrations": self._sql(self._migrations),
        }
        # The healthz endpoint is the watched service: no answer in time is its failure.
        on_timeout = {"healthz": healthz.timed_out}
        return [
            PlannedCheck(name, CHECK_SOPS[name], runs[name], on_timeout.get(name)) for name in names
        ]

    @property
    def heroku_rate_limit_remaining(self) -> int | None:
        """The Heroku API's latest RateLimit-Remaining, whichever check's request it answered."""
        return None if self._heroku is None else self._heroku.rate_limit_remaining

    def close(self) -> None:
        """End the database session: the watcher holds no connection between runs."""
        if self._db is not None:
            self._db.close()

    def _healthz(self) -> Result:
        options = healthz.HealthzOptions(
            self._settings.healthz_url, timeout=self._settings.check_timeout * 0.8
        )
        return healthz.check(self._http, options, self._clock)

    def _sentry(self) -> Result:
        settings = self._settings
        token, org = settings.sentry_auth_token, settings.sentry_org
        if token is None or org is None:
            missing = [
                name
                for name, value in (("SENTRY_AUTH_TOKEN", token), ("WATCHER_SENTRY_ORG", org))
                if value is None
            ]
            return Result.unknown(f"not configured: set {' and '.join(missing)}")
        if self._sentry_api is None:
            config = SentryConfig(
                settings.sentry_api_url,
                token.get_secret_value(),
                org,
                settings.sentry_project,
                settings.sentry_environment,
            )
            self._sentry_api = SentryApi(self._http, config, self._clock)
        return sentry.check(
            self._sentry_api,
            self._since(),
            settings.app_role,
            settings.sentry_environment,
            self._clock,
            budget=settings.check_timeout * 0.8,
        )

    def _heroku_api(self) -> HerokuApi | None:
        """One client for the Heroku checks, or None without HEROKU_API_KEY."""
        settings = self._settings
        if settings.heroku_api_key is None:
            return None
        if self._heroku is None:
            config = HerokuConfig(
                settings.heroku_api_url,
                settings.heroku_data_api_url,
                settings.heroku_api_key.get_secret_value(),
                settings.app,
            )
            self._heroku = HerokuApi(self._http, config, self._clock)
        return self._heroku

    def _pg_info_check(self) -> Result:
        api = self._heroku_api()
        if api is None:
            return Result.unknown("not configured: set HEROKU_API_KEY")
        if self._pg_info is None:
            self._pg_info = pg_info.PgInfo(api, self._clock)
        return self._pg_info.check(self._thresholds(), budget=self._settings.check_timeout * 0.8)

    def _logs(self) -> Result:
        api = self._heroku_api()
        if api is None:
            return Result.unknown("not configured: set HEROKU_API_KEY")
        matcher = LogMatcher(catalogue(self._settings.app_role), self._settings.own_dyno)
        return logs.check_recent(
            api, self._http, matcher, self._clock, budget=self._settings.check_timeout * 0.8
        )

    def _thresholds(self) -> ConnectionThresholds:
        return ConnectionThresholds(
            self._settings.pg_connection_limit,
            self._settings.pg_connection_warn_ratio,
            self._settings.pg_connection_crit_ratio,
        )

    def _since(self) -> sentry.Since:
        """T0: the cutover time if set, else the daemon's recorded start, else 24 hours ago."""
        cutover = self._settings.cutover_at
        if cutover is not None and cutover > self._clock.now():
            # Waiting for the cutover: asking Sentry for a window that ends before it starts
            # gets a 400; ask from now (a minute back, so the window is never empty).
            return sentry.Since(
                self._clock.now() - SENTRY_WAITING_WINDOW,
                f"waiting for the cutover at {cutover:%Y-%m-%d %H:%MZ}: from now",
            )
        if cutover is not None:
            return sentry.Since(cutover, "from WATCHER_CUTOVER_AT")
        try:
            started = self._store.watch_start()
        except StateStoreError as exc:
            raise CheckError(f"no T0: {exc}") from None
        if started is not None:
            return sentry.Since(started, "the watch start")
        return sentry.Since(
            self._clock.now() - SENTRY_FALLBACK_WINDOW,
            "the last 24 hours: WATCHER_CUTOVER_AT unset",
        )

    def _sql(self, run: Callable[[Database], Result]) -> Callable[[], Result]:
        def guarded() -> Result:
            if self._db is None:
                return Result.unknown("not configured: set WATCHER_DATABASE_URL (or DATABASE_URL)")
            return run(self._db)

        return guarded

    def _pg_connections(self, db: Database) -> Result:
        return pg_connections.check(db, self._thresholds())

    def _grants(self, db: Database) -> Result:
        return grants.check(db, self._settings.app_role)

    def _tables(self, db: Database) -> Result:
        count = tables.probe(db)
        configured = self._settings.expected_tables
        return tables.evaluate(
            count,
            self._baseline(
                "tables",
                None if configured is None else str(configured),
                "WATCHER_EXPECTED_TABLES",
                str(count),
            ),
        )

    def _migrations(self, db: Database) -> Result:
        revisions = migrations.probe(db)
        revision = migrations.revision_of(revisions)
        if revision is None:
            return migrations.evaluate(revisions, None)
        baseline = self._baseline(
            "revision", self._settings.expected_revision, "WATCHER_EXPECTED_REVISION", revision
        )
        return migrations.evaluate(revisions, baseline)

    def _baseline(self, name: str, configured: str | None, setting: str, observed: str) -> Baseline:
        """The configured baseline, else the first observation kept in the state store."""
        if configured is not None:
            return Baseline(configured, f"from {setting}")
        try:
            stored = self._store.baseline(name)
            if stored is None:
                self._store.keep_baseline(name, observed, self._clock.now())
                return Baseline(observed, "first observation, kept as the baseline")
        except StateStoreError as exc:
            raise CheckError(f"no baseline: {exc}") from None
        return Baseline(stored.value, f"first seen {stored.observed_at:%Y-%m-%d %H:%MZ}")
