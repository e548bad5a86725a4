"""`scripts/try-locally --run`: `watcher run` against the stand-in, every Slack message printed.

The stand-in (`tests.support.stand_in`) stays up; Slack's stand-in prints each message it
receives (channel, thread, mention, text); `watcher run` runs with short intervals, its own
log in a file. Commands typed on stdin break things while it runs: `sqlite` makes /healthz say
`db: sqlite` (an incident opens), `fix` puts it right (it resolves), `log LINE` writes a line
to the app's log, `quit` (or Ctrl-C, or end of input) stops everything.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

from tests.fakes import slack as slack_fake
from tests.fakes.healthz import healthy
from tests.fakes.slack import Edit, FakeSlack, Posted
from tests.support.stand_in import INCIDENT_LINES, StandIn

# Short enough to see an incident open, remind and resolve in about a minute; any of these
# set in the environment wins.
SHORT_INTERVALS = {
    "WATCHER_HEALTHZ_INTERVAL": "3",
    "WATCHER_CHECK_INTERVAL": "30",
    "WATCHER_REMINDER_INTERVAL": "20",
    "WATCHER_CHECK_TIMEOUT": "5",
    "WATCHER_SLACK_MENTION": f"<@{slack_fake.ON_CALL}>",
}
STOP_SECONDS = 15.0
_MENTION = re.compile(
    r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|<!subteam\^[A-Z0-9]+(?:\|[^>]*)?>|<!here>|<!channel>"
)
HELP = """\
Commands (type one and press Enter):
  sqlite         /healthz answers db: sqlite -> an incident opens at the next probe (a few s),
                 a reminder follows in its thread every WATCHER_REMINDER_INTERVAL
  fix            /healthz answers db: postgresql again -> resolved after 2 good probes
  grant-drift    write a `permission denied for table` line to the app's log
  log LINE       write LINE to the app's log (e.g. `log app[web.1]: database is locked`);
                 a log incident resolves after 30 min without a new match, as in production
  help, quit     this text; stop (Ctrl-C or end of input stop too)"""


class SlackPrinter:
    """Prints each message the Slack stand-in receives, one readable block per message."""

    def __init__(self, slack: FakeSlack, out: TextIO) -> None:
        self._names = {cid: name for name, cid in slack.channels.items()}
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, message: Posted, edit: Edit | None) -> None:
        channel = f"#{self._names.get(message.channel, message.channel)}"
        if edit is not None:
            what = f"message {message.ts} edited"
            text = edit.text or ""
        elif message.thread_ts is not None:
            what = f"reply in thread {message.thread_ts}"
            text = message.text or ""
        else:
            what = f"new message {message.ts}"
            text = message.text or ""
        mentions = _MENTION.findall(text)
        ping = f" · mentions {', '.join(mentions)}" if mentions else ""
        body = _readable(text)
        with self._lock:
            print(
                f"\n[slack {datetime.now(UTC):%H:%M:%S}] {channel} · {what}{ping}", file=self._out
            )
            for line in body.splitlines() or [""]:
                print(f"    {line}", file=self._out)
            self._out.flush()


def _readable(text: str) -> str:
    """Slack's escaping undone for the terminal: `&lt;` reads as `<` again."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def run_locally(running: StandIn, commands: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Run `watcher run` against `running` until told to stop; returns the daemon's exit code."""
    running.slack.listeners.append(SlackPrinter(running.slack, out))
    with tempfile.TemporaryDirectory(prefix="watcher-run-") as cwd:
        log_path = Path(cwd) / "watcher-run.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            **running.environment(),
            **{k: v for k, v in SHORT_INTERVALS.items() if k not in os.environ},
            "WATCHER_STATE_URL": f"sqlite:///{Path(cwd) / 'state.db'}",
            "DYNO": "worker.1",
        }
        with log_path.open("w") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "watcher", "run"],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _on_terminate_interrupt()
        try:
            print(
                f"$ watcher run   (its log: {log_path}; healthz every"
                f" {env['WATCHER_HEALTHZ_INTERVAL']} s, reminders every"
                f" {env['WATCHER_REMINDER_INTERVAL']} s)\n"
                f"Slack's stand-in prints every message it receives below.\n{HELP}\n"
                "# ready",
                file=out,
                flush=True,
            )
            _obey(running, commands, out, daemon)
        except KeyboardInterrupt:
            pass
        finally:
            code = _stop(daemon)
        print(f"watcher run stopped (exit {code})", file=out, flush=True)
        return 0 if code in (0, -signal.SIGTERM) else code


def _obey(running: StandIn, commands: TextIO, out: TextIO, daemon: subprocess.Popen[bytes]) -> None:
    for raw in commands:
        line = raw.strip()
        word, _, rest = line.partition(" ")
        if daemon.poll() is not None:
            print(f"watcher run has stopped (exit {daemon.returncode}): see its log", file=out)
            return
        if word == "quit":
            return
        if word == "sqlite":
            running.healthz.reply = healthy(db="sqlite")
            said = "/healthz now answers db: sqlite"
        elif word == "fix":
            running.healthz.reply = healthy()
            said = "/healthz answers db: postgresql again"
        elif word in ("grant-drift", "log") and (rest or word != "log"):
            text = rest if word == "log" else INCIDENT_LINES["grant-drift"]
            running.logplex.push(f"{datetime.now(UTC).isoformat()} {text}")
            said = f"written to the app's log: {text}"
        elif word == "help" or not word:
            said = HELP
        else:
            said = f"unknown command {line!r}; type help"
        print(f"> {said}", file=out, flush=True)


def _on_terminate_interrupt() -> None:
    """SIGTERM stops the tour as Ctrl-C does."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _stop(daemon: subprocess.Popen[bytes]) -> int:
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(STOP_SECONDS)
    return daemon.returncode
