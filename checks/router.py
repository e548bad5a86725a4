"""`router`: the app's 5xx share and `service` time from Heroku's router lines (SOP 2.3, 5.2, 7.1).

Fed line by line (the one-shot log session of `watcher once`, the follower of `watcher run`),
it keeps per-minute counts and latency histograms for the window (minutes that leave it are
added to the running total since T0), and the requests before T0 (the baseline). Memory is
bounded by the buckets, never by the number of requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from checks.check import GATE, Advice, Check, CheckSettings, Doc, GaugeSpec, Need, Sources
from checks.logparse.latency_histogram import LatencyHistogram
from checks.logparse.log_line import LogLine
from checks.logparse.router_line import RouterRequest, parse_router
from checks.result import Baseline, CheckError, Finding, Observation, Result, State

if TYPE_CHECKING:
    from checks.logparse.log_window import LogWindow

NAME = "router"
SOP = "2.3, 5.2, 7.1"
# docs/settings.md: the baseline p95 is measured from at least this many requests before T0.
BASELINE_MIN_REQUESTS = 50
# A p95 at or over this many times the baseline's is a latency regression.
BASELINE_FACTOR = 2.0
_MINUTE = 60


@dataclass(frozen=True)
class RouterObservation(Observation):
    """The window's requests, failures and service-time percentiles; the totals since T0."""

    requests: int
    errors: int
    error_ratio: float
    requests_since_t0: int
    errors_since_t0: int
    error_ratio_since_t0: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p95_seconds: float | None = None
    p95_since_t0_ms: float | None = None
    baseline_p95_ms: float | None = None


@dataclass(frozen=True)
class RouterThresholds:
    """WATCHER_ROUTER_* settings."""

    window: timedelta = timedelta(seconds=900)
    min_requests: int = 20
    errors_warn: float = 0.01
    errors_crit: float = 0.05
    p95_warn_ms: float = 2000.0


@dataclass
class Traffic:
    """Requests, failures and service times of some stretch of the log."""

    requests: int = 0
    errors: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add(self, request: RouterRequest) -> None:
        self.requests += 1
        self.errors += request.failed
        if request.service_ms is not None:
            self.latency.add(request.service_ms)

    def merge(self, other: Traffic) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latency.merge(other.latency)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class RouterStats:
    """Router lines counted per minute (for the window and since T0) and before T0."""

    def __init__(
        self,
        t0: datetime | None,
        keep: timedelta = timedelta(seconds=900),
        on_request: Callable[[RouterRequest], None] = lambda request: None,
    ) -> None:
        self.t0 = t0
        self._keep_minutes = int(keep.total_seconds()) // _MINUTE + 2
        self._on_request = on_request
        self.minutes: dict[int, Traffic] = {}
        self.before_t0 = Traffic()
        # Minutes since T0 that left the window, added up: with the window's, all since T0.
        self._folded = Traffic()
        self.first_since_t0: datetime | None = None
        self._newest = 0

    def add(self, line: LogLine, received_at: datetime) -> RouterRequest | None:
        """Count `line` if it is a router request; what it was, or None."""
        if line.dyno != "router" or line.source != "heroku":
            return None
        request = parse_router(line.message)
        if request is None:
            return None
        at = line.timestamp or received_at
        if self.t0 is not None and at < self.t0:
            # The baseline; the window never reaches back before T0.
            self.before_t0.add(request)
        else:
            if self.first_since_t0 is None or at < self.first_since_t0:
                self.first_since_t0 = at
            minute = int(at.timestamp()) // _MINUTE
            if minute > self._newest:
                self._newest = minute
                self._forget()
            if minute > self._newest - self._keep_minutes:
                traffic = self.minutes.get(minute)
                if traffic is None:
                    traffic = self.minutes[minute] = Traffic()
                traffic.add(request)
            else:
                self._folded.add(request)  # a late line, older than the window
        self._on_request(request)
        return request

    def window(self, since: datetime) -> Traffic:
        """Traffic at or after `since`, to the minute (the minute holding `since` counts whole)."""
        start = int(since.timestamp()) // _MINUTE
        total = Traffic()
        for minute, traffic in self.minutes.items():
            if minute >= start:
                total.merge(traffic)
        return total

    @property
    def since_t0(self) -> Traffic:
        """Every request at or after T0 (all of them without a T0)."""
        total = Traffic()
        total.merge(self._folded)
        for traffic in self.minutes.values():
            total.merge(traffic)
        return total

    def measured_baseline(self) -> int | None:
        """The p95 of requests before T0, if there were enough of them to mean something."""
        if self.before_t0.latency.count < BASELINE_MIN_REQUESTS:
            return None
        return self.before_t0.latency.percentile(0.95)

    def _forget(self) -> None:
        oldest = self._newest - self._keep_minutes
        for minute in [m for m in self.minutes if m <= oldest]:
            self._folded.merge(self.minutes.pop(minute))


