"""The Markdown: the same content, the charts as hourly tables."""

from __future__ import annotations

from tests.watcher.report.sample import sample_report, with_everything
from watcher.report.markdown import render_markdown


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return [line for line in lines[start + 1 : end] if line]


def test_charts_become_hourly_tables_merged_as_each_series_says() -> None:
    text = render_markdown(sample_report())
    assert section(text, "### Postgres connections")[1:] == [
        "| hour from | pg:info | ceiling | plan limit |",
        "|---|---:|---:|---:|",
        "| 14:48Z | 9 | 25 | 120 |",  # the highest of 6, 7, -, 9
        "| 15:48Z | 12 | 25 | 120 |",
    ]
    assert section(text, "### Log matches per pattern")[-2:] == [
        "| 14:48Z | 3 | 3 |",  # sums: 0+2+1+0, 0+0+3+0
        "| 15:48Z | 0 | 1 |",
    ]


def test_a_chart_without_data_says_why() -> None:
    text = render_markdown(sample_report())
    assert section(text, "### Router p95 service time") == [
        "No data. No router p95 in the history."
    ]


def test_empty_sections_say_none() -> None:
    text = render_markdown(sample_report())
    assert section(text, "## Incidents") == ["none: no incident was opened"]
    assert section(text, "## Snoozes") == ["none: nothing was snoozed"]
    assert section(text, "## Blind windows") == ["none: the watch saw everything it watches"]


def test_outside_text_is_one_inert_code_span() -> None:
    text = render_markdown(sample_report())
    row = next(line for line in section(text, "## Alerts") if "healthz.db_sqlite" in line)
    # Backticks and pipes of outside text cannot break out of the span or the table.
    assert (
        "`<script>alert(\"x\")</script><img src=https://evil.example/x.png> 'tick' / pipe`" in row
    )
    assert row.count("|") == 10


def test_incidents_snoozes_and_blind_windows_are_listed_when_present() -> None:
    text = render_markdown(with_everything())
    assert "by `ana`: `rolling forward`" in section(text, "## Incidents")[2]
    assert "`planned restart`" in section(text, "## Snoozes")[2]
    assert section(text, "## Blind windows")[2].startswith("| `sentry` | 2026-05-16 15:48 UTC")
