"""The page: self-contained, escaped, accessible, every section present even when empty."""

from __future__ import annotations

from tests.support.html_page import Page
from tests.watcher.report.sample import HOSTILE, PERMALINK, sample_report, with_everything
from watcher.report.html import render_html


def test_the_page_loads_nothing_from_anywhere() -> None:
    page = Page(render_html(with_everything()))
    assert page.external_resources() == []
    assert page.count("svg") == 2  # the router chart has no data: no svg for it
    policy = next(a for t, a in page.tags if t == "meta" and a.get("http-equiv"))
    assert policy["content"] is not None and policy["content"].startswith("default-src 'none'")


def test_the_checker_finds_what_would_load() -> None:
    """The check above can fail: each of these pages loads something."""
    for html in (
        '<img src="x.png">',
        '<link rel="stylesheet" href="https://cdn.example/x.css">',
        "<script>1</script>",
        "<style>@import 'x.css';</style>",
        '<p style="background: url(x.png)">',
        '<a href="file:///etc/passwd">x</a>',
        '<svg><use href="#x"/></svg>',
        '<p onclick="x()">',
    ):
        assert Page(html).external_resources(), html


def test_outside_text_is_escaped_and_only_slack_permalinks_are_links() -> None:
    html = render_html(sample_report())
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    page = Page(html)
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links == [PERMALINK]  # javascript:alert(1) is shown as text, not linked
    assert "javascript:alert(1)" in page.all_text()


def test_empty_sections_say_none() -> None:
    text = Page(render_html(sample_report())).all_text()
    assert "Incidents none: no incident was opened" in text
    assert "Snoozes none: nothing was snoozed" in text
    assert "Blind windows none: the watch saw everything it watches" in text


def test_every_section_is_there() -> None:
    page = Page(render_html(with_everything()))
    for key in ("record", "charts", "timeline", "incidents", "alerts", "snoozes", "blind"):
        assert key in page.ids, key
    text = page.all_text()
    assert "inc-1" in text and "by ana" in text and "rolling forward" in text
    assert "planned restart" in text and "HTTP 503" in text


def test_each_chart_has_a_text_alternative_and_its_numbers_in_a_table() -> None:
    page = Page(render_html(sample_report()))
    table = page.table("Postgres connections")
    assert table.header == ["from", "pg:info", "ceiling", "plan limit"]
    # A bucket with nothing in any series is left out; a missing value is a dash.
    assert table.rows[:3] == [
        ["14:48Z", "6", "25", "120"],
        ["15:03Z", "7", "25", "120"],
        ["15:18Z", "\u2013", "25", "120"],
    ]
    text = page.all_text()
    assert "pg:info: highest 12 at 15:48 UTC, latest 6" in text
    assert "plan limit: 120 (above the chart's range, not drawn)" in text


def test_a_chart_without_data_says_why() -> None:
    text = Page(render_html(sample_report())).all_text()
    assert "Router p95 service time No data. No router p95 in the history." in text


def test_the_page_is_made_for_phones_and_paper() -> None:
    page = Page(render_html(sample_report()))
    viewport = next(a for t, a in page.tags if t == "meta" and a.get("name") == "viewport")
    assert viewport["content"] == "width=device-width, initial-scale=1"
    css = " ".join(page.styles)
    assert "@media (max-width: 760px)" in css
    assert "@media print" in css
