"""The page of a 24-hour watch in a real headless Chromium: drawn, quiet, and loading nothing.

Set KEEP_REPORT_SCREENSHOT=docs/report.png to keep the desktop screenshot (how the README's
picture is made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.browser import png_colours, render
from tests.watcher.report.conftest import WatchedDay
from watcher.report.from_store import page_from_settings
from watcher.report.html import render_html

# A blank or failed page is one or two colours; text, charts and shading are hundreds.
MIN_COLOURS = 100


@pytest.fixture(scope="module")
def page_file(watched_day: WatchedDay, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = watched_day.store()
    try:
        html = render_html(page_from_settings(watched_day.settings, store, watched_day.now))
    finally:
        store.close()
    path = tmp_path_factory.mktemp("page") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "width", "height"), [("desktop", 1280, 1800), ("phone", 390, 1400)]
)
def test_chromium_draws_the_page_without_a_console_message(
    page_file: Path, tmp_path: Path, name: str, width: int, height: int
) -> None:
    shot = render(page_file, tmp_path / f"{name}.png", width, height)
    assert shot.console == []
    # The page itself and nothing else: no image, font, style sheet or script file.
    assert shot.files_loaded == [page_file.resolve().as_uri()]
    assert png_colours(shot.screenshot) >= MIN_COLOURS
    keep = os.environ.get("KEEP_REPORT_SCREENSHOT")
    if keep and name == "desktop":
        shutil.copyfile(shot.screenshot, keep)


def test_the_browser_checks_can_fail(tmp_path: Path) -> None:
    """A page that loads a file and logs an error is caught; a blank one has one colour."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="missing.png">'
        "<script>console.error('boom')</script></body></html>"
    )
    shot = render(bad, tmp_path / "bad.png", 400, 300)
    assert any('"boom"' in line for line in shot.console)
    assert (tmp_path / "missing.png").as_uri() in shot.files_loaded
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert png_colours(render(blank, tmp_path / "blank.png", 400, 300).screenshot) == 1


def test_the_page_refuses_what_slipped_in(tmp_path: Path, watched_day: WatchedDay) -> None:
    """Its Content-Security-Policy blocks a loaded file even if one were written into it."""
    store = watched_day.store()
    try:
        html = render_html(page_from_settings(watched_day.settings, store, watched_day.now))
    finally:
        store.close()
    page = tmp_path / "tampered.html"
    page.write_text(html.replace("</main>", '<img src="x.png"></main>'), encoding="utf-8")
    shot = render(page, tmp_path / "tampered.png", 800, 600)
    assert (tmp_path / "x.png").as_uri() not in shot.files_loaded
    assert any("Content Security Policy" in line for line in shot.console)
