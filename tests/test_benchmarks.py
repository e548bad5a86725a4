"""The scan benchmark's count check, on a small log: the same counts as grep with the rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scan_counts_equal_grep_with_the_same_rules() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.scan_vs_grep",
            "--lines",
            "60000",
            "--runs",
            "1",
            "--counts-only",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "counts: the same (PASS" in done.stdout
    assert "restart_loop                  1        1" in done.stdout
