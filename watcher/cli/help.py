"""The help text of every command: what it does, what it reads, what it prints, its exit codes."""

from __future__ import annotations

import textwrap

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
