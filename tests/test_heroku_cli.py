"""The real Heroku CLI against the project's fakes: they answer as Heroku does, or it says so.

`heroku pg:info`, `heroku logs -n 50` and `heroku logs --tail`, each bounded in time. The CLI
is the npm package, pinned (tests/support/heroku_cli.py) and installed by scripts/setup.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.heroku import APP, DB_PASSWORD, TOKEN, FakeHeroku
from tests.fakes.logplex import FakeLogplex
from tests.support import heroku_cli
from tests.support.clock import CUTOVER

ROOT = Path(__file__).resolve().parents[1]
# One command: a node start (about 5 s on these machines) and a few loopback requests.
COMMAND_TIMEOUT = 60.0


@pytest.fixture
def fakes() -> Iterator[tuple[FakeHeroku, FakeLogplex]]:
    with FakeHeroku() as heroku, FakeLogplex() as logplex:
        heroku.serve_logs(logplex)
        yield heroku, logplex


def heroku(args: list[str], fake: FakeHeroku, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(heroku_cli.executable()), *args],
        env=heroku_cli.environment(fake.url, home),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        cwd=home,
    )


def history(count: int) -> list[str]:
    return [
        f"{(CUTOVER + timedelta(seconds=i)).isoformat()} app[web.1]: GET /api/quotes/AAPL 200 #{i}"
        for i in range(count)
    ]


def test_the_pin_is_what_setup_installs() -> None:
    assert f"HEROKU_CLI_VERSION={heroku_cli.VERSION}" in (ROOT / "scripts" / "setup").read_text()


def test_pg_info_shows_each_field_once_as_the_fake_says(
    fakes: tuple[FakeHeroku, FakeLogplex], tmp_path: Path
) -> None:
    fake, _ = fakes
    addon = fake.add_postgres("standard-0", color="ORANGE")
    fake.set_info(addon, status="Available", connections="7/120")
    done = heroku(["pg:info", "-a", APP], fake, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "=== DATABASE_URL, HEROKU_POSTGRESQL_ORANGE_URL"
    fields = [line.split(":", 1)[0] for line in lines[1:] if ":" in line]
    assert len(fields) == len(set(fields)), done.stdout  # every field once
    values = {k: v.strip() for k, _, v in (line.partition(":") for line in lines[1:]) if v}
    assert values["Plan"] == "Standard 0"
    assert values["Status"] == "Available"
    assert values["Connections"] == "7/120"
    assert values["Add-on"] == addon.name
    # Its first call is the app's config vars (which the fake must have), then the rest.
    paths = [r.path for r in fake.requests]
    assert paths[:2] == [f"/apps/{APP}/config-vars", f"/apps/{APP}/addon-attachments"]
    assert f"/client/v11/databases/{addon.id}" in paths
    assert TOKEN not in done.stdout + done.stderr and DB_PASSWORD not in done.stdout


def test_pg_info_of_a_database_in_trouble(
    fakes: tuple[FakeHeroku, FakeLogplex], tmp_path: Path
) -> None:
    fake, _ = fakes
    fake.set_info(
        fake.add_postgres(), status="Over Plan Capacity: Action Required", connections="98/120"
    )
    done = heroku(["pg:info", "-a", APP], fake, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Status:" in done.stdout and "Over Plan Capacity: Action Required" in done.stdout
    assert "98/120" in done.stdout


def test_logs_shows_the_history_in_order(
    fakes: tuple[FakeHeroku, FakeLogplex], tmp_path: Path
) -> None:
    fake, logplex = fakes
    logplex.history = history(80)
    done = heroku(["logs", "-a", APP, "-n", "50"], fake, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == history(80)[-50:]
    assert fake.log_session_bodies == [{"lines": 50, "tail": False}]
    (session,) = logplex.requests
    assert session.headers["accept"] == "text/event-stream"


def test_logs_tail_shows_history_then_a_line_injected_while_it_runs(
    fakes: tuple[FakeHeroku, FakeLogplex], tmp_path: Path
) -> None:
    fake, logplex = fakes
    logplex.history = history(5)
    injected = f"{(CUTOVER + timedelta(minutes=5)).isoformat()} app[web.1]: injected while tailing"
    process = subprocess.Popen(
        [str(heroku_cli.executable()), "logs", "-a", APP, "--tail"],
        env=heroku_cli.environment(fake.url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout or ()],
        daemon=True,
    )
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while len(seen) < 5:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        assert seen == history(5)
        logplex.push(injected)
        seen.append(lines.get(timeout=10))
        assert seen[-1] == injected
        assert process.poll() is None  # still tailing
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert fake.log_session_bodies == [{"lines": 100, "tail": True}]
