"""A sample escalation as the Slack composer writes it: as text, and as a picture (SVG).

One alert's life: grant drift fires at 14:48Z, is reminded 30 minutes later, resolves at 15:48Z
(a reply, and the first message edited). `python -m watcher.cli.docs` writes both into the
documentation, so they change when the composer's wording does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape as xml_escape
from html import unescape
from typing import Any

from watcher.notify.slack_messages import Composer

APP, CHANNEL, MENTION = "raxx-api-prod", "#ops-alerts", "<@U024BE7LH>"
ALERT, CHECK = "grants.table_privileges", "grants"
SUMMARY = "raptor_app lacks INSERT on users, orders"
FIRED = datetime(2026, 5, 16, 14, 48, tzinfo=UTC)


@dataclass(frozen=True)
class Post:
    """One message as Slack shows it: what happened, when, and the lines of its blocks."""

    verb: str
    at: datetime
    where: str
    lines: list[str]


def _lines(message: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for block in message["blocks"]:
        if block["type"] == "section":
            lines.append(block["text"]["text"])
        elif block["type"] == "context":
            lines += [element["text"] for element in block["elements"]]
    return lines


def posts() -> list[Post]:
    """The four messages of the alert's life, from the composer."""
    composer = Composer(APP, MENTION)
    reminded, resolved = FIRED + timedelta(minutes=30), FIRED + timedelta(minutes=60)
    messages = [
        ("POST", FIRED, f"posted in {CHANNEL}", composer.fire(ALERT, CHECK, "CRITICAL", SUMMARY)),
        (
            "REPLY",
            reminded,
            "reply in its thread",
            composer.reminder("CRITICAL", SUMMARY, FIRED, reminded),
        ),
        ("REPLY", resolved, "reply in its thread", composer.resolved_reply(ALERT, FIRED, resolved)),
        (
            "EDIT",
            resolved,
            "the first message, edited",
            composer.resolved_original(ALERT, CHECK, "CRITICAL", SUMMARY, resolved),
        ),
    ]
    return [Post(verb, at, where, _lines(message)) for verb, at, where, message in messages]


def as_text() -> str:
    """The messages in a code block, one verb per message (Slack's mrkdwn as written)."""
    out = ["```"]
    for post in posts():
        first, *rest = post.lines
        out.append(f"{post.verb:<6} {first}")
        out += [f"       {line}" for line in rest]
    out.append("```")
    return "\n".join(out)


# Slack's shortcodes the composer uses, drawn as badges (an emoji font is not everywhere).
EMOJI = {
    ":rotating_light:": ("#e01e5a", "!"),
    ":warning:": ("#ecb22e", "!"),
    ":white_check_mark:": ("#2eb67d", "\u2713"),
}
_TOKEN = re.compile(r"(`[^`]*`|\*[^*\n]+\*|:[a-z_]+:|<@[A-Z0-9]+>)")
FONT, SIZE, ADVANCE = "DejaVu Sans Mono, Menlo, Consolas, monospace", 13, 7.83
LINE, PAD, WIDTH = 20, 16, 960


def _spans(line: str, x: float, y: float) -> tuple[list[str], float]:
    """One mrkdwn line as SVG text runs: bold, code spans, emoji and the mention styled."""
    out: list[str] = []
    for part in (p for p in _TOKEN.split(line) if p):
        style, text, advance = "", unescape(part), None
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            text = unescape(part[1:-1])
            width = len(text) * ADVANCE + 6
            out.append(
                f'<rect x="{x:.1f}" y="{y - 14}" width="{width:.1f}" height="18" rx="3" '
                'fill="#f6f6f6" stroke="#dddddd"/>'
            )
            style, x, advance = ' fill="#c01343"', x + 3, width - 3
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            text, style = part[1:-1], ' font-weight="bold"'
        elif part in EMOJI:
            colour, mark = EMOJI[part]
            out.append(
                f'<rect x="{x:.1f}" y="{y - 13}" width="16" height="16" rx="4" fill="{colour}"/>'
                f'<text x="{x + 4.5:.1f}" y="{y}" fill="#ffffff" font-weight="bold">{mark}</text>'
            )
            x += 2 * ADVANCE + 4
            continue
        elif part.startswith("<@"):
            text = "@on-call"
            width = len(text) * ADVANCE + 4
            out.append(
                f'<rect x="{x:.1f}" y="{y - 14}" width="{width:.1f}" height="18" rx="3" '
                'fill="#e8f5fa"/>'
            )
            style, x, advance = ' fill="#1264a3"', x + 2, width - 2
        # Leading and trailing spaces as offsets: renderers collapse them in SVG text.
        lead = len(text) - len(text.lstrip(" "))
        shown = text.strip(" ")
        if shown:
            start = x + lead * ADVANCE
            out.append(
                f'<text x="{start:.1f}" y="{y}"{style}>{xml_escape(shown, quote=False)}</text>'
            )
        x += advance if advance is not None else len(text) * ADVANCE
    return out, x


def as_svg() -> str:
    """The messages as Slack shows them, one card each, for the README's first screen."""
    body: list[str] = []
    y = PAD
    for post in posts():
        height = PAD + LINE * (len(post.lines) + 1) + 4
        indent = 40 if post.verb == "REPLY" else 0
        body.append(
            f'<rect x="{PAD + indent}" y="{y}" width="{WIDTH - 2 * PAD - indent}" '
            f'height="{height}" rx="6" fill="#ffffff" stroke="#d0d0d0"/>'
        )
        text_x, line_y = PAD + indent + 12, y + PAD + 10
        body.append(
            f'<text x="{text_x}" y="{line_y}" font-weight="bold">cutover-watcher</text>'
            f'<text x="{text_x + 17 * ADVANCE:.1f}" y="{line_y}" fill="#616061">'
            f"{post.at:%H:%MZ} \u00b7 {xml_escape(post.where)}</text>"
        )
        for line in post.lines:
            line_y += LINE
            spans, _ = _spans(line, text_x, line_y)
            body += spans
        y += height + 10
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + PAD - 10}" '
            f'viewBox="0 0 {WIDTH} {y + PAD - 10}" font-family="{FONT}" font-size="{SIZE}" '
            'fill="#1d1c1d" xml:space="preserve">',
            "<title>A CRITICAL grant-drift alert in Slack: posted with the on-call's mention, "
            "reminded in its thread, resolved, and the first message edited to say so</title>",
            f'<rect width="{WIDTH}" height="{y + PAD - 10}" fill="#f8f8f8"/>',
            *body,
            "</svg>",
            "",
        ]
    )
