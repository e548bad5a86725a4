"""The report as Markdown (`watcher report` without `--html`): the charts as hourly tables."""

from __future__ import annotations

from datetime import timedelta

from watcher.report.describe import NOTHING, describe, duration, hm, when
from watcher.report.model import Chart, WatchReport, coarsen
from watcher.report.svg import label

# The page's 15-minute buckets, merged into hours: a table of at most 24 rows per chart.
TABLE_STEP = timedelta(hours=1)
_MAX_SHOWN = 200


def render_markdown(report: WatchReport) -> str:
    """The same content as the page, for a terminal, a ticket or a Slack snippet."""
    lines = [
        f"# RM-10 watch report: {report.app}",
        "",
        f"- T0: {when(report.t0)}",
        f"- Watch: {report.watch}",
        f"- Generated: {when(report.now)}",
        "",
        "## Section 8 record",
        "",
    ]
    for field in report.fields:
        lines.append(f"- **{field.label}:** {field.text}")
        lines += [f"  - {item}" for item in field.items]
    lines += ["", "## Timeline", ""]
    for entry in report.timeline:
        if entry.posted_at is None:
            state = f"due {when(entry.due_at)}, not posted yet"
        elif entry.late:
            state = f"due {when(entry.due_at)}, posted late at {when(entry.posted_at)}"
        else:
            state = when(entry.posted_at)
        lines.append(f"- **{entry.name}** ({state})")
        lines += [f"  - {line}" for line in entry.lines]
    lines += ["", *_incidents(report), "", *_alerts(report), "", *_snoozes(report), ""]
    lines += [*_blind(report), "", "## Charts", ""]
    for chart in report.charts:
        lines += [*_chart(report, chart), ""]
    return "\n".join(lines).rstrip() + "\n"


def code(text: str) -> str:
    """Outside text as one inert code span: one line, printable, cut."""
    line = " ".join(text.split())
    line = "".join(c if c.isprintable() else "?" for c in line).replace("`", "'")
    if len(line) > _MAX_SHOWN:
        line = line[: _MAX_SHOWN - 1] + "\u2026"
    return f"`{line}`"


def _incidents(report: WatchReport) -> list[str]:
    lines = ["## Incidents", ""]
    if not report.incidents:
        return [*lines, "none: no incident was opened"]
    lines += [
        "| incident | opened | acknowledged | closed | alerts | Slack |",
        "|---|---|---|---|---|---|",
    ]
    for i in report.incidents:
        ack = when(i.acknowledged_at, "not acknowledged")
        if i.acknowledged_by:
            ack += f" by {code(i.acknowledged_by)}"
        if i.note:
            ack += f": {code(i.note)}"
        alerts = ", ".join(code(a) for a in i.alerts)
        lines.append(
            f"| {code(i.id)} | {when(i.opened_at)} | {ack} | {when(i.closed_at, 'still open')}"
            f" | {alerts} | {i.permalink or 'not known'} |"
        )
    return lines


def _alerts(report: WatchReport) -> list[str]:
    lines = ["## Alerts", ""]
    if not report.alerts:
        return [*lines, "none: no alert fired"]
    lines += [
        "| severity | alert | fired | acknowledged | resolved | for | reminders | summary"
        " | Slack |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in report.alerts:
        ack = when(a.acknowledged_at)
        if a.acknowledged_by:
            ack += f" by {code(a.acknowledged_by)}"
        lines.append(
            f"| {a.severity} | {code(a.id)} | {when(a.fired_at)} | {ack}"
            f" | {when(a.resolved_at, 'still firing')} | {duration(a.fired_at, a.resolved_at)}"
            f" | {a.reminders} | {code(a.summary).replace('|', '/')}"
            f" | {a.permalink or 'not known'} |"
        )
    return lines


def _snoozes(report: WatchReport) -> list[str]:
    lines = ["## Snoozes", ""]
    if not report.snoozes:
        return [*lines, "none: nothing was snoozed"]
    lines += ["| target | from | until | by | reason |", "|---|---|---|---|---|"]
    for s in report.snoozes:
        until = when(s.until)
        if s.cancelled_at:
            until += f" (cancelled {when(s.cancelled_at)})"
        lines.append(
            f"| {code(s.target)} | {when(s.start)} | {until} | {code(s.by)}"
            f" | {code(s.reason).replace('|', '/')} |"
        )
    return lines


def _blind(report: WatchReport) -> list[str]:
    lines = ["## Blind windows", ""]
    if not report.blind_windows:
        return [*lines, "none: the watch saw everything it watches"]
    lines += ["| blind on | from | to | for | why |", "|---|---|---|---|---|"]
    for b in report.blind_windows:
        lines.append(
            f"| {code(b.what)} | {when(b.start)} | {when(b.end, 'still blind')}"
            f" | {duration(b.start, b.end)} | {code(b.reason).replace('|', '/')} |"
        )
    return lines


def _chart(report: WatchReport, chart: Chart) -> list[str]:
    lines = [f"### {chart.title}", ""]
    if chart.note:
        lines += [chart.note, ""]
    if not chart.has_data:
        return [*lines, f"No data. {chart.no_data}"]
    axis = report.axis
    factor = max(1, int(TABLE_STEP / axis.bucket))
    columns = [coarsen(axis, series, factor) for series in chart.series]
    lines += [
        describe(chart, axis),
        "",
        "| hour from | " + " | ".join(s.label for s in chart.series) + " |",
        "|---|" + "---:|" * len(chart.series),
    ]
    for row, start in enumerate(range(0, axis.count, factor)):
        values = [column[row] for column in columns]
        if all(v is None for v in values):
            continue
        cells = " | ".join(NOTHING if v is None else label(v, chart.decimals) for v in values)
        lines.append(f"| {hm(axis.bucket_start(start))} | {cells} |")
    return lines
