"""The report as one self-contained HTML page: inline CSS and SVG, nothing loaded from anywhere.

No script, font, style sheet or image is referenced: the file shows the same offline, printed
and on a phone. The only links are the Slack permalinks of posted alerts (a reader follows them,
the page never loads them). Outside text is escaped; the adapter's `code spans` become <code>.
"""

from __future__ import annotations

import re
from html import escape

from watcher import __version__
from watcher.report.describe import NOTHING, describe, duration, hm, when
from watcher.report.model import (
    AlertItem,
    Chart,
    Incident,
    Series,
    SpanKind,
    WatchReport,
)
from watcher.report.svg import SPAN_FILLS, chart_svg, colours, label, scale

# The page loads nothing; a browser told so refuses anything that slipped in (and says so).
POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CODE = re.compile(r"`([^`]*)`")
# Only Slack's own permalinks become links; anything else is shown as text.
_PERMALINK = re.compile(
    r"https://[a-z0-9-]+(\.enterprise)?\.slack\.com/archives/[A-Za-z0-9/?=&._-]+"
)

_CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff;
  --soft: #f6f8fa; --crit: #b42318; --warn: #9a6700; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.5rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 0.6rem; padding-bottom: 0.25rem;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 0 0 0.2rem; }
p { margin: 0.3rem 0; }
.meta { color: var(--muted); }
code { font: 0.88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--soft); padding: 0 0.25em; border-radius: 3px; overflow-wrap: anywhere; }
dl.fields { display: grid; grid-template-columns: minmax(12rem, 18rem) 1fr; gap: 0.35rem 1rem;
  margin: 0; }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; }
