"""What a newcomer meets first (issue 19): help, usage errors, reading commands that create
nothing, a scan waiting on a terminal, and where log lines go (SPEC section 8)."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LOOPBACK_DEFAULTS
from tests.fakes.healthz import FakeHealthz, healthy
from watcher.cli.main import _parser

ROOT = Path(__file__).resolve().parents[3]
# Every command the parser knows: a new one is held to the same help.
COMMANDS = tuple(
    next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
)
SLACK_TOKEN = "xoxb-usage-token-9e8d7c"


def watcher(
    *args: str, cwd: Path, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base |= {"PYTHONPATH": str(ROOT), **LOOPBACK_DEFAULTS}
    done = subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        env={**base, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


# -- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_what_it_does_reads_prints_and_exits_with(
    command: str, tmp_path: Path
) -> None:
    done = watcher(command, "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    text = done.stdout
    assert text.startswith(f"usage: watcher {command} ")
    assert "\nreads:  " in text and "\nprints: " in text
    assert "exit codes" in text and "\n  0  " in text and "\n  3  " in text
    # The contract is in the project's own words, not a file the user does not have.
    assert "SPEC" not in text


def test_scan_help_says_file_defaults_to_stdin(tmp_path: Path) -> None:
    text = watcher("scan", "--help", cwd=tmp_path).stdout
    assert "FILE        a log file, plain or gzip; - or nothing: stdin" in text
    assert "no line has a Heroku log line's shape" in text


def test_record_help_says_it_creates_no_store(tmp_path: Path) -> None:
    text = watcher("record", "--help", cwd=tmp_path).stdout
    assert "the state store only (WATCHER_STATE_URL; never created" in text


def test_an_unknown_option_prints_its_own_commands_usage(tmp_path: Path) -> None:
    done = watcher("once", "--bogus", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == (
        "usage: watcher once [-h] [--json] [--check NAME] [--notify]\n"
        "watcher once: error: unrecognized arguments: --bogus\n"
    )
    scan = watcher("scan", "a.log", "--bogus", cwd=tmp_path)
    assert scan.returncode == 3
    assert scan.stderr.startswith("usage: watcher scan [-h] [--json] [FILE]\n")


# -- reading commands create nothing -----------------------------------------------------------


@pytest.mark.parametrize("command", ["record", "report"])
def test_a_reading_command_without_a_store_says_so_and_creates_none(
    command: str, tmp_path: Path
) -> None:
    done = watcher(command, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == (
        f"watcher {command}: no state store at watcher-state.db: nothing has been watched with"
        " it (is WATCHER_STATE_URL the daemon's store?)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_store_in_a_missing_directory_is_not_made_silently(
    tmp_path: Path, healthz_server: FakeHealthz
) -> None:
    healthz_server.reply = healthy()
    url = f"sqlite:///{tmp_path}/x/y.db"
    done = watcher(
        "once",
        "--check",
        "healthz",
        "--notify",
        cwd=tmp_path,
        WATCHER_STATE_URL=url,
        WATCHER_HEALTHZ_URL=healthz_server.healthz_url,
    )
    assert done.returncode == 3
    assert (
        f"state store {tmp_path}/x/y.db: its directory {tmp_path}/x does not exist: create it,"
        " or fix WATCHER_STATE_URL"
    ) in done.stderr
    assert not (tmp_path / "x").exists()


# -- scan on a terminal ------------------------------------------------------------------------


def test_scan_on_a_terminal_says_it_reads_stdin(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "scan"],
        env={**base, "PYTHONPATH": str(ROOT), **LOOPBACK_DEFAULTS},
        cwd=tmp_path,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    try:
        os.write(leader, b"\x04")  # Ctrl-D: the end of what was typed
        out, err = process.communicate(timeout=30)
    finally:
        os.close(leader)
    assert err.decode().startswith(
        "watcher scan: reading a log from stdin (end with Ctrl-D); give a FILE to scan an"
        " exported log\n"
    )
    assert out.decode().startswith("CUTOVER-WATCHER SCAN UNKNOWN: 0 lines")


def test_scan_of_a_pipe_says_nothing_about_stdin(tmp_path: Path) -> None:
    line = b"2026-05-16T14:31:02.114233+00:00 app[web.1]: GET /healthz 200\n"
    done = watcher("scan", cwd=tmp_path, stdin=line)
    assert done.returncode == 0, done.stdout
    assert "reading a log from stdin" not in done.stderr


# -- where log lines go ------------------------------------------------------------------------


def test_once_json_stays_parseable_with_its_log_lines_on_stderr(
    tmp_path: Path, healthz_server: FakeHealthz
) -> None:
    healthz_server.reply = healthy()
    env = {"WATCHER_HEALTHZ_URL": healthz_server.healthz_url, "SLACK_BOT_TOKEN": SLACK_TOKEN}
    done = watcher("once", "--json", "--check", "healthz", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "OK"  # the whole of stdout is the object
    # INFO by default: the run's line, logfmt, in the daemon's format.
    assert done.stderr.splitlines() == [
        f'at=info logger=watcher.cli.main msg="checks done" healthz=OK seconds={_seconds(done)}'
    ]
    assert SLACK_TOKEN not in done.stdout + done.stderr


def test_scan_json_stays_parseable_and_log_level_warning_silences_info(tmp_path: Path) -> None:
    line = b"2026-05-16T14:31:02.114233+00:00 app[web.1]: sqlite3.OperationalError: locked\n"
    done = watcher("scan", "--json", cwd=tmp_path, stdin=line)
    assert json.loads(done.stdout)["state"] == "CRITICAL"
    assert done.stderr == (
        "at=info logger=watcher.cli.main msg=scanned lines=1 state=CRITICAL heroku_log=true\n"
    )
    # Never the matched line in the log: only counts and states.
    assert "sqlite3" not in done.stderr
    quiet = watcher("scan", "--json", cwd=tmp_path, stdin=line, WATCHER_LOG_LEVEL="warning")
    assert json.loads(quiet.stdout)["state"] == "CRITICAL"
    assert quiet.stderr == ""


def _seconds(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.rsplit("seconds=", 1)[1].strip()