def baseline(stats: RouterStats, configured_ms: float | None) -> Baseline | None:
    """WATCHER_ROUTER_BASELINE_P95_MS, else the p95 measured from router lines before T0."""
    if configured_ms is not None:
        return Baseline(f"{configured_ms:g}", "from WATCHER_ROUTER_BASELINE_P95_MS")
    measured = stats.measured_baseline()
    if measured is None:
        return None
    return Baseline(
        str(measured), f"measured from {stats.before_t0.latency.count} requests before T0"
    )


def evaluate(
    stats: RouterStats, now: datetime, thresholds: RouterThresholds, base: Baseline | None
) -> Result:
    """The window's 5xx share and p95 against the thresholds and the baseline."""
    minutes = round(thresholds.window.total_seconds() / 60)
    traffic = stats.window(now - thresholds.window)
    p50, p95, p99 = (traffic.latency.percentile(q) for q in (0.5, 0.95, 0.99))
    observation = _metrics(stats, traffic, (p50, p95, p99), base)
    figures = _figures(traffic, p50, p95, p99)
    against = f"; baseline p95 {base.value} ms ({base.source})" if base else "; no baseline p95"
    if traffic.requests < thresholds.min_requests:
        return Result(
            State.OK,
            f"too few requests to judge: {traffic.requests} in the last {minutes} min"
            f" (at least {thresholds.min_requests} needed)"
            + (f"; {figures}" if traffic.requests else ""),
            observation,
        )
    findings: list[Finding] = []
    ratio = traffic.error_ratio
    if ratio >= thresholds.errors_warn:
        state = State.CRITICAL if ratio >= thresholds.errors_crit else State.WARNING
        limit = thresholds.errors_crit if state is State.CRITICAL else thresholds.errors_warn
        findings.append(
            Finding(
                f"{NAME}.errors",
                state,
                f"{traffic.errors} of {traffic.requests} requests failed (5xx or an H error)"
                f" in the last {minutes} min: {ratio:.1%}, at or over {limit:.1%}",
            )
        )
    latency = _latency_problem(p95, thresholds, base)
    if latency is not None:
        findings.append(
            Finding(
                f"{NAME}.latency",
                State.WARNING,
                f"p95 of service time {p95} ms in the last {minutes} min, {latency}",
            )
        )
    ok = f"{traffic.requests} requests in the last {minutes} min: {figures}{against}"
    return Result.from_findings(findings, ok, observation)


def _latency_problem(
    p95: int | None, thresholds: RouterThresholds, base: Baseline | None
) -> str | None:
    if p95 is None:
        return None
    if p95 >= thresholds.p95_warn_ms:
        return f"at or over {thresholds.p95_warn_ms:g} ms"
    if base is not None and p95 >= BASELINE_FACTOR * float(base.value):
        return (
            f"at or over twice the baseline p95 of {base.value} ms ({base.source}):"
            " slower since the cutover"
        )
    return None


def _figures(traffic: Traffic, p50: int | None, p95: int | None, p99: int | None) -> str:
    share = f"{traffic.error_ratio:.1%} 5xx ({traffic.errors})"
    if p95 is None:
        return f"{share}, no service times"
    return f"{share}, p50 {p50} ms, p95 {p95} ms, p99 {p99} ms"