ul { margin: 0.2rem 0; padding-left: 1.3rem; }
.verdict-open { color: var(--ok); font-weight: 600; }
.verdict-closed { color: var(--crit); font-weight: 600; }
.sev-CRITICAL { color: var(--crit); font-weight: 600; }
.sev-WARNING { color: var(--warn); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 0.86rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.45rem; text-align: left;
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { position: sticky; top: 0; background: var(--soft); }
.scroll { overflow-x: auto; }
figure { margin: 1.4rem 0 1.6rem; break-inside: avoid; page-break-inside: avoid; }
.chart-row { display: grid; grid-template-columns: minmax(0, 1.7fr) minmax(0, 1.3fr); gap: 1rem;
  align-items: start; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: var(--muted); }
svg.chart .plot { fill: #fcfcfd; stroke: var(--line); }
svg.chart .grid { stroke: #eaeef2; }
svg.chart line { stroke: var(--muted); }
svg.chart .grid { stroke: #e6e9ed; }
svg.chart .marker { stroke: #6e40c9; stroke-dasharray: 3 3; }
svg.chart .marker-label { fill: #6e40c9; font-weight: 600; }
svg.chart .unit { font-weight: 600; }
.numbers { max-height: 250px; overflow: auto; border: 1px solid var(--line); border-radius: 4px;
  font-size: 0.92em; }
.numbers caption { text-align: left; font-size: 0.8rem; color: var(--muted);
  padding: 0.2rem 0.4rem; }
.legend { list-style: none; padding: 0; margin: 0.3rem 0 0; display: flex; flex-wrap: wrap;
  gap: 0.2rem 1rem; font-size: 0.85rem; color: var(--muted); }
.swatch { display: inline-block; width: 1.6em; height: 0; border-top: 3px solid;
  vertical-align: middle; margin-right: 0.35em; }
.box { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em;
  margin-right: 0.35em; border-radius: 2px; }
.nodata { padding: 1.2rem; background: var(--soft); border: 1px dashed var(--line);
  border-radius: 4px; color: var(--muted); }
.none { color: var(--muted); font-style: italic; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline > li { border-left: 3px solid var(--line); padding: 0.1rem 0 0.6rem 0.9rem; }
ol.timeline > li.done { border-color: #6e40c9; }
footer { margin-top: 2rem; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 760px) {
  main { padding: 10px 12px 30px; }
  body { font-size: 14px; }
  dl.fields { grid-template-columns: 1fr; }
  dl.fields dd { margin-bottom: 0.4rem; }
  .chart-row { grid-template-columns: 1fr; }
}
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .numbers { max-height: none; overflow: visible; border: 0; }
  .chart-row { grid-template-columns: 1fr; }
  .numbers { display: none; }
  .print-note { display: block; }
  h2 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
.print-note { display: none; color: var(--muted); font-size: 0.8rem; }
"""


def render_html(report: WatchReport) -> str:
    """The whole page as one string."""
    title = f"RM-10 watch report: {report.app}"
    body = [
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">T0 {escape(when(report.t0))} · {rich(report.watch)}'
        f" · generated {escape(when(report.now))}</p>",
        "</header>",
        _fields(report),
        _charts(report),
        _timeline(report),
        _incidents(report.incidents),
        _alerts(report.alerts),
        _snoozes(report),
        _blind(report),
        f"<footer>cutover-watcher {escape(__version__)} · built from the state store's"
        " history · the whole page is this one file</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def rich(text: str) -> str:
    """Escaped text whose `code spans` (outside text, marked by the adapter) become <code>."""
    return _CODE.sub(r"<code>\1</code>", escape(text))


def _section(key: str, title: str, inner: str) -> str:
    return (
        f'<section id="{key}" aria-labelledby="{key}-h"><h2 id="{key}-h">{title}</h2>'
        f"{inner}</section>"
    )


def _none(what: str) -> str:
    return f'<p class="none">none{escape(what)}</p>'


def _fields(report: WatchReport) -> str:
    rows = []
    for field in report.fields:
        text = rich(field.text)
        if field.label.startswith("RM-11 gate") and field.text.startswith(("open", "closed")):
            tone = "open" if field.text.startswith("open") else "closed"
            text = f'<span class="verdict-{tone}">{text}</span>'
        items = "".join(f"<li>{rich(item)}</li>" for item in field.items)
        rows.append(
            f"<dt>{escape(field.label)}</dt><dd>{text}{f'<ul>{items}</ul>' if items else ''}</dd>"
        )
    return _section("record", "Section 8 record", f'<dl class="fields">{"".join(rows)}</dl>')


def _charts(report: WatchReport) -> str:
    axis = report.axis
    minutes = int(axis.bucket.total_seconds() // 60)
    key = (
        '<ul class="legend">'
        + "".join(
            f'<li><span class="box" style="background:{SPAN_FILLS[kind]};opacity:.35"></span>'
            f"{text}</li>"
            for kind, text in (
                (SpanKind.CRITICAL, "CRITICAL alert firing"),
                (SpanKind.WARNING, "WARNING alert firing"),
                (SpanKind.BLIND, "blind window"),
                (SpanKind.SNOOZE, "snoozed"),
            )
        )
        + '<li><span class="swatch" style="border-color:#6e40c9;border-top-style:dashed"></span>'
        "T0 and the 4-, 8- and 24-hour marks</li></ul>"
    )
    intro = (
        f"<p>From T0 to {escape(when(axis.end))}, in {minutes}-minute steps: each point is the"
        f" highest value observed in its {minutes} minutes (counts are totals). Shaded: alerts"
        " and blind windows.</p>" + key
    )
    return _section("charts", "Charts", intro + "".join(_chart(report, c) for c in report.charts))


def _chart(report: WatchReport, chart: Chart) -> str:
    description = describe(chart, report.axis)
    note = f'<p class="meta">{rich(chart.note)}</p>' if chart.note else ""
    head = (
        f'<figcaption><h3 id="{escape(chart.key)}-h">{escape(chart.title)}</h3>{note}</figcaption>'
    )
    if not chart.has_data:
        return (
            f'<figure id="chart-{escape(chart.key)}">{head}'
            f'<p class="nodata" role="note">No data. {rich(chart.no_data)}</p></figure>'
        )
    svg = chart_svg(chart, report.axis, report.markers, report.spans, description)
    _, off = scale(chart)
    legend = "".join(
        f'<li><span class="swatch" style="border-color:{colour};'
        f'border-top-style:{"dashed" if dash else "solid"}"></span>{escape(s.label)}'
        f"{_off_chart(s, chart) if s in off else ''}</li>"
        for s, (colour, dash) in zip(chart.series, colours(chart), strict=True)
    )
    return (
        f'<figure id="chart-{escape(chart.key)}">{head}<div class="chart-row">'
        f'<div>{svg}<ul class="legend">{legend}</ul></div>'
        f"{_numbers(report, chart)}</div>"
        f'<p class="print-note">{escape(description)}</p></figure>'
    )


def _off_chart(series: Series, chart: Chart) -> str:
    highest = max(v for v in series.values if v is not None)
    return f" ({escape(label(highest, chart.decimals))}, above the chart: not drawn)"


def _numbers(report: WatchReport, chart: Chart) -> str:
    axis = report.axis
    head = "".join(f'<th scope="col" class="num">{escape(s.label)}</th>' for s in chart.series)
    rows = []
    for index in range(axis.count):
        values = [s.values[index] for s in chart.series]
        if all(v is None for v in values):
            continue
        cells = "".join(
            f'<td class="num">{NOTHING if v is None else label(v, chart.decimals)}</td>'
            for v in values
        )
        rows.append(f'<tr><th scope="row">{hm(axis.bucket_start(index))}</th>{cells}</tr>')
    minutes = int(axis.bucket.total_seconds() // 60)
    caption = f"{escape(chart.title)}, {escape(chart.unit)}, per {minutes} minutes"
    return (
        f'<div class="numbers" role="region" tabindex="0" aria-label="{caption}">'
        f'<table><caption>{caption}</caption><thead><tr><th scope="col">from</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _timeline(report: WatchReport) -> str:
    items = []
    for entry in report.timeline:
        if entry.posted_at is None:
            state = f"due {escape(when(entry.due_at))}, not posted yet"
        elif entry.late:
            state = (
                f"due {escape(when(entry.due_at))}, posted late at {escape(when(entry.posted_at))}"
            )
        else:
            state = f"{escape(when(entry.posted_at))}"
        lines = "".join(f"<li>{rich(line)}</li>" for line in entry.lines)
        done = "done" if entry.posted_at is not None else "pending"
        items.append(
            f'<li class="{done}"><h3>{escape(entry.name)}</h3><p class="meta">{state}</p>'
            f"{f'<ul>{lines}</ul>' if lines else ''}</li>"
        )
    return _section("timeline", "Timeline", f'<ol class="timeline">{"".join(items)}</ol>')


def _link(permalink: str | None) -> str:
    if permalink is None:
        return '<span class="none">not known</span>'
    if not _PERMALINK.fullmatch(permalink):
        return f"<code>{escape(permalink)}</code>"
    return f'<a href="{escape(permalink)}" rel="noopener noreferrer">Slack thread</a>'


def _incidents(incidents: tuple[Incident, ...]) -> str:
    if not incidents:
        return _section("incidents", "Incidents", _none(": no incident was opened"))
    rows = "".join(
        "<tr>"
        f"<td>{escape(i.id)}</td><td>{escape(when(i.opened_at))}</td>"
        f"<td>{escape(when(i.acknowledged_at, 'not acknowledged'))}"
        f"{f' by {escape(i.acknowledged_by)}' if i.acknowledged_by else ''}"
        f"{f'<br><code>{escape(i.note)}</code>' if i.note else ''}</td>"
        f"<td>{escape(when(i.closed_at, 'still open'))}</td>"
        f"<td>{', '.join(f'<code>{escape(a)}</code>' for a in i.alerts)}</td>"
        f"<td>{_link(i.permalink)}</td></tr>"
        for i in incidents
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>incident</th><th>opened</th>'
        "<th>acknowledged</th><th>closed</th><th>alerts</th><th>Slack</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    return _section("incidents", "Incidents", table)


def _alerts(alerts: tuple[AlertItem, ...]) -> str:
    if not alerts:
        return _section("alerts", "Alerts", _none(": no alert fired"))
    rows = "".join(
        "<tr>"
        f'<td class="sev-{escape(a.severity)}">{escape(a.severity)}</td>'
        f"<td><code>{escape(a.id)}</code></td><td>{escape(when(a.fired_at))}</td>"
        f"<td>{escape(when(a.acknowledged_at, NOTHING))}"
        f"{f' by {escape(a.acknowledged_by)}' if a.acknowledged_by else ''}</td>"
        f"<td>{escape(when(a.resolved_at, 'still firing'))}</td>"
        f"<td>{escape(duration(a.fired_at, a.resolved_at))}</td>"
        f'<td class="num">{a.reminders}</td>'
        f"<td><code>{escape(a.summary)}</code></td><td>{_link(a.permalink)}</td></tr>"
        for a in alerts
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>severity</th><th>alert</th><th>fired</th>'
        "<th>acknowledged</th><th>resolved</th><th>for</th><th>reminders</th><th>summary</th>"
        f"<th>Slack</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    return _section("alerts", "Alerts", table)


def _snoozes(report: WatchReport) -> str:
    if not report.snoozes:
        return _section("snoozes", "Snoozes", _none(": nothing was snoozed"))
    rows = "".join(
        f"<tr><td><code>{escape(s.target)}</code></td><td>{escape(when(s.start))}</td>"
        f"<td>{escape(when(s.until))}"
        f"{f' (cancelled {escape(when(s.cancelled_at))})' if s.cancelled_at else ''}</td>"
        f"<td>{escape(s.by)}</td><td><code>{escape(s.reason)}</code></td></tr>"
        for s in report.snoozes
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>target</th><th>from</th><th>until</th>'
        f"<th>by</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    return _section("snoozes", "Snoozes", table)


def _blind(report: WatchReport) -> str:
    if not report.blind_windows:
        return _section("blind", "Blind windows", _none(": the watch saw everything it watches"))
    rows = "".join(
        f"<tr><td><code>{escape(b.what)}</code></td><td>{escape(when(b.start))}</td>"
        f"<td>{escape(when(b.end, 'still blind'))}</td>"
        f"<td>{escape(duration(b.start, b.end))}</td><td><code>{escape(b.reason)}</code></td></tr>"
        for b in report.blind_windows
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>blind on</th><th>from</th><th>to</th>'
        f"<th>for</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    return _section("blind", "Blind windows", table)
