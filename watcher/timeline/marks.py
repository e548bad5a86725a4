"""The timeline marks of docs/daemon.md, built from the state store and posted once each.

T0+4h: the 4-hour result and the RM-11 gate verdict (runbook 7.4, `rm11_gate.py`). T0+8h and
T0+24h: the dashboard mark of runbook 7.2 (Postgres status and connection peak, log pattern
counts, table count); the 24-hour one is the final report. `store.timeline.post` records a mark
and queues its notice in one transaction, so no mark is posted twice, even by two processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from watcher.alerting.escalation import BLIND_SUFFIX
from watcher.notify.notices import Notice
from watcher.notify.slack_messages import quote
from watcher.store.alerts import FIRING
from watcher.store.outbox import Message
from watcher.store.state import StateStore
from watcher.store.timeline import Mark
from watcher.timeline import phases, rm11_gate

# Shown in the scale-to-0 command when the daemon does not know the watcher's own app.
WATCHER_APP_UNKNOWN = "YOUR-WATCHER-APP"
CONNECTION_CHECKS = ("pg_info", "pg_connections")
# The runbook's own 7.2 log scan: `grep -i "sqlite\|OperationalError"`, expected 0.
SQLITE_REMNANTS = ("sqlite", "operational_error")
# History is kept as epoch floats: a bound just past `now` keeps a row taken at `now`.
_INCLUSIVE = timedelta(milliseconds=1)

# Shows untrusted text (summaries, ids from outside): `quote` for Slack, plain by default.
Show = rm11_gate.Show


@dataclass(frozen=True)
class Peak:
    """The highest connection count observed, when, by which check, against which limit."""

    connections: int
    at: datetime
    check: str
    limit: int | None


# -- the dashboard marks --------------------------------------------------------------------


def dashboard_lines(
    store: StateStore, t0: datetime, now: datetime, show: Show = quote
) -> list[str]:
    """Runbook 7.2 at `now`: pg status and connection peak, log counts, tables, alerts."""
    unobserved = rm11_gate.unobserved_reason(store, t0, now + _INCLUSIVE)
    return [
        *([] if unobserved is None else [f"Since T0: {unobserved}"]),
        _pg_status(store, t0, now, show),
        _peak_line(connection_peak(store, t0, now)),
        router_line(store, t0, now),
        load_line(store, t0, now),
        *_log_lines(store, t0, now, show),
        _tables_line(store, t0, now, show),
        _alerts_line(store, t0, now, show),
        *_blind_lines(store, t0, now, show),
    ]


def router_line(store: StateStore, t0: datetime, now: datetime) -> str:
    """The router's p95 and 5xx share since T0, and the worst window seen."""
    rows = [
        row
        for row in store.history.observations("router", since=t0, until=now + _INCLUSIVE)
        if "requests_since_t0" in row.metrics
    ]
    if not rows:
        return "Router since T0: no router observation"
    # The since-T0 figures live in the watcher's memory: a restart starts them again. Each
    # run's last row holds that run's totals.
    runs = [
        row
        for row, after in zip(rows, [*rows[1:], None], strict=True)
        if after is None or after.metrics["requests_since_t0"] < row.metrics["requests_since_t0"]
    ]
    requests = sum(int(row.metrics["requests_since_t0"]) for row in runs)
    errors = sum(int(row.metrics.get("errors_since_t0", 0)) for row in runs)
    if not requests:
        return "Router since T0: no request seen"
    p95s = [row.metrics["p95_since_t0_ms"] for row in runs if "p95_since_t0_ms" in row.metrics]
    p95 = "" if not p95s else f", p95 {int(max(p95s))} ms"
    if len(p95s) > 1:
        p95 += f" (the highest of {len(p95s)} watcher runs)"
    share = f"5xx share {errors / requests:.2%} ({errors})"
    text = f"Router since T0: {requests} requests, {share}{p95}"
    judged = [row for row in rows if "p95_ms" in row.metrics]
    if judged:
        slowest = max(judged, key=lambda row: row.metrics["p95_ms"])
        worst = max(rows, key=lambda row: row.metrics.get("error_ratio", 0.0))
        text += (
            f"; worst window: p95 {int(slowest.metrics['p95_ms'])} ms at {_hm(slowest.at)},"
            f" 5xx {worst.metrics.get('error_ratio', 0.0):.1%} at {_hm(worst.at)}"
        )
    return text


