"""Reads a generated HTML page as a browser would see it: tags, text, tables, and anything that
would make it load something from elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that load something (or run something) by their nature.
_LOADING_TAGS = frozenset(
    {"script", "link", "img", "iframe", "frame", "object", "embed", "image", "use", "source",
     "video", "audio", "track", "base", "form", "input", "picture", "portal", "feimage"}
)  # fmt: skip
_LOADING_ATTRIBUTES = frozenset(
    {"src", "srcset", "data", "xlink:href", "action", "formaction", "poster", "background",
     "ping", "manifest", "codebase", "archive", "lowsrc", "dynsrc"}
)  # fmt: skip
SLACK_PERMALINK = re.compile(r"https://[a-z0-9-]+\.slack\.com/archives/[A-Z0-9]+/p\d+(\?\S*)?")


@dataclass
class Table:
    caption: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class Page(HTMLParser):
    """Everything the tests ask of a page, collected in one pass."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.problems: list[str] = []
        self.tables: list[Table] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self.ids: list[str] = []
        self._open: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(html)
        self.close()

    # -- what the tests read ---------------------------------------------------------------

    def external_resources(self) -> list[str]:
        """Everything that would load or run something not in the page (empty: self-contained)."""
        found = list(self.problems)
        for style in self.styles:
            if "@import" in style or re.search(r"url\s*\(", style, re.IGNORECASE):
                found.append(f"style loads something: {style[:80]}")
        return found

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def table(self, caption_start: str) -> Table:
        matching = [t for t in self.tables if t.caption.startswith(caption_start)]
        assert len(matching) == 1, f"{len(matching)} tables captioned {caption_start!r}"
        return matching[0]

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)

    # -- parsing -----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if tag not in ("br", "meta", "rect", "line", "circle", "polyline", "path", "col"):
            self._open.append(tag)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if tag in _LOADING_TAGS:
            self.problems.append(f"<{tag}> loads or runs something")
        for name, value in values.items():
            if name in _LOADING_ATTRIBUTES:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>: an event handler runs script")
            if name == "style" and value:
                self.styles.append(value)
            if name == "href" and (tag != "a" or not SLACK_PERMALINK.fullmatch(value or "")):
                self.problems.append(f"<{tag} href={value!r}>")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        if tag == "table":
            self.tables.append(Table(""))
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass
        if tag == "caption" and self._caption is not None and self.tables:
            self.tables[-1].caption = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            in_head = "thead" in self._open
            table = self.tables[-1]
            if in_head:
                table.header = self._row
            else:
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "style":
            self.styles.append(data)
            return
        if self._open and self._open[-1] in ("title", "desc") and "svg" in self._open:
            self.text.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)