def _metrics(
    stats: RouterStats,
    traffic: Traffic,
    percentiles: tuple[int | None, int | None, int | None],
    base: Baseline | None,
) -> RouterObservation:
    since_t0 = stats.since_t0
    p50, p95, p99 = (None if value is None else float(value) for value in percentiles)
    p95_since = since_t0.latency.percentile(0.95)
    return RouterObservation(
        requests=traffic.requests,
        errors=traffic.errors,
        error_ratio=traffic.error_ratio,
        requests_since_t0=since_t0.requests,
        errors_since_t0=since_t0.errors,
        error_ratio_since_t0=since_t0.error_ratio,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        p95_seconds=None if p95 is None else p95 / 1000,
        p95_since_t0_ms=None if p95_since is None else float(p95_since),
        baseline_p95_ms=None if base is None else float(base.value),
    )


# -- the declaration ------------------------------------------------------------------------

# Where the measured pre-cutover p95 is kept, so that a later run (or a restart) has it.
KEPT_BASELINE = "router_p95_ms"


def thresholds_of(settings: CheckSettings) -> RouterThresholds:
    """WATCHER_ROUTER_* as thresholds."""
    return RouterThresholds(
        timedelta(seconds=settings.router_window),
        settings.router_min_requests,
        settings.router_5xx_warn,
        settings.router_5xx_crit,
        settings.router_p95_warn_ms,
    )


def baseline_of(stats: RouterStats, sources: Sources) -> Baseline | None:
    """The configured p95, else the one measured from these lines before T0 (kept in the
    store), else the one kept from an earlier run."""
    configured = sources.settings.router_baseline_p95_ms
    if configured is not None:
        return baseline(stats, configured)
    measured = baseline(stats, None)
    if measured is not None:
        # Kept for later runs; a store that fails now costs only that.
        with contextlib.suppress(CheckError):
            sources.baseline(KEPT_BASELINE, None, "", measured.value)
        return measured
    kept = sources.kept_baseline(KEPT_BASELINE)
    return None if kept is None else Baseline(kept.value, f"measured before T0, {kept.source}")


def _judge(window: LogWindow, sources: Sources) -> Result:
    stats = window.router
    return evaluate(
        stats, window.read_at, thresholds_of(sources.settings), baseline_of(stats, sources)
    )


CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.HEROKU,),
    reads_log=True,
    probe=lambda sources: sources.log(),
    evaluate=_judge,
    advice=(
        (
            "errors",
            Advice(
                "2.3, 7.1",
                "the app answers 5xx: read the errors in the logs and Sentry; a 5xx rate that"
                f" stays is a rollback trigger (2.3); {GATE}",
            ),
        ),
        (
            "latency",
            Advice(
                "5.2, 7.1",
                "the app is slower since the cutover: look for N+1 queries and missing indexes"
                " (every query is a network round trip now); pg_activity shows long queries",
            ),
        ),
    ),
    gauges=(
        GaugeSpec(
            "watcher_router_5xx_ratio",
            "share of requests answered 5xx (or with a router error) over the router window",
            "error_ratio",
        ),
        GaugeSpec(
            "watcher_router_p95_seconds",
            "p95 of the router's service time over the router window (nearest rank)",
            "p95_seconds",
        ),
    ),
    doc=Doc(
        "router lines (`heroku[router]`) of the log `logs` reads: its one session in `once`,"
        " the follower in `run`",
        "over the last `WATCHER_ROUTER_WINDOW`, at least `WATCHER_ROUTER_MIN_REQUESTS`"
        " requests and a 5xx share (status 500+ or `at=error code=H..`) at or over"
        " `WATCHER_ROUTER_5XX_CRIT` (5%)",
        "5xx share at or over `_5XX_WARN` (1%); p95 of `service` at or over"
        " `WATCHER_ROUTER_P95_WARN_MS` (2,000 ms) or at or over twice the pre-cutover p95",
    ),
)