def load_line(store: StateStore, t0: datetime, now: datetime) -> str:
    """The highest Heroku Postgres `load-avg-5m` since T0, and when."""
    peaks: list[tuple[float, datetime]] = []
    for row in store.history.observations("pg_metrics", since=t0, until=now + _INCLUSIVE):
        if "peak_load_5m" in row.metrics and "peak_load_at" in row.metrics:
            at = datetime.fromtimestamp(row.metrics["peak_load_at"], UTC)
            if at >= t0:
                peaks.append((row.metrics["peak_load_5m"], at))
        if "load_5m" in row.metrics:
            peaks.append((row.metrics["load_5m"], row.at))
    if not peaks:
        return (
            "Postgres load peak since T0: no Heroku Postgres metrics sample (written for"
            " Standard and Premium plans only)"
        )
    load, at = max(peaks, key=lambda peak: (peak[0], -peak[1].timestamp()))
    return f"Postgres load peak since T0: load-avg-5m {load:g} at {_hm(at)}"


def _blind_lines(store: StateStore, t0: datetime, now: datetime, show: Show) -> list[str]:
    windows = rm11_gate.blind_windows(store, t0, now + _INCLUSIVE)
    if not windows:
        return ["Blind windows since T0: none"]
    return [
        f"Blind windows since T0: {len(windows)}",
        *(rm11_gate.describe_blind(window, show) for window in windows),
    ]


def connection_peak(store: StateStore, t0: datetime, now: datetime) -> Peak | None:
    """The highest count either check saw in [T0, now], the first time it was seen."""
    rows = sorted(
        (
            row
            for check in CONNECTION_CHECKS
            for row in store.history.observations(check, since=t0, until=now + _INCLUSIVE)
            if "connections" in row.metrics
        ),
        key=lambda row: row.at,
    )
    if not rows:
        return None
    top = max(rows, key=lambda row: row.metrics["connections"])
    limit = top.metrics.get("connection_limit")
    if limit is None:
        # pg_connections keeps only the server's limit: take the effective limit pg_info
        # last reported (the SOP's ceiling, 25 on Standard-0).
        limits = [
            row.metrics["connection_limit"] for row in rows if "connection_limit" in row.metrics
        ]
        limit = limits[-1] if limits else None
    return Peak(
        int(top.metrics["connections"]), top.at, top.check, None if limit is None else int(limit)
    )


def peak_text(peak: Peak) -> str:
    """`12/25 (48%) at 16:02Z, pg_connections`, or without the limit when none was recorded."""
    if peak.limit:
        share = f"{peak.connections}/{peak.limit} ({peak.connections * 100 // peak.limit}%)"
    else:
        share = f"{peak.connections} (limit not recorded)"
    return f"{share} at {_hm(peak.at)}, {peak.check}"


# -- posting --------------------------------------------------------------------------------


def post_due(
    store: StateStore,
    t0: datetime,
    now: datetime,
    watcher_app: str | None = None,
    settle: timedelta = timedelta(0),
) -> list[str]:
    """Post every due mark not posted before (late ones say so); return the names posted.

    A mark waits `settle` past its time: a check that started before it may still be
    recording what it saw inside the window (the 4-hour verdict must include it).
    """
    posted = {mark.name for mark in store.timeline.marks()}
    names: list[str] = []
    for due in phases.due_marks(t0, now - settle, posted):
        late = phases.is_late(due.due_at, now)
        title, lines, gate = _compose(store, t0, now, due.name, watcher_app)
        if late:
            lines.insert(0, f"posted late: due {_day_hm(due.due_at)}, the watcher was down")
        mark = Mark(due.name, due.due_at, now, late)
        # Insert-if-absent with the message, in one transaction: another process (or a
        # restart) that posted it first wins, and nothing is queued twice.
        if store.timeline.post(mark, [Message("post", Notice.note(title, lines))]):
            names.append(due.name)
            if gate is not None:
                store.facts.keep_gate(gate.open)
    return names


