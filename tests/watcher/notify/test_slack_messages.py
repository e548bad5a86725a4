"""Slack messages: hostile text can never mention, link or format; the runbook goes with it."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from checks import logs
from checks.logparse.log_line import parse
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_tally import LogTally
from checks.logparse.log_window import Coverage
from tests.support.clock import CUTOVER
from watcher.notify.slack_messages import Composer, plain, quote

# What Slack would act on in mrkdwn: a control sequence in angle brackets.
CONTROL = re.compile(r"<[^>]*>")
HOSTILE_PIECES = st.sampled_from(
    [
        "<!channel>",
        "<!here>",
        "<@U123>",
        "<!subteam^S1>",
        "<https://x|y>",
        "`",
        "*",
        "_",
        "~",
        "&",
        "\n",
        ">",
        "<",
    ]
)
HOSTILE = st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=20)), max_size=30).map("".join)


@given(HOSTILE)
def test_quoted_text_is_one_inert_code_span(text: str) -> None:
    quoted = quote(text)
    assert quoted.startswith("`") and quoted.endswith("`")
    assert quoted.count("`") == 2  # nothing inside can close the span
    assert "<" not in quoted and ">" not in quoted
    assert "\n" not in quoted


@given(HOSTILE)
def test_a_fired_message_has_no_control_sequence_but_the_mention(summary: str) -> None:
    message = Composer("raxx-api-prod", "<@U024BE7LH>").fire(
        "logs.permission_denied", "logs", "CRITICAL", summary
    )
    everything = json.dumps(message)
    assert CONTROL.findall(everything.replace("<@U024BE7LH>", "")) == []
    assert message["text"].startswith("<@U024BE7LH> CRITICAL")


def test_every_message_carries_the_sop_and_next_step() -> None:
    message = Composer("raxx-api-prod").fire(
        "grants.table_privileges", "grants", "CRITICAL", "raptor_app lacks INSERT on users"
    )
    assert "RM-10 4.6, 7.3" in message["text"]
    assert "grant drift: re-run step 4.6 grants; RM-11 stays closed" in json.dumps(message)


def test_a_warning_never_mentions() -> None:
    message = Composer("raxx-api-prod", "<@U024BE7LH>").fire(
        "pg_info.connections", "pg_info", "WARNING", "16/25"
    )
    assert "<@U024BE7LH>" not in json.dumps(message)


def test_the_resolved_original_does_not_ping_again() -> None:
    composer = Composer("raxx-api-prod", "<@U024BE7LH>")
    message = composer.resolved_original(
        "healthz.db_sqlite", "healthz", "CRITICAL", "db=sqlite", CUTOVER + timedelta(hours=1)
    )
    assert "<@U024BE7LH>" not in json.dumps(message)
    assert message["text"].startswith("RESOLVED (was CRITICAL)")


def test_plain_fallback_drops_blocks_and_shortens() -> None:
    assert plain({"text": "x" * 5000, "blocks": [{}]}) == {"text": "x" * 2999 + "\u2026"}


def test_a_log_alert_says_the_next_step_once_and_the_lines_time_as_hh_mm_ssz() -> None:
    # The finding as the `logs` check makes it, from a line with Heroku's microseconds.
    raw = (
        "2026-05-16T15:02:10.123456+00:00 app[web.1]: psycopg2.errors.InsufficientPrivilege:"
        " permission denied for table users"
    )
    matcher = LogMatcher(catalogue("raptor_app"))
    tally = LogTally()
    now = CUTOVER + timedelta(minutes=20)
    for match in matcher.match(parse(raw), now):
        tally.count_match(match, now)
    coverage = Coverage("one line", None, ())
    (finding,) = logs.evaluate(tally, matcher, now, coverage).findings
    message = Composer("raxx-api-prod").fire(finding.id, "logs", "CRITICAL", finding.summary)
    shown = "\n".join(block["text"]["text"] for block in message["blocks"] if "text" in block)
    shown += "\n" + "\n".join(
        element["text"] for block in message["blocks"] for element in block.get("elements", [])
    )
    assert shown.count("re-run step 4.6 grants") == 1
    assert "Next: grant drift: re-run step 4.6 grants; RM-11 stays closed" in shown
    assert "the last at 15:02:10Z: app[web.1]: psycopg2" in shown
    assert ".123456" not in shown and "2026-05-16T15:02:10" not in shown
    assert str(message["text"]).count("re-run step 4.6 grants") == 1
