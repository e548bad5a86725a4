"""The README's first quick-start command stays true: a healthy stand-in is OK, a broken one is not."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.sandbox import EFFECTS, SESSION_SETTINGS, parse
from tests.support.stand_in import add_options

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


def _sandbox_json(options: list[str]) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") or k == "WATCHER_TEST_DATABASE_URL"
    }
    env |= {"PYTHONPATH": str(ROOT), **dict(s.split("=") for s in SESSION_SETTINGS.split())}
    # `--json` without `--`: the watcher's own options pass through.
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sandbox", *options, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode in (1, 2, 3), done.stdout + done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


# Two runs cover every option of the help's table (one value of --healthz, --log... each).
RUNS = [
    [
        *("--healthz", "sqlite", "--sentry", "operational", "--log", "grant-drift", "--pg", "busy"),
        *("--break", "grant", "--break", "table", "--break", "revision", "--break", "sequence"),
        *("--break", "analyze", "--session", "long-query", "--session", "idle-in-transaction"),
        *("--session", "blocked"),
    ],
    [
        *("--healthz", "maintenance", "--sentry", "unrelated", "--log", "memory"),
        *("--pg", "over-capacity", "--break", "alembic-grant", "--break", "nologin"),
        *("--credential", "limited"),
    ],
]


@pytest.mark.parametrize("options", RUNS)
def test_try_locally_help_says_what_each_option_shows(options: list[str]) -> None:
    """Each option's row of `scripts/try-locally --help` is what `watcher once` shows."""
    pairs = list(zip(options[::2], options[1::2], strict=True))
    checks = {c["name"]: c for c in _sandbox_json(options)["checks"]}
    for pair in pairs:
        name, state, finding = EFFECTS[pair]
        findings = {f["id"]: f["state"] for f in checks[name]["findings"]}
        if finding.startswith(f"{name}."):
            assert findings.get(finding) == state, (pair, checks[name])
        else:
            assert state in findings.values(), (pair, checks[name])


def test_every_option_value_has_a_row_in_the_help() -> None:
    covered = {pair for run in RUNS for pair in zip(run[::2], run[1::2], strict=True)}
    assert covered == set(EFFECTS)
    parser = argparse.ArgumentParser()
    add_options(parser)
    for action in parser._actions:
        for value in action.choices or ():
            default = action.default if not isinstance(action.default, list) else None
            if value != default and action.option_strings:
                assert (action.option_strings[0], value) in EFFECTS


def test_the_watchers_own_options_pass_through() -> None:
    args, once = parse(["--break", "grant", "--json", "--check", "grants", "--", "--notify"])
    assert args.breakages == ["grant"]
    assert once == ["--json", "--check", "grants", "--notify"]