def _compose(
    store: StateStore, t0: datetime, now: datetime, name: str, watcher_app: str | None
) -> tuple[str, list[str], rm11_gate.GateVerdict | None]:
    if name == "4h":
        verdict = rm11_gate.gate_verdict(store, t0, show=quote)
        unobserved = rm11_gate.unobserved_reason(store, t0, t0 + phases.ACTIVE_WATCH)
        result = (
            "issues found"
            if verdict.issues
            else "clean"
            if unobserved is None
            else "not observed"
            if unobserved.startswith("not observed")
            else "partly observed"
        )
        gate = "OPEN" if verdict.open else "CLOSED"
        lines = [
            f"4-hour watch ended at {_hm(t0 + phases.ACTIVE_WATCH)}",
            *rm11_gate.four_hour_result(store, t0),
            *_gate_lines(
                verdict, len(rm11_gate.blind_windows(store, t0, t0 + phases.ACTIVE_WATCH))
            ),
        ]
        return f"RM-10 4-hour result: {result} — RM-11 gate {gate}", lines, verdict
    lines = dashboard_lines(store, t0, now)
    if name == "8h":
        return "RM-10 8-hour dashboard mark", lines, None
    app = watcher_app or WATCHER_APP_UNKNOWN
    lines += [
        _four_hour_recap(store, t0),
        "The 24-hour watch is over. The worker can be scaled to 0:"
        f" `heroku ps:scale worker=0 -a {app}`",
    ]
    return "RM-10 24-hour dashboard mark: final report", lines, None


def _gate_lines(verdict: rm11_gate.GateVerdict, blind: int = 0) -> list[str]:
    if verdict.open:
        assert verdict.sentry_at is not None  # an open gate rests on a clean Sentry check
        lines = [
            "RM-11 gate (7.4) OPEN: no CRITICAL or WARNING alert in the 4 hours, and Sentry"
            f" showed zero new issues (checked at {_hm(verdict.sentry_at)})"
        ]
        if blind:
            lines.append(
                f"but the watch had {blind} blind window(s), listed above: what happened in"
                " them was not seen"
            )
    else:
        lines = [f"RM-11 gate (7.4) CLOSED: {reason}" for reason in verdict.reasons]
    lines.append("RM-11 also needs the operator's sign-off in Section 8 (see `watcher record`)")
    return lines


def _four_hour_recap(store: StateStore, t0: datetime) -> str:
    issues = rm11_gate.window_issues(store, t0)
    unobserved = rm11_gate.unobserved_reason(store, t0, t0 + phases.ACTIVE_WATCH)
    result = (
        f"issues found ({len(issues)} alert(s))"
        if issues
        else "clean"
        if unobserved is None
        else f"not known: {unobserved}"
    )
    kept = store.facts.gate()
    gate = (
        "OPEN"
        if (kept if kept is not None else rm11_gate.gate_verdict(store, t0).open)
        else "CLOSED"
    )
    return f"4-hour result: {result}; RM-11 gate {gate}"


# -- the dashboard's parts ------------------------------------------------------------------


def _pg_status(store: StateStore, t0: datetime, now: datetime, show: Show) -> str:
    rows = store.history.observations("pg_info", since=t0, until=now + _INCLUSIVE)
    if not rows:
        return "Postgres status (pg:info): no observation since T0"
    latest = rows[-1]
    available = latest.metrics.get("available")
    if available == 1:
        return f"Postgres status (pg:info): Available (at {_hm(latest.at)})"
    if available is not None:
        return (
            f"Postgres status (pg:info): NOT Available (at {_hm(latest.at)}):"
            f" {show(latest.summary)}"
        )
    # The check could not read the status (UNKNOWN): say so, and what was last known.
    seen = [row for row in rows if row.metrics.get("available") == 1]
    last = f"; last seen Available at {_hm(seen[-1].at)}" if seen else ""
    return (
        f"Postgres status (pg:info): not known: pg_info {latest.state} at {_hm(latest.at)}:"
        f" {show(latest.summary)}{last}"
    )


