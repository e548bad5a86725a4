"""A check's declaration: everything the watcher needs to know about one check, in one place.

Each check module ends with one `CHECK = Check(...)`; `checks/registry.py` lists them. From
the declarations the watcher derives the check names, `--check`, the runner's plan, the
advice in alerts, the gauges and the README's table. Every check has one shape (nagiosplugin's
Resource, Context, Result): `probe` reads its source, `evaluate` judges what was read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from checks.result import Result

if TYPE_CHECKING:
    import httpx

    from checks.logparse.log_window import LogWindow
    from checks.result import Baseline
    from checks.sentry import Since
    from checks.sources.clock import Clock
    from checks.sources.database import Database
    from checks.sources.heroku_api import HerokuApi
    from checks.sources.sentry_api import SentryApi

P = TypeVar("P")

# Words the advice of several checks shares (runbook 7.4 and Section 6).
GATE = "RM-11 stays closed"
ROLLBACK = "fix forward, or roll back (Section 6: only while `users` has no customer rows)"


class Need(Enum):
    """A source a check cannot run without; unset, the check is UNKNOWN naming the setting."""

    HEROKU = "heroku"  # HEROKU_API_KEY: the Platform API, the Data API and the log
    DATABASE = "database"  # WATCHER_DATABASE_URL (or DATABASE_URL): the read-only session
    SENTRY = "sentry"  # SENTRY_AUTH_TOKEN and WATCHER_SENTRY_ORG


@dataclass(frozen=True)
class Advice:
    """The runbook sections a finding belongs to, and the next step for whoever is paged."""

    sop: str
    next_step: str


@dataclass(frozen=True)
class GaugeSpec:
    """A gauge a check feeds: set from one of its metrics, with fixed labels if any."""

    name: str
    help: str
    metric: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Doc:
    """The check's row in the README's table: where it looks, what is CRITICAL, what WARNING."""

    source: str
    critical: str
    warning: str = ""


class CheckSettings(Protocol):
    """The settings the checks read (the watcher's `Settings` has them all)."""

    @property
    def healthz_url(self) -> str: ...
    @property
    def check_timeout(self) -> float: ...
    @property
    def app_role(self) -> str: ...
    @property
    def own_dyno(self) -> str | None: ...
    @property
    def pg_connection_limit(self) -> int: ...
    @property
    def pg_connection_warn_ratio(self) -> float: ...
    @property
    def pg_connection_crit_ratio(self) -> float: ...
    @property
    def pg_long_query_seconds(self) -> float: ...
    @property
    def pg_idle_in_transaction_seconds(self) -> float: ...
    @property
    def pg_blocked_seconds(self) -> float: ...
    @property
    def expected_tables(self) -> int | None: ...
    @property
    def expected_revision(self) -> str | None: ...
    @property
    def sentry_environment(self) -> str: ...
    @property
    def cutover_at(self) -> datetime | None: ...
    @property
    def router_window(self) -> float: ...
    @property
    def router_min_requests(self) -> int: ...
    @property
    def router_5xx_warn(self) -> float: ...
    @property
    def router_5xx_crit(self) -> float: ...
    @property
    def router_p95_warn_ms(self) -> float: ...
    @property
    def router_baseline_p95_ms(self) -> float | None: ...
    @property
    def pg_load_warn(self) -> float: ...
    @property
    def pg_load_crit(self) -> float: ...


class Sources(Protocol):
    """What one run offers its checks; each source is opened once and shared by the run."""

    @property
    def clock(self) -> Clock: ...
    @property
    def settings(self) -> CheckSettings: ...
    @property
    def budget(self) -> float:
        """Seconds a check may take, a little under the runner's timeout."""
        ...

    def missing(self, need: Need) -> str | None:
        """The settings to set for `need`, or None when it is configured."""
        ...

    def http(self) -> httpx.Client: ...
    def heroku(self) -> HerokuApi: ...
    def database(self) -> Database: ...
    def sentry(self) -> SentryApi: ...
    def log(self) -> LogWindow:
        """The app's recent log: one session per run in `once`, the follower's in `run`."""
        ...

    def since(self) -> Since:
        """T0 of the watch, and where it came from."""
        ...

    def baseline(self, name: str, configured: str | None, setting: str, observed: str) -> Baseline:
        """The configured baseline, else the first observation kept in the state store."""
        ...

    def kept_baseline(self, name: str) -> Baseline | None:
        """The baseline kept in the state store under `name`, if any (None: the store is
        unusable too)."""
        ...


@dataclass(frozen=True)
class Check(Generic[P]):
    """One check, declared once."""

    name: str
    sop: str
    probe: Callable[[Sources], P]
    evaluate: Callable[[P, Sources], Result]
    doc: Doc
    needs: tuple[Need, ...] = ()
    # Finding kinds that are transport-type (docs/alerts.md): they fire after consecutive
    # observations.
    transport: frozenset[str] = frozenset()
    # By finding kind prefix, most specific first; "" is the check's default advice.
    advice: tuple[tuple[str, Advice], ...] = ()
    gauges: tuple[GaugeSpec, ...] = ()
    # Judges the app's log (`sources.log()`): in the daemon, the follower's, under its lock.
    reads_log: bool = False
    # What running out of time means; by default the check could not do its job (UNKNOWN).
    on_timeout: Callable[[float], Result] | None = None

    def run(self, sources: Sources) -> Result:
        """Probe, then evaluate; a missing setting is UNKNOWN before anything is asked."""
        for need in self.needs:
            missing = sources.missing(need)
            if missing is not None:
                return Result.unknown(f"not configured: set {missing}")
        return self.evaluate(self.probe(sources), sources)

    def advice_for(self, finding_id: str) -> Advice | None:
        """The advice for one of this check's finding ids, if the check gives any."""
        kind = finding_id.removeprefix(f"{self.name}.")
        return next((a for prefix, a in self.advice if kind.startswith(prefix)), None)


AnyCheck = Check[Any]
