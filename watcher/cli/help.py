"""The help text of every command: what it does, what it reads, what it prints, its exit codes."""

from __future__ import annotations

import textwrap
from typing import Any

EXIT_CODES = """\
exit codes (Monitoring Plugins convention):
  0  OK
  1  WARNING
  2  CRITICAL
  3  UNKNOWN: {unknown}"""

TO_STDERR = "they go to stderr, so stdout carries only the result"


def logging_note(where: str = TO_STDERR) -> str:
    """The paragraph on log lines, wrapped like the rest of the help."""
    text = (
        "Log lines are logfmt (at=info logger=... msg=...), at WATCHER_LOG_LEVEL (default INFO),"
        f" secrets masked; {where}."
    )
    return textwrap.fill(text, 92)


TOP = """\
Watch the 24 hours after the production database cutover (runbook RM-10, Section 7).

Settings come from environment variables and an optional .env file in the current directory
(WATCHER_APP, HEROKU_API_KEY, DATABASE_URL, SLACK_BOT_TOKEN, ...). A configuration or usage
error exits 3 with one line on stderr naming the setting (never its value).
`watcher COMMAND --help` says what each command reads, prints and exits with."""

ONCE = """\
Run every check (or those named with --check) once, concurrently, each under
WATCHER_CHECK_TIMEOUT seconds, and exit with the overall state: CRITICAL if any check is
CRITICAL, else UNKNOWN if any is UNKNOWN, else WARNING if any, else OK.

reads:  the settings (each check's source: healthz, the Heroku API and log, the watched
        database, Sentry); the state store (WATCHER_STATE_URL: baselines; with --notify
        also the alerts and the outbox, which it writes).
prints: a table whose first line is `CUTOVER-WATCHER STATE: ...`, or with --json one JSON
        object {app, checked_at, state, exit_code, checks: [{name, state, summary, sop,
        duration_seconds, metrics, findings}]}, plus "notifications" with --notify.
posts:  nothing, unless --notify: then to Slack (and Alertmanager) as the daemon would."""

ONCE_UNKNOWN = (
    "a check could not do its job (not configured, its source unreachable, timed out),\n"
    "     a configuration or usage error, or (--notify) a notification failed for good"
)

RUN = """\
The daemon for the 24-hour watch (a Heroku worker dyno): from T0 (WATCHER_CUTOVER_AT, else
its first start) it runs every check every WATCHER_CHECK_INTERVAL seconds and healthz every
WATCHER_HEALTHZ_INTERVAL, follows the log stream, escalates to Slack (and Alertmanager),
posts the 4-hour result and the 8- and 24-hour marks, and serves /metrics on PORT (or
WATCHER_METRICS_PORT). It runs until SIGTERM or Ctrl-C and then stops within 10 s.

reads:  every setting; the state store (WATCHER_STATE_URL), created if missing, which it
        writes (alerts, the outbox, observations, marks) and resumes from after a restart.
prints: nothing but its log: one logfmt line per event on stdout (the start, each cycle's
        end, each message delivered or failed, each mark, the log stream's connects and
        gaps, the stop), at WATCHER_LOG_LEVEL (default INFO), secrets masked."""

RUN_EXIT = """\
exit codes:
  0  stopped by SIGTERM or SIGINT
  1  a part of it kept failing (the watchdog gave up): Heroku restarts the dyno
  3  a configuration error, or the state store cannot be opened"""

RECORD = """\
Print the RM-10 Section 8 fields the watch can fill (4-hour watch end and result, healthz
db field, Sentry clear, connection peak, RM-11 gate verdict), as Markdown for the card.

reads:  the state store only (WATCHER_STATE_URL; never created: without one, one line
        on stderr and exit 3), WATCHER_APP and WATCHER_CUTOVER_AT. No outside call.
prints: Markdown on stdout."""

RECORD_EXIT = """\
exit codes:
  0  the record was printed
  3  no state store at WATCHER_STATE_URL, it cannot be read, or a configuration error"""

REPORT = """\
The whole watch on one page: the Section 8 fields, the timeline, incidents and alerts,
blind windows, and charts (connections, healthz, log matches, router, Postgres load).

reads:  the state store only (WATCHER_STATE_URL; never created) and the settings that
        name the app and its thresholds. No outside call.
prints: Markdown on stdout, or with --html FILE one self-contained HTML file (its size is
        said on stderr; FILE - writes it to stdout)."""

REPORT_EXIT = """\
exit codes:
  0  the report was written
  3  no state store, an empty one (nothing watched yet), it cannot be read, FILE cannot be
     written, or a configuration error"""

