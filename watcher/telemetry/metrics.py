"""The watcher's Prometheus metrics (docs/metrics.md), fed from check reports."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from checks.logparse.log_patterns import catalogue
from checks.logparse.router_line import RouterRequest
from checks.registry import Registry
from watcher.checking.runner import CheckReport

# A value not observed yet: exported from the first scrape, and no comparison is true of it
# (`== 0` would read a gate not yet decided as CLOSED, a check not yet run as OK).
NOT_YET = float("nan")
CHANNELS = ("slack", "alertmanager")

# Router status classes, created at 0 so each one's first increase is seen.
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
# Buckets of `service` time (seconds) for histogram_quantile: Heroku's router gives up at 30 s.
SERVICE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0,
)  # fmt: skip


class RouterTraffic(Collector):
    """`watcher_router_requests_total{status_class}` and the `watcher_router_service_seconds`
    histogram, counted in plain integers and exported as Prometheus counter and histogram
    families on each scrape.

    prometheus_client's own Counter and Histogram take a lock and walk the buckets in Python on
    every call: at 20,000 lines a second that was a third of the follower's time. One thread
    (the follower) counts here; a scrape reads a snapshot, with the count taken from the
    buckets so that the `+Inf` bucket and `_count` always agree.
    """

    def __init__(self) -> None:
        self._by_class = dict.fromkeys(STATUS_CLASSES, 0)
        self._edges_ms = [round(edge * 1000) for edge in SERVICE_BUCKETS]
        self._buckets = [0] * (len(SERVICE_BUCKETS) + 1)  # the last one: over every edge
        self._sum_ms = 0

    def count(self, request: RouterRequest) -> None:
        status_class = request.status_class
        if status_class in self._by_class:
            self._by_class[status_class] += 1
        ms = request.service_ms
        if ms is not None:
            self._buckets[bisect_left(self._edges_ms, ms)] += 1
            self._sum_ms += ms

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "watcher_router_requests",
            "router requests read from the log, by status class",
            labels=["status_class"],
        )
        for status_class, total in dict(self._by_class).items():
            requests.add_metric([status_class], total)
        yield requests
        counts = list(self._buckets)
        cumulative, buckets = 0, []
        for edge, count in zip([*map(str, SERVICE_BUCKETS), "+Inf"], counts, strict=True):
            cumulative += count
            buckets.append((edge, cumulative))
        yield HistogramMetricFamily(
            "watcher_router_service_seconds",
            "the router's service time of each request read from the log",
            buckets=buckets,
            sum_value=self._sum_ms / 1000,
        )


class Metrics:
    """Gauges on a registry the caller owns (a fresh one per watcher, and per test)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        version: str,
        checks: Registry | None = None,
        channels: Iterable[str] = CHANNELS,
    ) -> None:
        self.registry = registry
        checks = checks or Registry.default()
        self._channels = tuple(channels)
        self._state = Gauge(
            "watcher_check_state",
            "check state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
            ["check"],
            registry=registry,
        )
        self._duration = Gauge(
            "watcher_check_duration_seconds",
            "how long the check took",
            ["check"],
            registry=registry,
        )
        self._last_run = Gauge(
            "watcher_check_last_run_timestamp_seconds",
            "when the check last ran",
            ["check"],
            registry=registry,
        )
        # The gauges the checks declare; one family per name, whichever checks feed it.
        self._check_names = checks.names
        self._fed = checks.gauges()
        self._check_gauges: dict[str, Gauge] = {}
        for _, spec in self._fed:
            if spec.name not in self._check_gauges:
                self._check_gauges[spec.name] = Gauge(
                    spec.name,
                    spec.help,
                    [label for label, _ in spec.labels],
                    registry=registry,
                )
        # Counted per request by the follower: plain integers, exported on each scrape.
        self.router_traffic = RouterTraffic()
        registry.register(self.router_traffic)
        self._heroku_rate_limit = Gauge(
            "watcher_heroku_rate_limit_remaining",
            "Heroku Platform API RateLimit-Remaining, as last answered",
            registry=registry,
        )
        self._alerts_firing = Gauge(
            "watcher_alerts_firing",
            "1 while the alert fires (notified and not resolved)",
            ["alert"],
            registry=registry,
        )
        self._notifications = Counter(
            "watcher_notifications",
            "notifications delivered",
            ["channel"],
            registry=registry,
        )
        self._notification_failures = Counter(
            "watcher_notification_failures",
            "failed notification attempts, by reason (a 429 retried and delivered counts here too)",
            ["channel", "reason"],
            registry=registry,
        )
        # Counted apart from attempts: these messages reached no one (the alert rules page on
        # them, never on a retried attempt).
        self._notifications_failed = Counter(
            "watcher_notifications_failed",
            "notifications that failed for good (not retried), by reason",
            ["channel", "reason"],
            registry=registry,
        )
        self._notifications_pending = Gauge(
            "watcher_notifications_pending",
            "notifications queued and not yet delivered, after the last delivery pass",
            registry=registry,
        )
        self._log_lines = Counter(
            "watcher_log_lines", "log lines the follower read", registry=registry
        )
        self._log_matches = Counter(
            "watcher_log_matches",
            "log lines that matched a catalogue pattern",
            ["pattern"],
            registry=registry,
        )
        self._stream_up = Gauge(
            "watcher_log_stream_up", "1 while the log stream is connected", registry=registry
        )
        self._stream_reconnects = Counter(
            "watcher_log_stream_reconnects", "log stream reconnects", registry=registry
        )
        self._reconnects_seen = 0
        self._stream_gaps = Counter(
            "watcher_log_stream_gaps",
            "reconnects whose replay did not reach back: log lines may be lost",
            registry=registry,
        )
        self._gaps_seen = 0
        self._thread_errors = Counter(
            "watcher_thread_errors",
            "failed iterations of a daemon thread (each is retried)",
            ["thread"],
            registry=registry,
        )
        self._thread_restarts = Counter(
            "watcher_thread_restarts",
            "daemon threads the watchdog found stopped and restarted",
            ["thread"],
            registry=registry,
        )
        self._elapsed = Gauge(
            "watcher_watch_elapsed_seconds", "seconds since T0", registry=registry
        )
        # NaN until the first verdict: 0 would read CLOSED before anything was decided.
        self._gate = Gauge(
            "watcher_rm11_gate_open",
            "1 if the RM-11 gate is open (7.4): no alert in the 4-hour watch, Sentry clean;"
            " NaN until known",
            registry=registry,
        )
        self._gate.set(NOT_YET)
        Gauge("watcher_build_info", "the watcher's version", ["version"], registry=registry).labels(
            version
        ).set(1)
        self._notifications_pending.set(0)
        # Incidents and snoozes (docs/incidents.md): 0 from the first scrape, set by each decision.
        self._incident_open = Gauge(
            "watcher_incident_open", "1 while an incident is open", registry=registry
        )
        self._incident_acknowledged = Gauge(
            "watcher_incident_acknowledged",
            "1 while the open incident is acknowledged (reminders no longer ping)",
            registry=registry,
        )
        self._snoozes_active = Gauge(
            "watcher_snoozes_active", "snoozes in force now", registry=registry
        )
        self._export_known_labels()

    def _export_known_labels(self) -> None:
        """Every series whose labels are known now, from the first scrape (docs/metrics.md)."""
        for name in self._check_names:
            for gauge in (self._state, self._duration, self._last_run):
                gauge.labels(name).set(NOT_YET)
        # The labelled gauges the checks declare (their labels are fixed in the declaration).
        for _, spec in self._fed:
            if spec.labels:
                self._check_gauges[spec.name].labels(*(v for _, v in spec.labels)).set(NOT_YET)
        # Pattern ids do not depend on the role.
        self.start_counting((p.id for p in catalogue("")), self._channels)

    def observe(
        self,
        reports: Iterable[CheckReport],
        at: datetime,
        heroku_rate_limit_remaining: int | None = None,
    ) -> None:
        """Record one run; a value a check did not report keeps its last known value.

        The Heroku rate limit comes from the client, not a check: it is current even when
        the check failed on a 429.
        """
        if heroku_rate_limit_remaining is not None:
            self._heroku_rate_limit.set(heroku_rate_limit_remaining)
        for report in reports:
            name, values = report.name, report.result.metrics
            self._state.labels(name).set(report.result.state.value)
            self._duration.labels(name).set(report.duration_seconds)
            self._last_run.labels(name).set(at.timestamp())
            for check, spec in self._fed:
                if check == name and spec.metric in values:
                    gauge = self._check_gauges[spec.name]
                    if spec.labels:
                        gauge.labels(*(value for _, value in spec.labels)).set(values[spec.metric])
                    else:
                        gauge.set(values[spec.metric])

    def notification_sent(self, channel: str) -> None:
        self._notifications.labels(channel).inc()

    def notification_failed(self, channel: str, reason: str) -> None:
        """One failed attempt (it may be retried and delivered)."""
        self._notification_failures.labels(channel, reason).inc()

    def notification_failed_for_good(self, channel: str, reason: str) -> None:
        """A message that will not be retried: it reached no one."""
        self._notifications_failed.labels(channel, reason).inc()

    def notifications_pending(self, pending: int) -> None:
        self._notifications_pending.set(pending)

    def steering(self, incident_open: bool, acknowledged: bool, snoozes: int) -> None:
        """The open incident's state and the snoozes in force."""
        self._incident_open.set(int(incident_open))
        self._incident_acknowledged.set(int(acknowledged))
        self._snoozes_active.set(snoozes)

    def alerts(self, firing: Iterable[str]) -> None:
        """Set the firing alerts; those no longer firing read 0."""
        current = set(firing)
        for family in self._alerts_firing.collect():
            for sample in family.samples:
                if sample.labels["alert"] not in current:
                    self._alerts_firing.labels(sample.labels["alert"]).set(0)
        for alert in current:
            self._alerts_firing.labels(alert).set(1)

    def start_counting(self, patterns: Iterable[str], channels: Iterable[str]) -> None:
        """Create every labelled counter at 0, so its first increase is seen (`increase()`)."""
        for pattern in patterns:
            self._log_matches.labels(pattern)
        for channel in channels:
            self._notifications.labels(channel)

    def router_request(self, request: RouterRequest) -> None:
        """One router request read from the log (the follower calls this for each)."""
        self.router_traffic.count(request)

    def log_read(self, lines: int, matches: Iterable[str]) -> None:
        """Lines the follower read, and the patterns they matched."""
        self._log_lines.inc(lines)
        for pattern in matches:
            self._log_matches.labels(pattern).inc()

    def log_stream(self, up: bool, reconnects: int) -> None:
        """The follower's health; `reconnects` is its running total."""
        self._stream_up.set(1 if up else 0)
        if reconnects > self._reconnects_seen:
            self._stream_reconnects.inc(reconnects - self._reconnects_seen)
            self._reconnects_seen = reconnects

    def log_gaps(self, gaps: int) -> None:
        """The follower's running total of stream gaps."""
        if gaps > self._gaps_seen:
            self._stream_gaps.inc(gaps - self._gaps_seen)
            self._gaps_seen = gaps

    def thread_error(self, thread: str) -> None:
        self._thread_errors.labels(thread).inc()

    def thread_restarted(self, thread: str) -> None:
        self._thread_restarts.labels(thread).inc()

    def watch(self, elapsed_seconds: float, gate_open: bool | None) -> None:
        """Where the watch is on its timeline, and the RM-11 gate (unset until known)."""
        self._elapsed.set(max(0.0, elapsed_seconds))
        self._gate.set(NOT_YET if gate_open is None else 1 if gate_open else 0)
