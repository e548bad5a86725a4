"""`watcher doctor [--json]`: every integration checked, nothing posted (docs/before-t0.md)."""

from __future__ import annotations

import json

import httpx

from checks.sources.clock import Clock
from watcher.doctor.examine import examine
from watcher.doctor.rows import Context
from watcher.parts import USER_AGENT
from watcher.redact import Redactor
from watcher.settings import Settings


def doctor(
    settings: Settings,
    clock: Clock,
    redactor: Redactor,
    as_json: bool,
    http: httpx.Client | None = None,
) -> int:
    """Print one row per integration (a table, or docs/commands.md's JSON); return the exit code."""
    client = http or httpx.Client(
        timeout=settings.check_timeout, headers={"User-Agent": USER_AGENT}
    )
    try:
        diagnosis = examine(Context(settings, client, clock))
    finally:
        if http is None:
            client.close()
    if as_json:
        # Masked before encoding: JSON escaping would hide a secret from a plain search.
        print(json.dumps(redactor.scrub(diagnosis.to_json()), indent=2))
        return diagnosis.exit_code
    width = max(len(r.name) for r in diagnosis.rows)
    lines = []
    for row in diagnosis.rows:
        lines.append(f"{row.name:<{width}}  {row.result.value:<4}  {row.detail}")
        if row.fix:
            lines.append(f"{'':<{width}}        -> {row.fix}")
    verdict = {
        0: "every integration answered as the watch needs it",
        1: "nothing failed, but an integration the watch needs is not configured (SKIP)",
        2: "something failed: fix the FAIL rows, then run watcher doctor again",
    }[diagnosis.exit_code]
    lines.append("")
    lines.append(f"watcher doctor: {verdict} (exit {diagnosis.exit_code})")
    print(redactor("\n".join(lines)))
    return diagnosis.exit_code