SCAN = """\
Scan an exported Heroku log (`heroku logs -n 1500 > app.log`, a drain's file; plain or gzip)
with the watcher's pattern catalogue: counts per pattern with the first and last time and a
sample line. Input in which no line looks like a Heroku log line (another format, a binary,
an empty file) is UNKNOWN and says so.

reads:  FILE, or stdin when FILE is - or not given (on a terminal it says it is waiting
        for input: end it with Ctrl-D); of the settings only WATCHER_APP_ROLE, DYNO and the
        secrets to mask. No state store, no outside call.
prints: a table, or with --json one JSON object {lines, state, exit_code, patterns: [{id,
        state, count, first, last, sample}], findings}."""

SCAN_UNKNOWN = "FILE cannot be read (or is a broken gzip), or no line has a Heroku log line's shape"

STATUS = """\
What the watch knows now: T0, the phase and elapsed time, the next mark, the RM-11 gate as it
stands, the open incident (its alerts, who acknowledged it), snoozes in force, each check's
last observation, the outbox, and when the daemon last wrote (its heartbeat).

reads:  the state store only (WATCHER_STATE_URL; never created). No outside call, so it
        works from a one-off dyno: heroku run watcher status -a <watcher app>.
prints: a table, or with --json one JSON object {t0, phase, gate, incident, snoozes, checks,
        outbox, daemon_seen_at, ...} (docs/incidents.md)."""

STATUS_EXIT = """\
exit codes: the state of the worst firing alert
  0  no alert firing
  1  WARNING
  2  CRITICAL
  3  UNKNOWN; or no state store, an empty one, or a configuration error"""

ACK = """\
Acknowledge the open incident (or, with ID, the incident holding that alert): its reminders
go on in the thread without the mention; a new CRITICAL alert still pings once.

reads:  the state store (WATCHER_STATE_URL; never created), which it writes: the daemon, or
        the next `watcher once --notify`, posts the acknowledgement to the incident's thread.
prints: one line saying what was acknowledged."""

ACK_EXIT = """\
exit codes:
  0  acknowledged
  3  nothing open to acknowledge, an unknown or ambiguous ID (the open ids are listed),
     a usage error, no state store, or a configuration error"""

SNOOZE = """\
Planned work (a restart, a rollback rehearsal): TARGET's findings are still observed,
recorded and counted for the RM-11 gate, but open no alert and page no one until the
snooze ends (at most WATCHER_SNOOZE_MAX). When it ends a post says so, and what is still
CRITICAL then escalates at once. --list shows the snoozes in force; --cancel ends one.

reads:  the state store (WATCHER_STATE_URL; never created), which it writes: the daemon, or
        the next `watcher once --notify`, announces the snooze and its end.
prints: one line per snooze (with --list), or what was snoozed or cancelled."""

SNOOZE_EXIT = """\
exit codes:
  0  done
  3  a usage error (no --reason, a DURATION over WATCHER_SNOOZE_MAX, a TARGET that names no
     check or finding), nothing to cancel, no state store, or a configuration error"""

DOCTOR = """\
Before T0: every integration checked with a real call that reads and never writes (Heroku
token, app, DATABASE attachment, log session, Data API, /healthz, the watched database's
credential, Sentry, the Slack token, channel, mention and scopes, the state store,
Alertmanager, the Pushgateway, WATCHER_CUTOVER_AT). One row each: OK, FAIL with the fix,
or SKIP with the setting that would enable it. Posts nothing.

reads:  every setting; the state store (its own check writes and removes one row).
prints: a table, or with --json {rows: [{name, result, detail, fix}], exit_code}
        (docs/before-t0.md)."""

DOCTOR_EXIT = """\
exit codes:
  0  every configured row is OK
  1  only SKIPs remain among Slack, Heroku, Sentry and the database
  2  a row failed
  3  a configuration error"""

REHEARSE = """\
Before T0: a short incident through the real outbox and transports, every message labelled
REHEARSAL: a top-level post with the mention, a reminder in its thread, then the resolve
(a reply and the post updated), --seconds apart in all; with Alertmanager, an alert with
rehearsal="true" fired and resolved. Kept apart from the watch: never counted for the
RM-11 gate, the record, the report or the metrics. Never touches the watched app.

reads:  the Slack (and Alertmanager) settings; the state store's outbox, which it writes.
prints: one line per step delivered, or the reason and the fix."""

REHEARSE_EXIT = """\
exit codes:
  0  every step was delivered
  3  a step was not delivered (the reason and the fix on stderr), or a configuration error"""


def described(description: str, exit_codes: str) -> dict[str, Any]:
    """The keyword arguments of `add_parser` that give a command its full help."""
    import argparse

    return {
        "description": description + "\n\n" + logging_note(),
        "epilog": exit_codes,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
