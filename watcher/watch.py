"""The 24-hour watch's work, one method per job: `watcher/daemon.py` schedules, tests call.

Everything here takes the injected clock, so a whole watch can run in seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import httpx

from checks import logs, pg_metrics, router
from checks.check import AnyCheck
from checks.logparse.log_patterns import Match, catalogue
from checks.logparse.log_window import Coverage, LogWindow
from checks.registry import Registry
from checks.result import Result, State
from checks.sources.clock import Clock
from watcher.checking.observations import keep_observations
from watcher.checking.runner import (
    CheckReport,
    PlannedCheck,
    redacted,
    run_checks,
    state_fields,
)
from watcher.checking.sources import CheckSet
from watcher.logs.follower import LogFollower, gap_text
from watcher.notify.channels import CHANNELS
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import Settings
from watcher.store.alerts import AlertEvent
from watcher.store.history import LogMatchCount
from watcher.store.state import StateStore, StateStoreError
from watcher.telemetry.metrics import Metrics
from watcher.timeline import marks, phases, rm11_gate

log = logging.getLogger(__name__)

# The watcher's own health, shown as `watcher_check_state{check="watcher"}`.
SELF = "watcher"
# The finding (and blind window) of a stream gap the replay could not cover.
GAP_ID = "logs.stream_gap"
# How long a gap stays a finding: as long as a match would (the `logs` window).
GAP_SHOWN = logs.WINDOW
_RESTORED_SAMPLE = "(counted before the watcher restarted)"


class Watch:
    """The checks, the log follower's escalations and the timeline of one watch."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        clock: Clock,
        http: httpx.Client,
        metrics: Metrics,
        notifier: Notifier,
        redactor: Redactor,
        checks: Registry | None = None,
    ) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.checks = checks or Registry.default()
        self.http, self.metrics, self.notifier = http, metrics, notifier
        self.redactor = redactor
        # T0 survives restarts: the setting, else the first start kept in the store.
        self.t0 = settings.cutover_at or store.facts.keep_watch_start(clock.now())
        # What the follower feeds the `router` and `pg_metrics` checks, under its lock.
        self.router_stats = router.RouterStats(
            self.t0,
            timedelta(seconds=settings.router_window),
            on_request=metrics.router_request,
        )
        self.pg_samples = pg_metrics.PgSamples(self.t0)
        self.log_readers: tuple[logs.LineReader, ...] = (self.router_stats, self.pg_samples)
        self._follower: LogFollower | None = None
        # Set when something was queued: the delivery loop wakes at once.
        self._wake = threading.Event()
        self._problems: dict[str, str] = {}
        self._problems_lock = threading.Lock()
        self._new_matches: list[LogMatchCount] = []
        self._matches_lock = threading.Lock()
        # The follower's gaps already kept in the store as blind windows.
        self._gaps_kept = 0
        self._logged_done = False
        self._lines_exported = 0
        self._export_lock = threading.Lock()
        metrics.start_counting(
            (p.id for p in catalogue(settings.app_role)), (c.name for c in CHANNELS)
        )

    # -- the follower ------------------------------------------------------------------------

    def attach(self, follower: LogFollower) -> None:
        """Judge the log from `follower`'s counts from now on, restoring the counts kept
        before a restart into it first."""
        self._restore_log_counts(follower)
        self._follower = follower

    def stop_following(self) -> None:
        """Stop the follower (if any) soon; its memory is kept by `save_follower`."""
        if self._follower is not None:
            self._follower.stop()

    def wait_for_work(self, seconds: float) -> None:
        """Sleep up to `seconds`, or until something was queued for delivery."""
        self._wake.wait(seconds)
        self._wake.clear()

    def wake(self) -> None:
        """Wake the delivery loop now."""
        self._wake.set()

    # -- the jobs ---------------------------------------------------------------------------

    def full_cycle(self, names: Iterable[str] | None = None) -> list[CheckReport]:
        """Every check but healthz (it has its own, faster job), or those named; then escalate."""
        every = [n for n in self.checks.names if n != "healthz"]
        return self._run(every if names is None else list(names), "cycle done")

    def healthz_probe(self) -> list[CheckReport]:
        return self._run(["healthz"], "healthz probe done")

    def escalate_logs(self) -> bool:
        """Escalate what the follower matched since last time; True if there was anything."""
        self._keep_gaps()
        with self._matches_lock:
            new, self._new_matches = self._new_matches, []
        if not new:
            return False
        now = self.clock.now()
        try:
            # Each line is counted once with its key, in one transaction: a restart's replay,
            # or a second watcher on the same store, adds nothing for a line counted before.
            self.store.history.count_log_matches(new, now)
        except StateStoreError:
            # Kept for the next try: a store that is down for a while loses no count.
            with self._matches_lock:
                self._new_matches[:0] = new
            raise
        report = CheckReport("logs", logs.SOP, redacted(self._logs_result(), self.redactor), 0.0)
        self.notifier.observe([report], now)
        self._wake.set()
        return True

    def post_marks(self) -> list[str]:
        """Post the timeline marks that are due (each once, late ones saying so)."""
        now = self.clock.now()
        # A check that started before a mark may still be recording what it saw.
        settle = timedelta(seconds=self.settings.check_timeout + 5)
        posted = marks.post_due(self.store, self.t0, now, settle=settle)
        # Often, so that even a crash loses little of the follower's memory of counted lines.
        self.save_follower()
        for name in posted:
            log.info("posted the %s mark", name, extra={"fields": {"mark": name}})
        if posted:
            self._wake.set()
        self.metrics.watch(
            phases.elapsed_seconds(self.t0, now), rm11_gate.gate_open_now(self.store, self.t0, now)
        )
        if phases.phase(self.t0, now) == "done" and not self._logged_done:
            self._logged_done = True
            log.info(
                "the 24-hour watch is over; the worker can be scaled to 0"
                " (heroku ps:scale worker=0)",
                extra={"fields": {"phase": "done"}},
            )
        return posted

    def beat(self) -> None:
        """The daemon's heartbeat in the store, for `watcher status`."""
        self.store.heartbeat.beat(self.clock.now(), self.settings.check_interval)

    def deliver(self, budget: float | None = None, stop: threading.Event | None = None) -> None:
        """Send what is due (until `stop` is set); the delivery loop and shutdown call this."""
        self.notifier.deliver(budget, stop)

    def next_delivery(self) -> datetime | None:
        """When the outbox next has something to try (the delivery loop sleeps until then)."""
        return self.notifier.delivery.next_due()

    def save_follower(self) -> None:
        """Keep the follower's memory of counted lines, so a restart does not count them again."""
        if self._follower is not None:
            self.store.facts.keep_follower_memory(self._follower.remembered())

    def remembered_lines(self) -> list[str]:
        """The lines counted lately: the follower's saved memory, then every line whose
        match was counted (kept with the count, so not even a kill -9 forgets one)."""
        keys = self.store.facts.follower_memory()
        known = set(keys)
        counted = self.store.history.counted_lines(self.clock.now() - timedelta(hours=2))
        return keys + [key for key in counted if key not in known]

    def on_log_match(self, match: Match, key: str) -> None:
        """Called by the follower for every match: counted now, escalated by `escalate_logs`."""
        at = match.line.timestamp or self.clock.now()
        minute = datetime.fromtimestamp(int(at.timestamp()) // 60 * 60, UTC)
        with self._matches_lock:
            self._new_matches.append(LogMatchCount(match.pattern.id, minute, key))
        self.metrics.log_read(0, [match.pattern.id])

    def _keep_gaps(self) -> None:
        """Keep the follower's new stream gaps as blind windows (the marks list them)."""
        follower = self._follower
        if follower is None:
            return
        windows = follower.health.gap_windows
        new = windows[self._gaps_kept :]
        if not new:
            return
        now = self.clock.now()
        self.store.alerts.add_events(
            [AlertEvent(GAP_ID, "blind", "WARNING", gap_text(w), w[1] or now) for w in new]
        )
        self._gaps_kept = len(windows)

    def problem(self, key: str, text: str | None) -> None:
        """Record (or clear, with None) a problem of the watcher itself."""
        with self._problems_lock:
            if text is None:
                self._problems.pop(key, None)
            else:
                self._problems[key] = text

    def self_report(self) -> CheckReport:
        """The watcher's own health: UNKNOWN while escalations fail or jobs do not run."""
        with self._problems_lock:
            problems = list(self._problems.values())
        failure = self.notifier.delivery.health()
        if failure is not None:
            problems.insert(0, f"notifications fail: {failure.reason}; fix: {failure.fix}")
        if problems:
            result = Result.unknown("; ".join(problems))
        else:
            phase = phases.phase(self.t0, self.clock.now())
            text = f"watching; phase {phase}"
            if phase == phases.BEFORE:
                text = f"waiting for the cutover at {self.t0:%Y-%m-%d %H:%M:%SZ}; checks run"
            result = Result(State.OK, text)
        return CheckReport(SELF, "7", result, 0.0)

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, names: list[str], done: str) -> list[CheckReport]:
        at = self.clock.now()
        started = self.clock.monotonic()
        checkset = CheckSet(self.settings, self.store, self.clock, self.http, self.checks)
        try:
            # With the follower, the checks that judge the log judge its lines (under its
            # lock); without it (no HEROKU_API_KEY), one one-shot session serves them all.
            followed = (
                [c for c in self.checks.select(names) if c.reads_log] if self._follower else []
            )
            planned = checkset.planned([n for n in names if n not in {c.name for c in followed}])
            planned += [
                PlannedCheck(c.name, c.sop, self._follower_judge(c, checkset), c.on_timeout)
                for c in followed
            ]
            reports = run_checks(planned, self.settings.check_timeout, self.clock, self.redactor)
        finally:
            checkset.close()
        self.metrics.observe(reports, at, checkset.heroku_rate_limit_remaining)
        try:
            keep_observations(self.store, reports, at)
            self.notifier.observe(reports, at)
            self.problem("store", None)
        except StateStoreError as exc:
            # The checks ran and the metrics show them; alerts wait for the store to return.
            with self._problems_lock:
                known = "store" in self._problems
            self.problem("store", str(exc))
            if not known:  # once per outage, not once per probe
                log.error("state store: %s", exc)
        self._wake.set()
        self.export_self(at)
        seconds = round(self.clock.monotonic() - started, 2)
        log.info(done, extra={"fields": {**state_fields(reports), "seconds": seconds}})
        return reports

    def _logs_result(self) -> Result:
        return self._judge_followed(
            lambda window: logs.evaluate(
                window.tally, window.matcher, window.read_at, window.coverage
            )
        )

    def _follower_judge(self, check: AnyCheck, sources: CheckSet) -> Callable[[], Result]:
        return lambda: self._judge_followed(lambda window: check.evaluate(window, sources))

    def _judge_followed(self, evaluate: Callable[[LogWindow], Result]) -> Result:
        """`evaluate` on the follower's counts as a log window, under the follower's lock."""
        follower = self._follower
        assert follower is not None  # only the checks the follower feeds come here
        now, coverage = self.clock.now(), self._follower_coverage()
        return follower.judge(
            lambda tally, matcher: evaluate(
                LogWindow(tally, matcher, now, coverage, self.router_stats, self.pg_samples)
            )
        )

    def _follower_coverage(self) -> Coverage:
        """The stream's health, as the coverage of the follower's counts."""
        now = self.clock.now()
        follower = self._follower
        health = follower.health if follower is not None else None
        self.metrics.log_stream(
            bool(health and health.connected), health.reconnects if health else 0
        )
        problem = None
        if health is not None and not health.connected and health.last_error:
            problem = f"log stream down: {health.last_error}"
        lines = health.lines_seen if health else 0
        gaps = tuple(
            gap_text(window)
            for window in (health.gap_windows if health else ())
            if (window[1] or now) >= now - GAP_SHOWN
        )
        if health is not None:
            self.metrics.log_gaps(health.gaps)
        with self._export_lock:
            # Under a lock: the cycle and the escalation thread both get here.
            self.metrics.log_read(max(0, lines - self._lines_exported), [])
            self._lines_exported = max(self._lines_exported, lines)
        return Coverage(
            f"following the log stream since T0 ({lines} lines this run)", problem, gaps
        )

    def export_self(self, at: datetime) -> None:
        """Show the watcher's own health; needs no store (it is built from memory)."""
        self.metrics.observe([self.self_report()], at)

    def _restore_log_counts(self, follower: LogFollower) -> None:
        # The last 30 minutes of matches decide the `logs` alerts: a restart must not forget
        # them (the new session's replay skips lines counted before, see log_follower.py).
        try:
            rows = self.store.history.log_minutes(self.clock.now() - logs.WINDOW)
        except StateStoreError as exc:
            log.error("state store: %s", exc)
            return
        follower.restore(rows, _RESTORED_SAMPLE)
