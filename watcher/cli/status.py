"""`watcher status [--json]`: what the watch knows now, from the state store alone
(docs/incidents.md).

No outside call, and never a new store: an empty or missing one says so on stderr (exit 3).
Exit code: the state of the worst open alert (0 when none).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watcher.cli import help as texts
from watcher.cli.common import NO_STORE

if TYPE_CHECKING:
    from checks.sources.clock import Clock
    from watcher.redact import Redactor
    from watcher.settings import Settings
    from watcher.store.state import StateStore

NAME = "status"
_WORST = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
# The daemon writes its heartbeat every timeline pass; older than two cycles: not running.
STALE_CYCLES = 2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        NAME,
        help="what the watch knows now, from the state store alone",
        **texts.described(texts.STATUS, texts.STATUS_EXIT),
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of the table (docs/incidents.md)"
    )


def run(args: argparse.Namespace, settings: Settings, clock: Clock, redactor: Redactor) -> int:
    from watcher.report.from_store import is_empty
    from watcher.store.state import StateStore, StateStoreError

    store = StateStore.from_url(settings.state_url.get_secret_value())
    try:
        # A new store (never watched into) says nothing: it is not a status.
        if not store.exists() or is_empty(store):
            print(f"watcher status: {NO_STORE}", file=sys.stderr)
            return 3
        data, code = status(store, settings, clock.now())
    except StateStoreError as exc:
        print(redactor(f"watcher status: {exc}"), file=sys.stderr)
        return 3
    finally:
        store.close()
    if args.json:
        print(json.dumps(redactor.scrub(data), indent=2))
    else:
        print(redactor(to_table(data)))
    return code


def status(store: StateStore, settings: Settings, now: datetime) -> tuple[dict[str, Any], int]:
    """The JSON object and the exit code."""
    from checks.registry import NAMES
    from watcher.notify.slack import fix_for
    from watcher.store.alerts import FIRING
    from watcher.timeline import phases, rm11_gate

    t0 = settings.cutover_at or store.facts.watch_start()
    gate: dict[str, Any] = {"open": None, "reasons": []}
    next_mark = None
    phase = None
    if t0 is not None:
        phase = phases.phase(t0, now)
        verdict = rm11_gate.gate_verdict(store, t0, now)
        kept = store.facts.gate() if now >= t0 + phases.ACTIVE_WATCH else None
        gate = {"open": verdict.open if kept is None else kept, "reasons": verdict.reasons}
        posted = {m.name for m in store.timeline.marks()}
        upcoming = [n for n in phases.MARKS if n not in posted]
        if upcoming:
            next_mark = {"name": upcoming[0], "at": _iso(phases.due_at(t0, upcoming[0]))}
    incident = store.incidents.open()
    firing = store.alerts.find([FIRING])
    by_id = {a.id: a for a in firing}
    latest = {row.check: row for row in store.history.observations(since=now - timedelta(days=2))}
    checks = [
        {"name": name, "state": last.state, "summary": last.summary, "at": _iso(last.at)}
        for name in [*NAMES, *sorted(set(latest) - set(NAMES))]
        if (last := latest.get(name)) is not None
    ]
    counts = store.outbox.counts()
    failed: dict[tuple[str, str], int] = {}
    for item in store.outbox.messages("failed"):
        key = (item.channel, item.last_error or "unknown")
        failed[key] = failed.get(key, 0) + 1
    beat = store.heartbeat.last()
    running = None
    if beat is not None:
        cycle = max(beat.cycle_seconds, settings.check_interval)
        running = now - beat.seen_at <= timedelta(seconds=STALE_CYCLES * cycle)
    data: dict[str, Any] = {
        "t0": None if t0 is None else _iso(t0),
        "phase": phase,
        "elapsed_seconds": None if t0 is None else round((now - t0).total_seconds()),
        "next_mark": next_mark,
        "gate": gate,
        "incident": None
        if incident is None
        else {
            "id": incident.id,
            "opened_at": _iso(incident.opened_at),
            "acknowledged_by": incident.acknowledged_by,
            "acknowledged_at": None
            if incident.acknowledged_at is None
            else _iso(incident.acknowledged_at),
            "alerts": [
                {"id": m.alert_id, "state": m.state, "since": _iso(m.since)}
                for m in incident.members
            ],
        },
        "alerts": [
            {"id": a.id, "state": a.severity, "since": _iso(a.fired_at or a.first_seen)}
            for a in firing
        ],
        "snoozes": [
            {"target": s.target, "until": _iso(s.ends_at), "reason": s.reason, "by": s.by}
            for s in store.snoozes.active(now)
        ],
        "checks": checks,
        "outbox": {
            "pending": counts.get("pending", 0),
            "failed": [
                {
                    "channel": channel,
                    "reason": reason,
                    "count": n,
                    "fix": fix_for(reason) if channel == "slack" else None,
                }
                for (channel, reason), n in sorted(failed.items())
            ],
        },
        "daemon_seen_at": None if beat is None else _iso(beat.seen_at),
        "daemon_running": running,
    }
    # Worst as the exit codes order states: CRITICAL, then UNKNOWN (a blind check), then WARNING.
    worst = max((_WORST.get(a.severity, 2) for a in by_id.values()), default=0)
    return data, [0, 1, 3, 2][worst]


def to_table(data: dict[str, Any]) -> str:
    """The same facts, for a person on a one-off dyno."""
    lines = []
    if data["t0"] is None:
        lines.append("T0: not known yet (WATCHER_CUTOVER_AT unset and the daemon never started)")
    else:
        hours = (data["elapsed_seconds"] or 0) / 3600
        lines.append(f"T0: {data['t0']} · phase {data['phase']} · {hours:.1f} h elapsed")
    if data["next_mark"]:
        lines.append(f"next mark: {data['next_mark']['name']} at {data['next_mark']['at']}")
    gate = data["gate"]
    word = {True: "open", False: "closed", None: "not known yet"}[gate["open"]]
    lines.append(f"RM-11 gate: {word}" + "".join(f"\n  - {r}" for r in gate["reasons"]))
    incident = data["incident"]
    if incident is None:
        lines.append("incident: none open")
    else:
        ack = incident["acknowledged_by"]
        lines.append(
            f"incident {incident['id']}: open since {incident['opened_at']}, "
            + (f"acknowledged by {ack}" if ack else "NOT acknowledged (reminders ping)")
        )
        lines += [f"  {a['state']:<9} {a['id']} since {a['since']}" for a in incident["alerts"]]
    others = [
        a
        for a in data["alerts"]
        if not incident or a["id"] not in {m["id"] for m in incident["alerts"]}
    ]
    lines += [
        f"alert {a['state']} {a['id']} since {a['since']} (not in an incident)" for a in others
    ]
    if data["snoozes"]:
        lines.append("snoozes in force:")
        lines += [
            f"  {s['target']} until {s['until']} by {s['by']}: {s['reason']}"
            for s in data["snoozes"]
        ]
    else:
        lines.append("snoozes: none")
    lines.append("checks (last observation):")
    lines += [
        f"  {c['name']:<15} {c['state']:<9} {c['at']}  {c['summary']}" for c in data["checks"]
    ]
    outbox = data["outbox"]
    lines.append(f"outbox: {outbox['pending']} pending")
    lines += [
        f"  failed for good: {f['count']} to {f['channel']} ({f['reason']})"
        + (f"; fix: {f['fix']}" if f["fix"] else "")
        for f in outbox["failed"]
    ]
    seen = data["daemon_seen_at"]
    if seen is None:
        lines.append("daemon: never seen (watcher run has not written to this store)")
    elif data["daemon_running"]:
        lines.append(f"daemon: running (last seen {seen})")
    else:
        lines.append(f"daemon: NOT running (last seen {seen}, over two cycles ago)")
    return "\n".join(lines)


def _iso(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%SZ}"
