"""The README's first quick-start command stays true: a healthy stand-in is OK, a broken one is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("options", "exit_code", "words"),
    [
        ([], 0, "CUTOVER-WATCHER OK"),
        (
            [
                "--healthz",
                "sqlite",
                "--log",
                "grant-drift",
                "--pg",
                "over-capacity",
                "--sentry",
                "operational",
                "--break",
                "grant",
                "--break",
                "revision",
            ],
            2,
            "CUTOVER-WATCHER CRITICAL",
        ),
    ],
)
def test_try_locally(options: list[str], exit_code: int, words: str) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") or k == "WATCHER_TEST_DATABASE_URL"
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sandbox", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert words in done.stdout
    if exit_code:
        for check in ("healthz", "logs", "sentry", "pg_info", "grants"):
            assert f"CRITICAL  {check}" in done.stdout
        assert "WARNING   migrations" in done.stdout


def test_try_locally_shows_each_pg_activity_condition() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") or k == "WATCHER_TEST_DATABASE_URL"
    }
    env |= {
        "PYTHONPATH": str(ROOT),
        "WATCHER_PG_LONG_QUERY_SECONDS": "1",
        "WATCHER_PG_IDLE_IN_TRANSACTION_SECONDS": "1",
        "WATCHER_PG_BLOCKED_SECONDS": "1",
    }
    options = ["--break", "sequence", "--break", "analyze", "--session", "blocked"]
    once = ["--check", "pg_activity", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sandbox", *options, "--", *once],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    (check,) = json.loads(done.stdout)["checks"]
    assert sorted(f["id"] for f in check["findings"]) == [
        "pg_activity.blocked",
        "pg_activity.idle_in_transaction",
        "pg_activity.long_query",
        "pg_activity.not_analyzed",
        "pg_activity.sequence_behind",
    ]
    assert (
        "SELECT setval('public.users_id_seq', (SELECT max(id) FROM public.users));"
        in (check["summary"])
    )
