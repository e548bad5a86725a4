"""scripts/outage-transcript: a simulated database outage pages once, is acknowledged and
resolves, and the run's log shows each alert change (never a matched line)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.slack import FakeSlack
from tests.support.outage_transcript import MENTION, channel, simulate


def test_the_simulated_outage_as_slack_and_the_log_show_it(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        lines = simulate(slack, tmp_path)
        (page,) = slack.top_level()
        replies = [r.text or "" for r in slack.replies(page.ts)]
        shown = channel(slack)
    assert (page.text or "").startswith(MENTION)
    assert sum(MENTION in (m.text or "") for m in slack.messages) == 2  # the page, one reminder
    assert [r.split(":", 2)[1] for r in replies[:4]] == ["rotating_light"] * 3 + ["warning"]
    assert replies[4].startswith(f"{MENTION} still CRITICAL after 30 min")
    assert replies[5].startswith(":ok_hand: acknowledged by alice")
    assert replies[6].startswith("still CRITICAL after 60 min")
    assert replies[-1].endswith("the incident is closed: all 5 alert(s) resolved after 95 min")
    assert (page.current_text or "").startswith("RESOLVED (was CRITICAL)")
    assert any("chat.update #10" in line for line in shown)
    events = [line.split('msg="', 1)[1].split('"', 1)[0] for line in lines if 'msg="' in line]
    # Beside the alert changes, each message delivered (docs/daemon.md), never its text.
    assert "message delivered" in events
    changes = [event for event in events if event.startswith("alert ")]
    assert changes == [
        "alert fired",
        *["alert joined an incident"] * 4,
        "alert reminded",
        "alert acknowledged",
        "alert reminded",
        "alert resolved",
        "alert resolved",
        "alert reminded",
        *["alert resolved"] * 3,
    ]
    assert all(
        line.split(" ", 1)[1].startswith("app[worker.1]:") for line in lines if "msg=" in line
    )
    # The checks' summaries (the matched text among them) are posted, never logged.
    assert not any("could not connect" in line or "db=unreachable" in line for line in lines)
