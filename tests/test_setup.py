"""scripts/setup says what it does, one line per stage on stderr, and installs per purpose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STAGES = {
    "try": ["Python 3.11+", "PostgreSQL server", "virtual environment", "this package"],
    "fakes": [
        "Python 3.11+",
        "PostgreSQL server",
        "virtual environment",
        "this package",
        "Heroku CLI",
    ],
    "test": [
        "Python 3.11+",
        "PostgreSQL server",
        "Prometheus, Alertmanager, Pushgateway",
        "Chromium",
        "virtual environment",
        "this package and its test extra",
        "Heroku CLI",
    ],
}


@pytest.mark.parametrize("purpose", list(STAGES))
def test_setup_prints_one_line_per_stage_on_stderr(purpose: str) -> None:
    """Run where the suite runs (set up already): every stage is there and says ok."""
    done = subprocess.run(
        ["scripts/setup", purpose],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # `scripts/try-locally -- --json | jq` reads only the JSON
    lines = [line for line in done.stderr.splitlines() if line.startswith("scripts/setup: ")]
    assert len(lines) == len(STAGES[purpose]), done.stderr
    for line, stage in zip(lines, STAGES[purpose], strict=True):
        assert line.removeprefix("scripts/setup: ").startswith(stage), line
        assert " ok" in line, line


def test_try_locally_needs_neither_prometheus_nor_chromium_nor_node() -> None:
    script = (ROOT / "scripts" / "setup").read_text()
    test_only = script[script.index('if [ "$purpose" = test ]; then') :]
    test_only = test_only[: test_only.index("\nfi\n")]
    assert "prometheus" in test_only and "chromium" in test_only
    assert "scripts/setup try" in (ROOT / "scripts" / "try-locally").read_text()
    # The Heroku CLI (Node.js and npm) is installed for `fakes` and `test` only.
    assert 'if [ "$purpose" != try ]; then' in script


def test_an_unknown_purpose_is_a_usage_error() -> None:
    done = subprocess.run(
        ["scripts/setup", "bogus"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "usage: scripts/setup [try|fakes|test]" in done.stderr
