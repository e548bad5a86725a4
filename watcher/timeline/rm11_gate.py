"""The 4-hour result and the RM-11 gate verdict (runbook 7.4), from the state store.

Open only if no CRITICAL or WARNING alert was posted in [T0, T0+4h) and the last Sentry
observation by then was clean; a window the watcher did not observe is never called clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from watcher.alerting.escalation import BLIND_SUFFIX
from watcher.notify.slack_messages import quote
from watcher.store.alerts import AlertEvent
from watcher.store.history import HistoryRow
from watcher.store.state import StateStore
from watcher.timeline import phases

# The alert events that posted a CRITICAL ("fired") or WARNING ("warned") alert, and those of
# a finding seen while snoozed ("snoozed"): it paged no one, but it counts for the gate.
_ALERTING = frozenset({"fired", "warned", "snoozed"})
_RANK = {"WARNING": 1, "CRITICAL": 2}
# Findings that are blind windows, not alerts: listed by the marks, never closing the gate
# (docs/daemon.md): a gap in the follower's stream, and lines Logplex itself says it dropped.
STREAM_GAP, LOG_DROPPED = "logs.stream_gap", "logs.log_dropped"
BLIND_WINDOW_FINDINGS = frozenset({STREAM_GAP, LOG_DROPPED})
# A window whose first observation comes later than this after its start was not watched
# from its start: it cannot be called clean.
UNOBSERVED_AFTER = timedelta(minutes=30)
# History is kept as epoch floats: a bound just past `now` keeps a row taken at `now`.
INCLUSIVE = timedelta(milliseconds=1)

# Shows untrusted text (summaries, ids from outside): `quote` for Slack, plain by default.
Show = Callable[[str], str]


@dataclass(frozen=True)
class Issue:
    """An alert posted in the 4-hour window, or already firing when it opened."""

    alert_id: str
    severity: str
    at: datetime
    summary: str
    # Fired before T0 and still firing at T0: it was an alert during the window too.
    carried_over: bool = False
    # Seen while snoozed: the snooze's reason ("" until it is looked up).
    snoozed: str | None = None


@dataclass(frozen=True)
class GateVerdict:
    """Runbook 7.4's gate as far as the watch can tell; `reasons` say why it is closed."""

    open: bool
    reasons: list[str]
    issues: tuple[Issue, ...] = ()
    # When the Sentry observation the verdict rests on was taken (None: there was none).
    sentry_at: datetime | None = None


@dataclass(frozen=True)
class BlindWindow:
    """A stretch the watch could not see: a check UNKNOWN for `blind_after` cycles, a gap in
    the log stream, or lines Logplex dropped; `end` is None while it lasts."""

    what: str
    start: datetime
    end: datetime | None
    summary: str


# -- the 4-hour result and the RM-11 gate ---------------------------------------------------


def window_issues(store: StateStore, t0: datetime, now: datetime | None = None) -> list[Issue]:
    """Alerts of the 4-hour window (so far, with `now`): one per alert id, worst severity."""
    issues = _firing_at(store, t0)
    collect_issues(issues, store.alerts.events(t0, _window_end(t0, now)))
    return sorted(with_snooze_reasons(store, issues).values(), key=lambda i: (i.at, i.alert_id))


def with_snooze_reasons(store: StateStore, issues: dict[str, Issue]) -> dict[str, Issue]:
    """Each issue seen while snoozed, with the reason of the snooze that covered it."""
    if not any(i.snoozed is not None for i in issues.values()):
        return issues
    snoozes = store.snoozes.all()
    found = dict(issues)
    for key, issue in issues.items():
        if issue.snoozed is None:
            continue
        covering = [s for s in snoozes if s.covers(issue.alert_id)]
        during = [s for s in covering if s.starts_at <= issue.at < s.ended_at] or covering
        reason = f"{during[0].reason} (by {during[0].by})" if during else "a snooze"
        found[key] = replace(issue, snoozed=reason)
    return found


