"""`watcher run`: the worker process. Schedules the watch's jobs, serves or pushes the metrics,
follows the log, delivers the outbox, and stops cleanly on SIGTERM (docs/daemon.md).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler

from checks.sources.clock import Clock
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.report.from_store import page_from_settings
from watcher.report.html import render_html
from watcher.settings import Settings
from watcher.store.state import StateStoreError
from watcher.telemetry import pushgateway
from watcher.telemetry.metrics_server import MetricsServer
from watcher.timeline import phases
from watcher.watch import Watch

log = logging.getLogger(__name__)

# SIGTERM to exit: Heroku kills the dyno 30 s after SIGTERM; the docs allow 10 s.
SHUTDOWN_SECONDS = 10.0
# How often the timeline is looked at (marks, elapsed time, the gate).
TIMELINE_SECONDS = 30.0
# The follower's matches are escalated this often at most: seconds, not cycles.
ESCALATE_SECONDS = 0.5
# A sleeping delivery loop still looks at the outbox this often (a retry may have come due).
DELIVERY_POLL_SECONDS = 5.0
# A thread whose iteration failed tries again after 1 s, 2 s, 4 s ... at most this.
MAX_THREAD_BACKOFF = 10.0
# How often the main thread looks at the others (the watchdog) and exports its own health.
WATCHDOG_SECONDS = 5.0
# A thread restarted more often than this within an hour: the process is sick; exit non-zero
# so that Heroku restarts the dyno.
MAX_RESTARTS = 5


def _integrations(settings: Settings) -> dict[str, bool]:
    """What the watch can reach, by name (the start line says which are set up)."""
    return {
        "heroku": settings.heroku_api_key is not None,
        "database": settings.database_url is not None,
        "sentry": settings.sentry_auth_token is not None and settings.sentry_org is not None,
        "slack": settings.slack_bot_token is not None,
        "alertmanager": settings.alertmanager_url is not None,
        "pushgateway": settings.pushgateway_url is not None,
        "metrics_port": settings.metrics_port is not None,
        "self_monitoring": settings.sentry_dsn is not None,
    }


def configured(settings: Settings) -> list[str]:
    return [name for name, on in _integrations(settings).items() if on]


def not_configured(settings: Settings) -> list[str]:
    return [name for name, on in _integrations(settings).items() if not on]


class Daemon:
    """One watcher process: `run()` returns its exit code after SIGTERM."""

    def __init__(
        self, settings: Settings, clock: Clock, redactor: Redactor, parts: Parts | None = None
    ) -> None:
        self.settings, self.clock, self.redactor = settings, clock, redactor
        self.stop = threading.Event()
        # Everything is built by the composition root, as for `once` and the tests.
        self.parts = parts or Parts(settings, clock, redactor)
        self.registry = self.parts.registry
        self.metrics = self.parts.metrics
        self.monitor = self.parts.monitor
        self._threads: dict[str, tuple[threading.Thread, Callable[[], None]]] = {}
        self._restarts: dict[str, list[float]] = {}
        self._signals = 0

    def run(self) -> int:
        """Watch until SIGTERM (or SIGINT); then stop within SHUTDOWN_SECONDS."""
        self.monitor.start()
        parts = self.parts
        try:
            watch = parts.watch()
            requeued = parts.notifier.delivery.requeue_for_new_settings()
        except StateStoreError as exc:
            log.error("cannot start: %s", exc)
            return 3
        now = self.clock.now()
        log.info(
            "watch started",
            extra={
                "fields": {
                    "t0": f"{watch.t0:%Y-%m-%dT%H:%M:%SZ}",
                    "phase": phases.phase(watch.t0, now),
                    "store": parts.store.kind,
                    "configured": ",".join(configured(self.settings)) or "nothing",
                    "not_configured": ",".join(not_configured(self.settings)) or "none",
                    "cycle_seconds": self.settings.check_interval,
                    "healthz_seconds": self.settings.healthz_interval,
                    "requeued": requeued,
                }
            },
        )
        server = self._serve_metrics()
        scheduler = self._schedule(watch)
        self._start_follower(watch)
        self._thread(
            "escalate-logs",
            lambda: self._supervised(watch, "escalate-logs", watch.escalate_logs, ESCALATE_SECONDS),
        )
        self._thread(
            "deliver", lambda: self._supervised(watch, "deliver", lambda: self._deliver(watch), 0)
        )
        self._install_signals()
        scheduler.start()
        code = 0
        while not self.stop.wait(WATCHDOG_SECONDS):
            code = self.watchdog(watch, scheduler)
            if code:
                break
        self._shutdown(watch, scheduler, server)
        return code

    # -- jobs and threads -------------------------------------------------------------------

    def _schedule(self, watch: Watch) -> BackgroundScheduler:
        settings = self.settings
        scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        cycle, probe = settings.check_interval, settings.healthz_interval
        now = self.clock.now()
        # A run late by more than half its interval is skipped: the next one is as good.
        scheduler.add_job(
            lambda: self._cycle(watch), "interval", seconds=cycle, id="cycle",
            next_run_time=now, misfire_grace_time=max(1, int(cycle / 2)),
        )  # fmt: skip
        scheduler.add_job(
            watch.healthz_probe, "interval", seconds=probe, id="healthz",
            next_run_time=now, misfire_grace_time=max(1, int(probe / 2)),
        )  # fmt: skip
        # Marks are never skipped: a late one is posted late, and says so.
        scheduler.add_job(
            watch.post_marks, "interval", seconds=TIMELINE_SECONDS, id="timeline",
            next_run_time=now + timedelta(seconds=1), misfire_grace_time=None,
        )  # fmt: skip
        # The heartbeat `watcher status` reads (older than two cycles: not running).
        scheduler.add_job(
            watch.beat, "interval", seconds=TIMELINE_SECONDS, id="heartbeat",
            next_run_time=now, misfire_grace_time=max(1, int(TIMELINE_SECONDS / 2)),
        )  # fmt: skip
        scheduler.add_listener(
            lambda event: self._job_event(watch, event),
            EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED,
        )
        return scheduler

    def _cycle(self, watch: Watch) -> None:
        interval = max(1, round(self.settings.check_interval / 60))
        self.monitor.checkin("in_progress", interval)
        try:
            watch.full_cycle()
        except Exception:
            self.monitor.checkin("error", interval)
            raise
        self.monitor.checkin("ok", interval)
        watch.save_follower()
        if self.settings.pushgateway_url is not None:
            problem = pushgateway.push(
                self.settings.pushgateway_url,
                self.registry,
                self.settings.app,
                timeout=self.settings.check_timeout,
            )
            watch.problem("pushgateway", None if problem is None else f"push failed: {problem}")

    def _job_event(self, watch: Watch, event: JobEvent) -> None:
        job = event.job_id
        if event.code == EVENT_JOB_EXECUTED:
            watch.problem(f"job:{job}", None)
            return
        what = {
            EVENT_JOB_ERROR: "failed",
            EVENT_JOB_MISSED: "missed its time",
            EVENT_JOB_MAX_INSTANCES: "skipped: the previous run is still going",
        }.get(event.code, "misbehaved")
        exception = getattr(event, "exception", None)
        detail = f" ({type(exception).__name__}: {exception})" if exception else ""
        text = self.redactor(f"job {job} {what}{detail}")
        # The store's outage is one problem, cleared by whatever next reaches the store; not
        # a problem of the job until it next runs (the timeline's is 30 s away).
        watch.problem("store" if isinstance(exception, StateStoreError) else f"job:{job}", text)
        log.error(text, extra={"fields": {"job": job}})
        if exception is not None:
            self.monitor.report_failure(text, job=job)

    def _start_follower(self, watch: Watch) -> None:
        follower = self.parts.follower(watch)
        if follower is None:
            log.warning("no HEROKU_API_KEY: the log stream is not followed")
            return
        watch.attach(follower)
        self._thread("follow-logs", follower.run)

    def _deliver(self, watch: Watch) -> None:
        """One pass of the delivery thread: send what is due, then sleep until more is."""
        # The stop event ends a long backlog between messages: shutdown's own pass then gets
        # the lock and the time that is left.
        watch.deliver(stop=self.stop)
        due = watch.next_delivery()
        wait = DELIVERY_POLL_SECONDS
        if due is not None:
            wait = min(wait, max(0.05, (due - self.clock.now()).total_seconds()))
        watch.wait_for_work(wait)

    def _supervised(self, watch: Watch, name: str, work: Callable[[], Any], seconds: float) -> None:
        """Run `work` until stopped; a failing iteration is logged once per kind, counted,
        shown as the watcher's own UNKNOWN, and tried again with back-off: never the end."""
        failures = 0
        logged: set[str] = set()
        while not self.stop.is_set():
            try:
                work()
            except Exception as exc:
                failures += 1
                kind = type(exc).__name__
                text = self.redactor(f"thread {name} failing ({kind}: {exc})")
                watch.problem(f"thread:{name}", text)
                self.metrics.thread_error(name)
                if kind not in logged:
                    logged.add(kind)
                    log.error(text, extra={"fields": {"thread": name}}, exc_info=True)
                backoff = min(MAX_THREAD_BACKOFF, 2.0 ** min(failures - 1, 10))
                self.stop.wait(backoff)
                continue
            if failures:
                log.info(
                    "thread %s works again after %d failed iteration(s)",
                    name,
                    failures,
                    extra={"fields": {"thread": name}},
                )
                watch.problem(f"thread:{name}", None)
                if StateStoreError.__name__ in logged:
                    watch.problem("store", None)  # this iteration reached it again
                failures, logged = 0, set()
            if seconds:
                self.stop.wait(seconds)

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads[name] = (thread, target)

    def watchdog(self, watch: Watch, scheduler: BackgroundScheduler) -> int:
        """Restart a thread that stopped; exit code 1 when that does not help (else 0)."""
        now = time.monotonic()
        for name, (thread, target) in list(self._threads.items()):
            if thread.is_alive() or self.stop.is_set():
                continue
            recent = [t for t in self._restarts.get(name, []) if now - t < 3600] + [now]
            self._restarts[name] = recent
            self.metrics.thread_restarted(name)
            if len(recent) > MAX_RESTARTS:
                log.error(
                    "thread %s stopped %d times within an hour; exiting so that the dyno"
                    " is restarted",
                    name,
                    len(recent),
                    extra={"fields": {"thread": name}},
                )
                return 1
            log.error("thread %s stopped; restarting it", name, extra={"fields": {"thread": name}})
            self._thread(name, target)
        if not scheduler.running:
            log.error("the scheduler stopped; exiting so that the dyno is restarted")
            return 1
        # The watcher's own health, from memory: it changes while the store is down too.
        watch.export_self(self.clock.now())
        return 0

    def _serve_metrics(self) -> MetricsServer | None:
        port = self.settings.metrics_port
        if port is None:
            return None
        token = self.settings.metrics_token
        server = MetricsServer(
            self.registry,
            port,
            None if token is None else token.get_secret_value(),
            page=self._report_page,
        )
        server.start()
        log.info("serving /metrics", extra={"fields": {"port": server.port}})
        return server

    def _report_page(self) -> str:
        """`/`: the watch report as it stands, with secrets masked like every output."""
        page = page_from_settings(self.settings, self.parts.store, self.clock.now())
        return self.redactor(render_html(page))

    # -- stopping ---------------------------------------------------------------------------

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
            self.stop.set()
            # Whatever hangs, the process is gone within the documented 10 s.
            deadline = threading.Timer(SHUTDOWN_SECONDS - 0.5, _exit_now)
            deadline.daemon = True
            deadline.start()
        # A second SIGTERM changes nothing: the shutdown under way is already bounded.

    def _shutdown(
        self, watch: Watch, scheduler: BackgroundScheduler, server: MetricsServer | None
    ) -> None:
        started = time.monotonic()
        scheduler.shutdown(wait=False)
        watch.stop_following()
        watch.wake()
        try:
            watch.save_follower()
            watch.escalate_logs()
            # What is queued goes out now if Slack answers; what is left is kept for the restart.
            watch.deliver(budget=max(0.5, SHUTDOWN_SECONDS - 4 - (time.monotonic() - started)))
        except Exception:
            log.exception("flushing on the way out")
        for thread, _ in self._threads.values():
            thread.join(timeout=0.5)
        if server is not None:
            server.stop()
        self.monitor.flush(timeout=2.0)
        log.info("stopped", extra={"fields": {"seconds": round(time.monotonic() - started, 2)}})


def _exit_now() -> None:
    logging.getLogger(__name__).error("shutdown took too long; exiting now")
    os._exit(0)
