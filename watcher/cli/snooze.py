"""`watcher snooze TARGET --for DURATION --reason TEXT [--by NAME]`, `--list`, `--cancel TARGET`.

Planned work (a restart, a rollback rehearsal): the target's findings are still observed,
recorded and counted for the RM-11 gate, but open no alert until the snooze ends. Writes the
state store only; the daemon (or the next `once --notify`) announces the snooze and its end.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from watcher.cli import help as texts
from watcher.cli.common import NO_STORE, default_by, fail, one_line_errors

if TYPE_CHECKING:
    from checks.registry import Registry
    from checks.sources.clock import Clock
    from watcher.redact import Redactor
    from watcher.settings import Settings

NAME = "snooze"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        NAME,
        help="planned work: record a target's findings without escalating them for a while",
        **texts.described(texts.SNOOZE, texts.SNOOZE_EXIT),
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="a check (healthz), a finding id (logs.restart_loop) or a prefix ending in . (logs.)",
    )
    parser.add_argument("--for", dest="duration", metavar="DURATION", help="90s, 30m, 2h, 1h30m")
    parser.add_argument("--reason", metavar="TEXT", help="why (posted, and listed in the record)")
    parser.add_argument("--by", metavar="NAME", help="who snoozes (default: $USER, DYNO)")
    parser.add_argument("--list", action="store_true", help="list the snoozes in force")
    parser.add_argument("--cancel", metavar="TARGET", help="end TARGET's snooze now")
    one_line_errors(parser)


def run(
    args: argparse.Namespace,
    settings: Settings,
    clock: Clock,
    redactor: Redactor,
    checks: Registry | None = None,
) -> int:
    from watcher.store.state import StateStore, StateStoreError

    modes = [bool(args.list), args.cancel is not None, args.target is not None]
    if sum(modes) != 1:
        return fail(NAME, "give one of TARGET (with --for and --reason), --list or --cancel TARGET")
    store = StateStore.from_url(settings.state_url.get_secret_value())
    try:
        if args.list:
            return _list(store, clock, redactor)
        by = (args.by or default_by()).strip()
        if not by:
            return fail(NAME, "--by is empty")
        if not store.exists():
            return fail(NAME, NO_STORE)
        if args.cancel is not None:
            return _cancel(store, args.cancel, by, clock, redactor)
        return _add(store, args, by, settings, clock, redactor, checks)
    except StateStoreError as exc:
        print(redactor(f"watcher snooze: {exc}"), file=sys.stderr)
        return 3
    finally:
        store.close()


def _add(
    store: Any,
    args: argparse.Namespace,
    by: str,
    settings: Settings,
    clock: Clock,
    redactor: Redactor,
    checks: Registry | None,
) -> int:
    from checks.logparse.log_patterns import catalogue
    from checks.registry import Registry
    from watcher.alerting.snooze_targets import parse_duration, target_problem

    target = args.target.strip()
    names = (checks or Registry.default()).names
    patterns = [p.id for p in catalogue(settings.app_role)]
    problem = target_problem(target, names, patterns)
    if problem is not None:
        return fail(NAME, problem)
    if args.duration is None:
        return fail(NAME, "--for DURATION is missing (90s, 30m, 2h or 1h30m)")
    duration = parse_duration(args.duration)
    if duration is None:
        return fail(NAME, f"--for {args.duration!r} is not a duration (90s, 30m, 2h or 1h30m)")
    if duration.total_seconds() > settings.snooze_max:
        return fail(
            NAME,
            f"--for {args.duration} is longer than WATCHER_SNOOZE_MAX"
            f" ({int(settings.snooze_max)} s)",
        )
    reason = (args.reason or "").strip()
    if not reason:
        return fail(NAME, "--reason is empty: say why (it is posted and kept in the record)")
    now = clock.now()
    # Posted to Slack and kept: a secret pasted by mistake is masked before either.
    reason = redactor(" ".join(reason.split()))
    snooze = store.snoozes.add(target, now, now + duration, reason, redactor(by))
    print(
        redactor(
            f"snoozed {target} until {snooze.ends_at:%Y-%m-%d %H:%M:%S}Z by {by}: {snooze.reason};"
            " its findings are recorded, not escalated; the watcher announces it at its next"
            " delivery"
        )
    )
    return 0


def _cancel(store: Any, target: str, by: str, clock: Clock, redactor: Redactor) -> int:
    now = clock.now()
    cancelled = store.snoozes.cancel(target.strip(), by, now)
    if not cancelled:
        active = ", ".join(s.target for s in store.snoozes.active(now)) or "none"
        return fail(NAME, f"no snooze of {target!r} is in force; in force: {active}")
    print(
        redactor(
            f"cancelled the snooze of {target} ({len(cancelled)}) as {by}; the watcher posts"
            " its end at its next delivery, and what is still CRITICAL escalates"
        )
    )
    return 0


def _list(store: Any, clock: Clock, redactor: Redactor) -> int:
    # A reading command: never creates the store.
    if not store.exists():
        print(f"no snooze in force ({NO_STORE})")
        return 0
    active = store.snoozes.active(clock.now())
    if not active:
        print("no snooze in force")
        return 0
    rows = [("TARGET", "UNTIL", "BY", "REASON")] + [
        (s.target, f"{s.ends_at:%Y-%m-%d %H:%M:%S}Z", s.by, s.reason) for s in active
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in rows]
    print(redactor("\n".join(lines)))
    return 0