def gate_verdict(
    store: StateStore, t0: datetime, now: datetime | None = None, show: Show = str
) -> GateVerdict:
    """7.4: open only if no alert in [T0, T0+4h) and the last Sentry check by then was clean."""
    end = _window_end(t0, now)
    issues = window_issues(store, t0, now)
    reasons = [_issue_reason(issue, show) for issue in issues]
    unobserved = unobserved_reason(store, t0, min(end, t0 + phases.ACTIVE_WATCH))
    if unobserved is not None and (now is None or now >= t0 + phases.ACTIVE_WATCH):
        reasons.append(unobserved)
    sentry = store.history.observations("sentry", since=t0, until=end + INCLUSIVE)
    latest = sentry[-1] if sentry else None
    problem = _sentry_problem(latest, show)
    if problem is not None:
        reasons.append(f"Sentry was not seen clean: {problem}")
    return GateVerdict(not reasons, reasons, tuple(issues), None if latest is None else latest.at)


def gate_open_now(store: StateStore, t0: datetime, now: datetime) -> bool | None:
    """For `watcher_rm11_gate_open`: None until known, the verdict so far, then the kept one."""
    if now < t0:
        return None
    if now >= t0 + phases.ACTIVE_WATCH:
        # The verdict the 4-hour mark kept (the metric reads it after T0+4h). Not kept yet
        # (the mark is still to be posted): the window is closed, so deciding it now gives
        # the verdict the mark will post.
        kept = store.facts.gate()
        return kept if kept is not None else gate_verdict(store, t0).open
    verdict = gate_verdict(store, t0, now)
    if verdict.issues:
        return False
    # Nothing has gone wrong yet, but the gate also needs Sentry seen clean: unknown till then.
    return None if verdict.sentry_at is None else verdict.open


def unobserved_reason(store: StateStore, start: datetime, end: datetime) -> str | None:
    """Why [start, end) was not watched from its start (None: it was)."""
    rows = store.history.observations(since=start, until=end)
    if not rows:
        return (
            f"not observed: the watcher recorded no check between {_day_hm(start)} and"
            f" {_day_hm(end)} (it was not running)"
        )
    first = rows[0].at
    if first - start > UNOBSERVED_AFTER:
        return (
            f"observed only from {_day_hm(first)}: the watcher recorded nothing between"
            f" {_day_hm(start)} and then"
        )
    return None


def four_hour_result(store: StateStore, t0: datetime, show: Show = quote) -> list[str]:
    """The result: clean, or issues found with each alert (id, severity, summary); blind spots."""
    issues = window_issues(store, t0)
    span = f"{_hm(t0)} to {_hm(t0 + phases.ACTIVE_WATCH)}"
    unobserved = unobserved_reason(store, t0, t0 + phases.ACTIVE_WATCH)
    if not issues and unobserved is not None:
        # What was not watched cannot be called clean.
        lines = [f"not known ({span}): {unobserved}"]
    elif not issues:
        lines = [f"clean: no CRITICAL or WARNING alert in the 4 hours ({span})"]
    else:
        lines = [f"issues found: {len(issues)} alert(s) in the 4 hours ({span}):"]
        lines += [describe_issue(issue, show) for issue in issues]
        if unobserved is not None:
            lines.append(unobserved)
    end = t0 + phases.ACTIVE_WATCH
    lines += [describe_blind(window, show) for window in blind_windows(store, t0, end)]
    return lines


def blind_windows(store: StateStore, start: datetime | None, end: datetime) -> list[BlindWindow]:
    """The blind windows that began in [start, end) (None: since the first event), each with
    when it ended (if it did)."""
    windows: list[BlindWindow] = []
    open_at: dict[str, int] = {}
    # Read on past `end`: a window that began inside may have ended after it.
    for event in store.alerts.events(start):
        blind = event.event == "blind" or (
            event.event in _ALERTING and event.alert_id in BLIND_WINDOW_FINDINGS
        )
        if blind and event.alert_id == STREAM_GAP and event.at < end:
            # Each gap is its own window, closed when recorded; its text says from when to when.
            windows.append(BlindWindow(STREAM_GAP, event.at, event.at, event.summary))
        elif blind and event.alert_id not in open_at and event.at < end:
            open_at[event.alert_id] = len(windows)
            what = event.alert_id.removesuffix(BLIND_SUFFIX)
            windows.append(BlindWindow(what, event.at, None, event.summary))
        elif event.event == "resolved" and event.alert_id in open_at:
            index = open_at.pop(event.alert_id)
            windows[index] = replace(windows[index], end=event.at)
    return windows