def _peak_line(peak: Peak | None) -> str:
    if peak is None:
        return "Connection peak since T0: no connection count observed"
    return f"Connection peak since T0: {peak_text(peak)}"


def _log_lines(store: StateStore, t0: datetime, now: datetime, show: Show) -> list[str]:
    observed = store.history.observations("logs", since=t0, until=now + _INCLUSIVE)
    # Counts are kept per minute: T0's own minute counts, so a match right at T0 is not lost.
    counts = store.history.log_counts(_minute(t0), now + _INCLUSIVE)
    if not observed and not counts:
        return ["Log pattern counts since T0: no log observation yet, so no counts"]
    scan = ", ".join(f"{pattern} {counts.get(pattern, 0)}" for pattern in SQLITE_REMNANTS)
    others = sorted(
        ((p, n) for p, n in counts.items() if p not in SQLITE_REMNANTS),
        key=lambda item: (-item[1], item[0]),
    )
    other = ", ".join(f"{p} {n}" for p, n in others) if others else "none matched"
    lines = [
        f"Log scan since T0 (7.2, expected 0): {scan}",
        f"Other log patterns since T0: {other}",
    ]
    if observed and observed[-1].state == "UNKNOWN":
        lines.append(
            f"the log check was UNKNOWN at {_hm(observed[-1].at)}, counts may be incomplete:"
            f" {show(observed[-1].summary)}"
        )
    return lines


def _tables_line(store: StateStore, t0: datetime, now: datetime, show: Show) -> str:
    rows = store.history.observations("tables", since=t0, until=now + _INCLUSIVE)
    if not rows:
        return "Tables in public: no observation since T0"
    counted = [row for row in rows if "tables" in row.metrics]
    latest = rows[-1]
    if "tables" not in latest.metrics:
        last = (
            f"; last counted {int(counted[-1].metrics['tables'])} at {_hm(counted[-1].at)}"
            if counted
            else ""
        )
        return (
            f"Tables in public: not known: tables {latest.state} at {_hm(latest.at)}:"
            f" {show(latest.summary)}{last}"
        )
    count, baseline = int(latest.metrics["tables"]), latest.metrics.get("baseline")
    against = "no baseline recorded"
    if baseline is not None:
        diff = count - int(baseline)
        against = f"baseline {int(baseline)}, " + (
            "as expected" if diff == 0 else f"{abs(diff)} {'more' if diff > 0 else 'fewer'}"
        )
    seen = sorted({int(row.metrics["tables"]) for row in counted})
    spread = (
        f"the same in all {len(counted)} count(s) since T0"
        if len(seen) == 1
        else f"between {seen[0]} and {seen[-1]} since T0"
    )
    return f"Tables in public: {count} at {_hm(latest.at)} ({against}); {spread}"


def _alerts_line(store: StateStore, t0: datetime, now: datetime, show: Show) -> str:
    posted: dict[str, rm11_gate.Issue] = {}
    rm11_gate.collect_issues(posted, store.alerts.events(t0, now + _INCLUSIVE))
    firing = [a.id for a in store.alerts.find([FIRING]) if not a.id.endswith(BLIND_SUFFIX)]
    still = f"; still firing: {', '.join(show(a) for a in firing)}" if firing else ""
    if not posted:
        return f"Alerts since T0: none{still}"
    critical = sum(1 for issue in posted.values() if issue.severity == "CRITICAL")
    snoozed = [i for i in rm11_gate.with_snooze_reasons(store, posted).values() if i.snoozed]
    seen = "".join(
        f"; {show(i.alert_id)} seen while snoozed: {show(i.snoozed or '')}" for i in snoozed
    )
    return (
        f"Alerts since T0: {len(posted)} ({critical} CRITICAL,"
        f" {len(posted) - critical} WARNING){still}{seen}"
    )


# -- helpers --------------------------------------------------------------------------------


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _hm(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M}Z"


def _day_hm(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
