"""`scripts/fakes`: every fake served until stopped, with the `export` lines that point at them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import heroku_cli
from tests.support.postgres import PgServer

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0


def read_exports(process: subprocess.Popen[str]) -> dict[str, str]:
    """The `export NAME=value` lines, up to the `# ready` line."""
    exports: dict[str, str] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line or line.startswith("# ready"):
            break
        name, _, value = line.removeprefix("export ").rstrip("\n").partition("=")
        (exports[name],) = shlex.split(value)
    return exports


def test_fakes_serve_the_watcher_and_the_heroku_cli_until_stopped(
    pg_server: PgServer, tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WATCHER_", "HEROKU_", "SENTRY_", "SLACK_", "DATABASE_"))
    }
    # The session's PostgreSQL server, as the tests use it: no second server to start.
    env["WATCHER_TEST_DATABASE_URL"] = pg_server.admin_url
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.serve_fakes", "--pg", "busy"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        exports = read_exports(process)
        for name in (
            "HEROKU_HOST",
            "HEROKU_DATA_HOST",
            "HEROKU_API_KEY",
            "WATCHER_HEROKU_API_URL",
            "WATCHER_HEROKU_DATA_API_URL",
            "WATCHER_HEALTHZ_URL",
            "WATCHER_SENTRY_API_URL",
            "WATCHER_SLACK_API_URL",
            "DATABASE_URL",
        ):
            assert exports.get(name), name
        assert exports["HEROKU_HOST"].startswith("http://127.0.0.1:")
        assert exports["HEROKU_DATA_HOST"] == "127.0.0.1"
        once = subprocess.run(
            [sys.executable, "-m", "watcher", "once", "--json"],
            env={**env, **exports, "PYTHONPATH": str(ROOT), "DYNO": "worker.1"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        states = {c["name"]: c["state"] for c in json.loads(once.stdout)["checks"]}
        assert states["healthz"] == "OK" and states["logs"] == "OK" and states["sentry"] == "OK"
        assert states["grants"] == "OK"
        assert states["pg_info"] == "CRITICAL"  # --pg busy: 21 of the SOP's ceiling of 25
        cli = subprocess.run(
            [str(heroku_cli.executable()), "pg:info", "-a", exports["WATCHER_APP"]],
            env={**heroku_cli.environment(exports["HEROKU_HOST"], tmp_path), **exports},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Connections:           21/120" in cli.stdout, cli.stdout + cli.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