def describe_blind(window: BlindWindow, show: Show = quote) -> str:
    """One blind window: what, from when to when, and why."""
    until = f" to {_hm(window.end)}" if window.end is not None else " (still blind)"
    if window.what == STREAM_GAP:
        return f"blind window: a gap in the log stream, {show(window.summary)}"
    if window.what == LOG_DROPPED:
        return (
            f"blind window from {_hm(window.start)}{until}: Logplex dropped lines, the log is"
            f" incomplete: {show(window.summary)}"
        )
    return (
        f"the watch was blind on {show(window.what)} from {_hm(window.start)}{until}:"
        f" {show(window.summary)}"
    )


def describe_issue(issue: Issue, show: Show = quote) -> str:
    """One alert of the window: severity, id, when, and its first summary."""
    when = (
        f"firing since {_hm(issue.at)} (before T0)" if issue.carried_over else f"at {_hm(issue.at)}"
    )
    return (
        f"{issue.severity} {show(issue.alert_id)} {when}: {show(issue.summary)}"
        f"{_while_snoozed(issue, show)}"
    )


def _while_snoozed(issue: Issue, show: Show) -> str:
    """Findings seen while snoozed count for the gate; the snooze's reason says why no page."""
    return "" if issue.snoozed is None else f" (seen while snoozed: {show(issue.snoozed)})"


# -- helpers ---


def _window_end(t0: datetime, now: datetime | None) -> datetime:
    end = t0 + phases.ACTIVE_WATCH
    return end if now is None or now >= end else now + INCLUSIVE


def _firing_at(store: StateStore, t0: datetime) -> dict[str, Issue]:
    """Alerts posted before T0 and not resolved by then."""
    firing: dict[str, Issue] = {}
    for event in store.alerts.events(until=t0):
        if event.event == "resolved":
            firing.pop(event.alert_id, None)
        else:
            collect_issues(firing, [event])
    return {key: replace(issue, carried_over=True) for key, issue in firing.items()}


def collect_issues(issues: dict[str, Issue], events: Iterable[AlertEvent]) -> None:
    """Add each alert posted in `events`: its first time and summary, its worst severity."""
    for event in events:
        if event.event not in _ALERTING or event.alert_id in BLIND_WINDOW_FINDINGS:
            continue
        known = issues.get(event.alert_id)
        snoozed = "" if event.event == "snoozed" else None
        if known is None:
            issues[event.alert_id] = Issue(
                event.alert_id, event.severity, event.at, event.summary, snoozed=snoozed
            )
            continue
        if known.snoozed is None and snoozed is not None:
            known = replace(known, snoozed=snoozed)
        if _RANK.get(event.severity, 0) > _RANK.get(known.severity, 0):
            known = replace(known, severity=event.severity)
        issues[event.alert_id] = known


def _issue_reason(issue: Issue, show: Show) -> str:
    if issue.carried_over:
        return (
            f"{issue.severity} alert {show(issue.alert_id)} was firing at T0"
            f" (since {_hm(issue.at)})"
        )
    snoozed = _while_snoozed(issue, show)
    return f"{issue.severity} alert {show(issue.alert_id)} at {_hm(issue.at)}{snoozed}"


def _sentry_problem(latest: HistoryRow | None, show: Show) -> str | None:
    """Why the last Sentry observation does not show zero new issues (None: it does)."""
    if latest is None:
        return "no Sentry observation since T0"
    new = latest.metrics.get("new_issues")
    if latest.state == "OK" and new == 0:
        return None
    if new:
        return f"{int(new)} new issue(s) at {_hm(latest.at)}"
    return f"the Sentry check was {latest.state} at {_hm(latest.at)}: {show(latest.summary)}"


def _hm(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M}Z"


def _day_hm(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
