"""`scripts/try-locally --run`: the daemon against the stand-in, an incident typed in, Slack printed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[1]


def test_an_incident_opens_reminds_and_resolves_in_the_terminal() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") or k == "WATCHER_TEST_DATABASE_URL"
    }
    # Shorter still than --run's own: the test reads one reminder, not three.
    env |= {"WATCHER_HEALTHZ_INTERVAL": "1", "WATCHER_REMINDER_INTERVAL": "4"}
    tour = subprocess.Popen(
        [sys.executable, "-m", "tests.support.sandbox", "--run"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert tour.stdin is not None and tour.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(tour.stdout or ()), daemon=True)
    reader.start()

    def printed() -> str:
        return "".join(lines)

    def type_in(command: str) -> None:
        assert tour.stdin is not None
        tour.stdin.write(command + "\n")
        tour.stdin.flush()

    try:
        wait_until(printed, lambda out: "# ready" in out, timeout=120, what="the stand-in")
        assert "[slack" not in printed()  # a healthy stand-in: nothing to say
        type_in("sqlite")
        wait_until(
            printed,
            lambda out: "still CRITICAL" in out,
            timeout=60,
            what="the incident and its reminder",
        )
        type_in("fix")
        wait_until(printed, lambda out: "RESOLVED" in out, timeout=60, what="the resolve")
        # A line written to the app's log opens the next incident.
        type_in("log app[web.1]: sqlite3.OperationalError: database is locked")
        wait_until(
            printed, lambda out: "prod logs: `sqlite" in out, timeout=60, what="the log line"
        )
        type_in("quit")
        assert tour.wait(30) == 0
    finally:
        if tour.poll() is None:
            tour.kill()
            tour.wait(10)
    reader.join(10)
    out = printed()
    post, *rest = out.split("[slack ")[1:]
    assert "#ops-alerts · new message" in post and "· mentions <@U024BE7LH>" in post
    assert "<@U024BE7LH> CRITICAL raxx-api-prod healthz: `db=sqlite" in post
    assert any("reply in thread" in m and "still CRITICAL" in m for m in rest)
    assert any("reply in thread" in m and "resolved: `healthz.db_sqlite`" in m for m in rest)
    assert any("edited" in m and "RESOLVED (was CRITICAL)" in m for m in rest)
    assert "watcher run stopped (exit 0)" in out
