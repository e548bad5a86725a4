"""`watcher record`: the runbook's Section 8 fields the watch can fill, as Markdown.

Everything comes from the state store's history; a field the watch cannot fill says why
("no observation yet"), never a guess. Text that came from outside goes in code spans.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.report.model import Field
from watcher.store.state import StateStore
from watcher.timeline import marks, phases, rm11_gate

# History is kept as epoch floats: a bound just past `now` keeps a row taken at `now`.
_INCLUSIVE = timedelta(milliseconds=1)
_MAX_SHOWN = 200
_NO_T0 = "not known: T0 is unknown (set WATCHER_CUTOVER_AT, or let the daemon record its start)"


def record_markdown(store: StateStore, t0: datetime | None, app: str, now: datetime) -> str:
    """The header (app, T0, where the watch is) and the Section 8 fields, as Markdown."""
    lines = [
        "# RM-10 cutover record: what cutover-watcher observed",
        "",
        f"- App: {app}",
        f"- T0 (step 4.8 restart): {_t0_text(t0)}",
        f"- Watch: {watch_text(t0, now)}",
        f"- Printed at: {_at(now)}",
        "",
        "## Section 8 fields",
        "",
    ]
    for field in section8_fields(store, t0, now):
        lines.append(f"- **{field.label}:** {field.text}")
        lines += [f"  - {item}" for item in field.items]
    return "\n".join(lines) + "\n"


def section8_fields(store: StateStore, t0: datetime | None, now: datetime) -> list[Field]:
    """The Section 8 fields the watch can fill; outside text in `code spans`."""
    return [
        Field("Section 5.1 healthz db field", _healthz_db(store, t0, now)),
        Field("Section 5.5 Sentry clear (y/n)", _sentry_clear(store, t0, now)),
        Field("4-hour watch ended at (UTC)", _four_hour_end(t0, now)),
        _four_hour_result(store, t0, now),
        Field("Connection peak", _peak(store, t0, now)),
        _gate(store, t0, now),
    ]


def _t0_text(t0: datetime | None) -> str:
    if t0 is None:
        return "unknown: neither WATCHER_CUTOVER_AT nor a watch start in the state store"
    return f"{t0.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def watch_text(t0: datetime | None, now: datetime) -> str:
    """Where the watch is: not started, running (which part), or over."""
    if t0 is None:
        return "not known (no T0)"
    end = _at(t0 + phases.WATCH_LENGTH)
    phase = phases.phase(t0, now)
    if phase == phases.BEFORE:
        return f"not started: T0 is in {_duration(t0 - now)}"
    if phase == phases.DONE:
        return f"over (the 24-hour watch ended {end})"
    part = "active watch, 7.1" if phase == phases.ACTIVE else "dashboard watch, 7.2"
    return f"still running ({part}): {_duration(now - t0)} since T0, ends {end}"


def _healthz_db(store: StateStore, t0: datetime | None, now: datetime) -> str:
    rows = store.history.observations("healthz", since=t0, until=now + _INCLUSIVE)
    if not rows:
        return f"no observation yet (no healthz probe {_since(t0)})"
    latest = rows[-1]
    # The db healthz named is a fact of the observation, kept in the history.
    named = [(row, row.facts["db"]) for row in rows if "db" in row.facts]
    if not named:
        return (
            f"not known: no healthz answer named the db {_since(t0)}; latest probe"
            f" {latest.state} at {_at(latest.at)}: {_code(latest.summary)}"
        )
    row, db = named[-1]
    text = f"{_code(db)} (healthz {row.state} at {_at(row.at)})"
    if row is not latest:
        text += (
            f"; the latest probe was {latest.state} at {_at(latest.at)}: {_code(latest.summary)}"
        )
    return text


def _sentry_clear(store: StateStore, t0: datetime | None, now: datetime) -> str:
    rows = store.history.observations("sentry", since=t0, until=now + _INCLUSIVE)
    if not rows:
        return f"no observation yet (no Sentry check {_since(t0)})"
    latest = rows[-1]
    new = latest.metrics.get("new_issues")
    if latest.state == "OK" and new == 0:
        return f"y (no new unresolved issues, checked at {_at(latest.at)})"
    if new:
        return (
            f"n ({int(new)} new unresolved issue(s) at {_at(latest.at)}: {_code(latest.summary)})"
        )
    return (
        f"not known: the Sentry check was {latest.state} at {_at(latest.at)}:"
        f" {_code(latest.summary)}"
    )


def _four_hour_end(t0: datetime | None, now: datetime) -> str:
    if t0 is None:
        return _NO_T0
    end = t0 + phases.ACTIVE_WATCH
    if now < end:
        return f"not yet (ends {end.astimezone(UTC):%H:%M} UTC)"
    return f"{end.astimezone(UTC):%Y-%m-%d %H:%M}"


def _four_hour_result(store: StateStore, t0: datetime | None, now: datetime) -> Field:
    field = "4-hour watch result"
    if t0 is None:
        return Field(field, _NO_T0)
    end = t0 + phases.ACTIVE_WATCH
    running = now < end
    if now < t0:
        return Field(field, "not yet: the watch starts at T0")
    issues = rm11_gate.window_issues(store, t0, now)
    if not issues:
        if running:
            return Field(field, f"not yet: clean so far (the 4-hour watch ends {_at(end)})")
        unobserved = rm11_gate.unobserved_reason(store, t0, end)
        if unobserved is not None:
            # Nothing invented: a window the watch did not see is left open, with why.
            return Field(field, f"[ ] clean [ ] issues found (left open: {unobserved})")
        return Field(field, "[x] clean [ ] issues found")
    # Issues found cannot become clean again: tick it even while the window is open.
    so_far = f" so far (the 4-hour watch ends {_at(end)})" if running else ""
    return Field(
        field,
        f"[ ] clean [x] issues found{so_far}:",
        tuple(rm11_gate.describe_issue(issue, _code) for issue in issues),
    )


def _peak(store: StateStore, t0: datetime | None, now: datetime) -> str:
    if t0 is None:
        return _NO_T0
    peak = marks.connection_peak(store, t0, now)
    if peak is None:
        return "no observation yet (no connection count since T0)"
    if peak.limit:
        share = f"{peak.connections} of {peak.limit} ({peak.connections * 100 // peak.limit}%)"
    else:
        share = f"{peak.connections} (no limit recorded)"
    return f"{share} at {_at(peak.at)}, from {peak.check} (the highest since T0)"


def _gate(store: StateStore, t0: datetime | None, now: datetime) -> Field:
    field = "RM-11 gate verdict"
    if t0 is None:
        return Field(field, _NO_T0)
    if now < t0:
        return Field(field, "not decided: the watch starts at T0")
    end = t0 + phases.ACTIVE_WATCH
    running = now < end
    verdict = rm11_gate.gate_verdict(store, t0, now, show=_code)
    so_far = f"not decided yet (the 4-hour watch ends {_at(end)}); so far " if running else ""
    if verdict.issues:
        # An alert in the window cannot be taken back: closed is final even while it runs.
        return Field(field, "closed:", tuple(verdict.reasons))
    if not verdict.open:
        return Field(field, f"{so_far}closed:", tuple(verdict.reasons))
    assert verdict.sentry_at is not None  # an open verdict rests on a clean Sentry check
    basis = (
        "no CRITICAL or WARNING alert in the 4-hour watch, and Sentry showed zero new"
        f" issues (checked at {_at(verdict.sentry_at)})"
    )
    sign_off = "" if running else "; RM-11 also needs the operator's sign-off in Section 8"
    return Field(field, f"{so_far}open: {basis}{sign_off}")


def _since(t0: datetime | None) -> str:
    return "recorded" if t0 is None else "since T0"


def _at(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min"


def _code(text: str) -> str:
    """Outside text as one inert Markdown code span: one line, printable, cut."""
    line = " ".join(text.split())
    line = "".join(c if c.isprintable() else "?" for c in line).replace("`", "'")
    if len(line) > _MAX_SHOWN:
        line = line[: _MAX_SHOWN - 1] + "\u2026"
    return f"`{line}`"
