"""The `watcher` command line (docs/commands.md)."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, NoReturn

from checks.registry import NAMES
from checks.result import State
from checks.sources.clock import Clock, SystemClock
from watcher import __version__
from watcher.cli import ack, snooze, status
from watcher.cli import help as texts
from watcher.cli.rehearse_options import add_rehearse_parser
from watcher.redact import Redactor

if TYPE_CHECKING:
    from datetime import datetime

    from checks.registry import Registry
    from watcher.checking.runner import CheckReport
    from watcher.notify.delivery import DeliveryReport
    from watcher.parts import Parts
    from watcher.settings import Settings

# Each command imports what only it needs: `watcher scan` is timed against grep, and the HTTP
# client and the checks are a third of the start-up time.

EXIT_UNKNOWN = State.UNKNOWN.value
# Commands in their own modules (watcher/cli/<name>.py): `register(commands)`, `run(...)`.
_STEERING = {"ack": ack, "snooze": snooze, "status": status}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3 (UNKNOWN), as monitoring plugins do: 2 would read as CRITICAL."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNKNOWN, f"{self.prog}: error: {message}\n")


def _command(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    summary: str,
    description: str,
    exit_codes: str,
) -> _Parser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=exit_codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser(names: Sequence[str] = NAMES) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="watcher",
        description=texts.TOP,
        epilog=texts.EXIT_CODES.format(unknown="see each command's --help"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cutover-watcher {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    once = _command(
        commands,
        "once",
        "run every check once and exit with the overall state",
        texts.ONCE + "\n\n" + texts.logging_note(),
        texts.EXIT_CODES.format(unknown=texts.ONCE_UNKNOWN),
    )
    once.add_argument(
        "--json", action="store_true", help="print JSON instead of the table (docs/commands.md)"
    )
    once.add_argument(
        "--check",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this check (repeatable): {', '.join(names)}",
    )
    once.add_argument(
        "--notify",
        action="store_true",
        help="escalate to Slack (and Alertmanager) with the state the daemon keeps",
    )
    _command(
        commands,
        "run",
        "the daemon for the 24-hour watch (a Heroku worker)",
        texts.RUN,
        texts.RUN_EXIT,
    )
    _command(
        commands,
        "record",
        "print the Section 8 fields the watch can fill, as Markdown",
        texts.RECORD + "\n\n" + texts.logging_note(),
        texts.RECORD_EXIT,
    )
    report = _command(
        commands,
        "report",
        "the whole watch on one page with charts (Markdown, or HTML with --html)",
        texts.REPORT + "\n\n" + texts.logging_note(),
        texts.REPORT_EXIT,
    )
    report.add_argument(
        "--html",
        metavar="FILE",
        help="write one self-contained HTML page to FILE (- for stdout)",
    )
    scan = _command(
        commands,
        "scan",
        "scan an exported Heroku log with the pattern catalogue",
        texts.SCAN + "\n\n" + texts.logging_note(),
        texts.EXIT_CODES.format(unknown=texts.SCAN_UNKNOWN),
    )
    scan.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="a log file, plain or gzip; - or nothing: stdin",
    )
    scan.add_argument(
        "--json", action="store_true", help="print JSON instead of the table (docs/commands.md)"
    )
    for command in _STEERING.values():
        command.register(commands)
    doctor = commands.add_parser(
        "doctor",
        help="before T0: check every integration's token, reach and rights; posts nothing",
        **texts.described(texts.DOCTOR, texts.DOCTOR_EXIT),
    )
    doctor.add_argument(
        "--json",
        action="store_true",
        help="print JSON rows instead of the table (docs/before-t0.md)",
    )
    add_rehearse_parser(commands)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name is not None:
            found: argparse.ArgumentParser | None = action.choices.get(name)
            return found
    return None


def main(
    argv: Sequence[str] | None = None, clock: Clock | None = None, checks: Registry | None = None
) -> int:
    """Entry point of the console script; returns the exit code. `checks`: the registry's."""
    parser = _parser(NAMES if checks is None else checks.names)
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command in _STEERING:
        # `ack`, `snooze`, `status`: a usage error is one line (docs/incidents.md).
        print(
            f"watcher {args.command}: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr
        )
        return EXIT_UNKNOWN
    if unknown:
        # Reported with its own command's usage, not the top one.
        sub = _subparser(parser, getattr(args, "command", None))
        (sub or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "scan":
        return _scan_command(args, clock or SystemClock())
    from watcher.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNKNOWN
    redactor = Redactor(settings.secrets())
    if args.command == "run":
        return run(settings, clock or SystemClock(), redactor)
    _configure_logging(redactor, settings.log_level)
    if args.command == "record":
        from watcher.cli.reading import record

        return record(settings, clock or SystemClock(), redactor)
    if args.command == "report":
        from watcher.cli.reading import report

        return report(settings, clock or SystemClock(), redactor, args.html)
    if args.command in _STEERING:
        code: int = _STEERING[args.command].run(args, settings, clock or SystemClock(), redactor)
        return code
    if args.command == "doctor":
        from watcher.cli.doctor import doctor

        return doctor(settings, clock or SystemClock(), redactor, args.json)
    if args.command == "rehearse":
        from watcher.cli.rehearse import rehearse

        return rehearse(settings, clock or SystemClock(), redactor, args.incident, args.seconds)
    if args.command == "once":
        return once(
            settings, clock or SystemClock(), redactor, args.check, args.json, args.notify, checks
        )
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows no other


def once(
    settings: Settings,
    clock: Clock,
    redactor: Redactor,
    names: Sequence[str] | None,
    as_json: bool,
    notify: bool = False,
    checks: Registry | None = None,
) -> int:
    """`watcher once`: every check (or the named ones) once; prints and returns the exit code."""
    from watcher.checking.runner import state_fields
    from watcher.cli.once_output import RunReport, notifications_line, to_json, to_table
    from watcher.parts import Parts
    from watcher.store.state import StateStoreError

    parts = Parts(settings, clock, redactor, checks)
    selected = list(dict.fromkeys(names)) if names else list(parts.checks.names)
    checked_at = clock.now()
    started = clock.monotonic()
    delivered: DeliveryReport | None = None
    store_failed = False
    try:
        reports = parts.run_checks(selected)
        seconds = round(clock.monotonic() - started, 2)
        log.info("checks done", extra={"fields": {**state_fields(reports), "seconds": seconds}})
        if notify:
            try:
                delivered = _notify(parts, reports, checked_at)
            except StateStoreError as exc:
                # The checks still report below; the escalation reached no one.
                print(redactor(f"watcher once --notify: {exc}"), file=sys.stderr)
                store_failed = True
    finally:
        parts.close()
    report = RunReport(settings.app, checked_at, reports)
    exit_code = report.state.value
    if store_failed or (delivered is not None and delivered.failed):
        # The escalation reached no one: at least UNKNOWN, whatever the checks saw.
        exit_code = max(exit_code, EXIT_UNKNOWN)
    if as_json:
        data = to_json(report)
        if delivered is not None:
            data["notifications"] = delivered.to_json()
        data["exit_code"] = exit_code
        # Masked before encoding: JSON escaping would hide a secret from a plain search.
        text = json.dumps(redactor.scrub(data), indent=2)
    else:
        text = to_table(report, colour=_wants_colour())
        if delivered is not None:
            text += "\n\n" + notifications_line(delivered)
    # Secrets never leave the process, whatever a check or an API put in a summary.
    print(redactor(text))
    return exit_code


def run(settings: Settings, clock: Clock, redactor: Redactor) -> int:
    """`watcher run`: the daemon; logs one logfmt line per event on stdout (Heroku's way)."""
    from watcher.daemon import Daemon
    from watcher.telemetry import logfmt

    # Its log is its only output: on stdout, where Heroku (and any process manager) reads it.
    logfmt.configure(redactor, settings.log_level, sys.stdout)
    return Daemon(settings, clock, redactor).run()


def _notify(parts: Parts, reports: list[CheckReport], at: datetime) -> DeliveryReport:
    """Alerts from this run, with the state the daemon keeps; then deliver what is due."""
    from watcher.checking.observations import keep_observations

    parts.monitor.start()
    try:
        keep_observations(parts.store, reports, at)
        notifier = parts.notifier
        notifier.delivery.requeue_for_new_settings()
        notifier.observe(reports, at)
        return notifier.deliver(budget=parts.settings.check_timeout)
    finally:
        parts.monitor.flush(timeout=2.0)


def _scan_command(args: argparse.Namespace, clock: Clock) -> int:
    # Only what scanning needs, without the settings model: see watcher/environment.py.
    from watcher import environment

    try:
        values = environment.variables()
    except (UnicodeDecodeError, OSError) as exc:
        print(f"configuration error: .env cannot be read ({type(exc).__name__})", file=sys.stderr)
        return EXIT_UNKNOWN
    redactor = Redactor(environment.secret_values(values))
    level = values.get("WATCHER_LOG_LEVEL", "INFO").strip().upper()
    _configure_logging(redactor, level if level in LOG_LEVELS else "INFO")
    role = values.get("WATCHER_APP_ROLE", environment.DEFAULT_APP_ROLE)
    return scan(role, values.get("DYNO"), clock, redactor, args.file, args.json)


def scan(
    app_role: str,
    own_dyno: str | None,
    clock: Clock,
    redactor: Redactor,
    source: str,
    as_json: bool,
) -> int:
    """`watcher scan`: counts per pattern in an exported log; exits with the worst state found."""
    from checks.logparse.log_patterns import LogMatcher, catalogue
    from checks.logparse.log_tally import LogTally
    from watcher.logs import scan as scanning

    matcher = LogMatcher(catalogue(app_role), own_dyno)
    tally = LogTally()
    try:
        if source == "-":
            stdin: BinaryIO = sys.stdin.buffer
            if sys.stdin.isatty():
                # Not silence: someone typed `watcher scan` and waits for an answer.
                print(
                    "watcher scan: reading a log from stdin (end with Ctrl-D);"
                    " give a FILE to scan an exported log",
                    file=sys.stderr,
                )
                # Read to the first end of input: one Ctrl-D ends it, not one per read.
                stdin = io.BytesIO(stdin.read())
            stream = scanning.open_log(stdin)
            shaped = scanning.scan(scanning.windows(stream), matcher, tally, clock.now())
        else:
            shaped = scanning.scan_file(source, matcher, tally, clock.now())
    except (OSError, EOFError, zlib.error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(redactor(f"watcher scan: cannot read {source}: {reason}"), file=sys.stderr)
        return EXIT_UNKNOWN
    data = scanning.report(matcher, tally, shaped)
    log.info(
        "scanned",
        extra={"fields": {"lines": data["lines"], "state": data["state"], "heroku_log": shaped}},
    )
    if as_json:
        print(json.dumps(redactor.scrub(data), indent=2))
    else:
        print(redactor(scanning.to_table(data, tally)))
    return int(data["exit_code"])


def _wants_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _configure_logging(redactor: Redactor, level: str) -> None:
    """The daemon's log format and level; on stderr, because stdout carries the result."""
    from watcher.telemetry import logfmt

    logfmt.configure(redactor, level, sys.stderr)
