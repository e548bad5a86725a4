"""The reading commands, `watcher record` and `watcher report`: the store alone, never created."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from checks.result import State
from checks.sources.clock import Clock
from watcher.redact import Redactor

if TYPE_CHECKING:
    from watcher.settings import Settings

EXIT_UNKNOWN = State.UNKNOWN.value


def record(settings: Settings, clock: Clock, redactor: Redactor) -> int:
    """`watcher record`: the Section 8 fields from the state store, as Markdown."""
    from watcher.store.state import StateStore, StateStoreError
    from watcher.timeline.section8 import record_markdown

    store = StateStore.from_url(settings.state_url.get_secret_value())
    try:
        # A reading command never creates a store: ask before the first query does.
        if not store.exists():
            print(redactor(_no_store("record", store.name)), file=sys.stderr)
            return EXIT_UNKNOWN
        t0 = settings.cutover_at or store.facts.watch_start()
        text = record_markdown(store, t0, settings.app, clock.now())
    except StateStoreError as exc:
        print(redactor(f"watcher record: {exc}"), file=sys.stderr)
        return EXIT_UNKNOWN
    finally:
        store.close()
    print(redactor(text))
    return 0


def report(settings: Settings, clock: Clock, redactor: Redactor, html_file: str | None) -> int:
    """`watcher report`: the watch on one page; an empty store says so and exits 3."""
    from watcher.report.from_store import is_empty, page_from_settings
    from watcher.report.html import render_html
    from watcher.report.markdown import render_markdown
    from watcher.store.state import StateStore, StateStoreError

    store = StateStore.from_url(settings.state_url.get_secret_value())
    try:
        # A reading command never creates a store: ask before the first query does.
        if not store.exists():
            print(redactor(_no_store("report", store.name)), file=sys.stderr)
            return EXIT_UNKNOWN
        if is_empty(store):
            print(
                "watcher report: the state store is empty: nothing has been watched yet"
                " (is WATCHER_STATE_URL the daemon's store?)",
                file=sys.stderr,
            )
            return EXIT_UNKNOWN
        page = page_from_settings(settings, store, clock.now())
    except StateStoreError as exc:
        print(redactor(f"watcher report: {exc}"), file=sys.stderr)
        return EXIT_UNKNOWN
    finally:
        store.close()
    if html_file is None:
        print(redactor(render_markdown(page)), end="")
        return 0
    text = redactor(render_html(page))
    if html_file == "-":
        print(text, end="")
        return 0
    try:
        _write_atomically(html_file, text)
    except OSError as exc:
        print(f"watcher report: cannot write {html_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    size = len(text.encode("utf-8"))
    print(f"watcher report: wrote {html_file} ({size:,} bytes)", file=sys.stderr)
    return 0


def _no_store(command: str, name: str) -> str:
    return (
        f"watcher {command}: no state store at {name}: nothing has been watched with it"
        " (is WATCHER_STATE_URL the daemon's store?)"
    )


def _write_atomically(path: str, text: str) -> None:
    """Write beside the target, then rename: a reader never sees half a page."""
    import tempfile
    from pathlib import Path

    target = Path(path)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as handle:
        handle.write(text)
    try:
        # The temporary file is private; the report is as readable as any file written here.
        Path(handle.name).chmod(0o644)
        Path(handle.name).replace(target)
    except OSError:
        Path(handle.name).unlink(missing_ok=True)
        raise
