"""The table and the JSON built from a run report."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from checks.result import Finding, Result, State
from tests.fakes.http import closed_port
from tests.support.clock import CUTOVER
from watcher.checking.runner import CheckReport
from watcher.cli.once_output import RunReport, to_json, to_table


def report() -> RunReport:
    return RunReport(
        "raxx-api-prod",
        CUTOVER,
        [
            CheckReport(
                "healthz",
                "5.1",
                Result.from_findings(
                    [Finding("healthz.db_sqlite", State.CRITICAL, "db=sqlite")], ""
                ),
                0.0414,
            ),
            CheckReport("tables", "7.2", Result.from_findings([], "35 tables"), 0.002),
            CheckReport("sentry", "5.5", Result.unknown("not implemented yet"), 0.0),
        ],
    )


def test_json_rounds_durations_and_names_states() -> None:
    data = to_json(report())
    assert data["checked_at"] == "2026-05-16T14:48:42Z"
    assert (data["state"], data["exit_code"]) == ("CRITICAL", 2)
    assert data["checks"][0]["duration_seconds"] == 0.041
    assert data["checks"][0]["findings"][0]["state"] == "CRITICAL"


def test_table_headline_counts_problems() -> None:
    text = to_table(report(), colour=False)
    assert text.splitlines()[0] == (
        "CUTOVER-WATCHER CRITICAL: raxx-api-prod at 2026-05-16 14:48:42Z (1 critical, 1 unknown)"
    )
    assert "\033[" not in text


def test_colour_marks_states_when_asked() -> None:
    text = to_table(report(), colour=True)
    assert "\033[31;1mCRITICAL\033[0m" in text and "\033[32mOK\033[0m" in text


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        "WATCHER_HEALTHZ_URL": f"http://127.0.0.1:{closed_port()}/",
    }
    controller, terminal = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "watcher", "once", "--check", "healthz"],
            stdout=terminal,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        shown = os.read(controller, 65536).decode()
    finally:
        os.close(controller)
        os.close(terminal)
    assert "\033[31;1mCRITICAL" in shown
    plain = subprocess.run(
        [sys.executable, "-m", "watcher", "once", "--check", "healthz"],
        capture_output=True,
        text=True,
        env={**env, "NO_COLOR": "1"},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert "CRITICAL" in plain.stdout and "\033[" not in plain.stdout
