"""Not a benchmark: the generated log's incidents as the watcher reports them.

    python -m benchmarks.incidents [--lines 200000]

1. `watcher once --check logs --check router --check pg_metrics` (the real command, a
   subprocess) at a quiet time and inside each incident of benchmarks/heroku_log.py: a 5xx
   burst, a latency regression, a load spike, an L11 drop. Logplex (the fake) answers the 1,500
   lines before that moment, shifted so that the moment is now; the lines before T0 that the
   baseline needs are in the history too, as Logplex would keep them on a quiet app.
2. A whole 24-hour watch of the same log on a moved clock, as `watcher run` wires it (the
   follower feeding `logs`, `router` and `pg_metrics`, a full cycle every 15 minutes, the
   marks), with Slack answered by the fake: prints the 4-hour result and the 8-hour and
   24-hour marks as posted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from benchmarks import heroku_log
from benchmarks.db_connections import clean_environ, settings_environ
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes import heroku as heroku_fake
from tests.fakes.heroku import FakeHeroku
from tests.fakes.logplex import PLAIN, SESSION_TOKEN, FakeLogplex
from tests.support.clock import FakeClock
from watcher import __version__
from watcher.logs.follower import LogFollower
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.store.state import StateStore
from watcher.telemetry.metrics import Metrics
from watcher.watch import Watch

BEFORE_T0 = timedelta(minutes=60)
MOMENTS = {
    # Before T0 the router lines are the baseline: measured, and kept in the state store.
    "before T0 (T0-5min)": -5 / (24 * 60),
    "T0+2h": 2 / 24,
    "5xx burst": sum(heroku_log.ERROR_BURST) / 2 + 0.002,
    "latency regression": sum(heroku_log.LATENCY_REGRESSION) / 2,
    "load spike": sum(heroku_log.LOAD_SPIKE) / 2,
    "L11 drop": heroku_log.LOG_DROP_AT + 0.0005,
}
LOG_CHECKS = ("logs", "router", "pg_metrics")
CYCLE = timedelta(minutes=15)
API_URL = "http://heroku.invalid"
SESSION_URL = f"http://logplex.invalid/sessions/demo?srv={SESSION_TOKEN}"


def _at(line: str) -> datetime:
    return datetime.fromisoformat(line[: line.index(" ")])


def _shifted(line: str, by: timedelta) -> str:
    at = _at(line) + by
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") + line[line.index(" ") :]


def once_tables(log: list[str]) -> None:
    """`watcher once` for the log checks at each moment, as the real command prints it."""
    with (
        FakeHeroku() as heroku,
        FakeLogplex(replay=1500) as logplex,
        tempfile.TemporaryDirectory() as tmp,
    ):
        heroku.logplex_url = logplex.session_url
        for name, share in MOMENTS.items():
            moment = heroku_log.START + timedelta(days=1) * share
            now = datetime.now(UTC).replace(microsecond=0)
            shift = now - moment
            before = [line for line in log if _at(line) <= moment]
            # What Logplex keeps: the last 1,500 lines.
            logplex.history = [_shifted(line, shift) for line in before[-1500:]]
            env = {
                **clean_environ(dict(os.environ)),
                "HEROKU_API_KEY": heroku_fake.TOKEN,
                "WATCHER_HEROKU_API_URL": heroku.url,
                "WATCHER_HEROKU_DATA_API_URL": heroku.url,
                "WATCHER_CUTOVER_AT": (heroku_log.START + shift).isoformat(),
                # One state store for all the runs, as on the operator's machine.
                "WATCHER_STATE_URL": f"sqlite:///{tmp}/state.db",
                "WATCHER_ROUTER_BASELINE_P95_MS": "",
            }
            command = [sys.executable, "-m", "watcher", "once"]
            command += [arg for check in LOG_CHECKS for arg in ("--check", check)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
            print(f"## {name}: log time {moment:%Y-%m-%d %H:%M}Z (T0 {heroku_log.START:%H:%M}Z)")
            print(
                f"$ watcher once --check logs --check router --check pg_metrics  # exit {done.returncode}"
            )
            print(done.stdout.rstrip() or done.stderr.rstrip())
            print()


def watch_marks(log: list[str], directory: Path) -> list[str]:
    """A 24-hour watch of `log` on a moved clock; the timeline posts it made."""
    clock = FakeClock(_at(log[0]))
    values = {
        "WATCHER_CUTOVER_AT": heroku_log.START.isoformat(),
        "WATCHER_STATE_URL": f"sqlite:///{directory / 'watch.db'}",
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "WATCHER_HEROKU_API_URL": API_URL,
        "WATCHER_HEROKU_DATA_API_URL": API_URL,
    }
    with settings_environ(values), contextlib.chdir(directory):
        settings = load_settings()
    store = StateStore.from_url(settings.state_url.get_secret_value())
    holder: dict[str, Watch] = {}
    follower_box: list[LogFollower] = []

    def chunks() -> Iterator[bytes]:
        watch = holder["watch"]
        next_cycle, next_minute = heroku_log.START, heroku_log.START
        for line in log:
            at = _at(line)
            while next_minute <= at:
                # The daemon's jobs at their times: a cycle every 15 min, marks every 30 s.
                clock.advance((next_minute - clock.now()).total_seconds())
                watch.escalate_logs()
                if next_minute >= next_cycle:
                    watch.full_cycle(LOG_CHECKS)
                    next_cycle += CYCLE
                watch.post_marks()
                next_minute += timedelta(minutes=1)
            if at > clock.now():
                clock.advance((at - clock.now()).total_seconds())
            yield line.encode() + b"\n"
        end = heroku_log.START + timedelta(hours=24, minutes=20)
        while clock.now() < end:
            clock.advance(60)
            if clock.now() >= next_cycle:
                watch.full_cycle(LOG_CHECKS)
                next_cycle += CYCLE
            watch.post_marks()
        follower_box[0].stop()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/log-sessions"):
            return httpx.Response(201, json={"logplex_url": SESSION_URL})
        if request.url.path.startswith("/sessions/"):
            return httpx.Response(200, headers={"Content-Type": PLAIN}, content=chunks())
        return httpx.Response(404)

    mounts = {"http://heroku.invalid": httpx.MockTransport(answer)}
    mounts["http://logplex.invalid"] = httpx.MockTransport(answer)
    with httpx.Client(mounts=mounts) as http:
        metrics = Metrics(CollectorRegistry(), __version__)
        notifier = Notifier(settings, store, clock, http, metrics)
        watch = Watch(settings, store, clock, http, metrics, notifier, Redactor([]))
        assert settings.heroku_api_key is not None
        config = HerokuConfig(
            API_URL, API_URL, settings.heroku_api_key.get_secret_value(), settings.app
        )
        follower = LogFollower(
            HerokuApi(http, config, clock),
            http,
            LogMatcher(catalogue(settings.app_role), settings.own_dyno),
            clock,
            on_match=watch.on_log_match,
            readers=watch.log_readers,
        )
        watch.attach(follower)
        holder["watch"] = watch
        follower_box.append(follower)
        follower.run()
    # No Slack token: the posts stay in the outbox, as composed.
    posts = [
        str(notifier.composer.render(m.notice)["text"])
        for m in store.outbox.messages()
        if m.alert_id is None and m.notice is not None
    ]
    store.close()
    return posts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.incidents")
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args(argv)
    log = list(heroku_log.lines(args.lines, before_t0=BEFORE_T0))
    print(
        f"# {len(log):,} generated lines, {BEFORE_T0.seconds // 60} min before T0 and 24 h after\n"
    )
    once_tables(log)
    with tempfile.TemporaryDirectory(prefix="incidents-") as tmp:
        for text in watch_marks(log, Path(tmp)):
            print(text)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
