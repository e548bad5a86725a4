"""The alert lifecycle against a real HTTP server speaking Slack's Web API, on a moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from checks.result import Finding, Result, State
from tests.fakes.slack import CHANNEL_ID, TOKEN, FakeSlack
from tests.support.clock import FakeClock
from watcher.alerting.escalation import AlertPolicy, Escalation
from watcher.checking.runner import CheckReport
from watcher.notify.delivery import Delivery
from watcher.notify.slack import SlackTransport
from watcher.notify.slack_messages import Composer
from watcher.store.state import StateStore

MENTION = "<@U024BE7LH>"
GRANT_DRIFT = Finding(
    "grants.table_privileges", State.CRITICAL, "raptor_app lacks INSERT on users, orders"
)


class Watch:
    """The escalation and delivery of one watch, over a store that outlives `restart()`."""

    def __init__(self, path: Path, slack: FakeSlack, clock: FakeClock) -> None:
        self.path, self.slack, self.clock = path, slack, clock
        self.restart()

    def restart(self) -> None:
        self.store = StateStore.sqlite(str(self.path))
        self.escalation = Escalation(self.store, AlertPolicy())
        composer = Composer("raxx-api-prod", MENTION)
        transport = SlackTransport(
            TOKEN, self.slack.api_url, "#ops-alerts", timeout=5, composer=composer
        )
        self.delivery = Delivery(self.store, [transport], self.clock)

    def cycle(self, *reports: CheckReport, minutes: float = 15) -> None:
        """Observe the reports now, deliver, then let `minutes` pass."""
        now = self.clock.now()
        self.escalation.observe(list(reports), now)
        self.escalation.remind(now)
        self.delivery.deliver()
        self.clock.advance(minutes * 60)


def report(
    check: str, *findings: Finding, state: State | None = None, summary: str = ""
) -> CheckReport:
    result = Result.from_findings(findings, summary or "fine")
    if state is State.UNKNOWN:
        result = Result.unknown(summary or "cannot see")
    return CheckReport(check, "7.3", result, 0.1)


@pytest.fixture
def watch(tmp_path: Path, slack: FakeSlack, clock: FakeClock) -> Iterator[Watch]:
    w = Watch(tmp_path / "state.db", slack, clock)
    yield w
    w.store.close()


def test_the_whole_life_of_a_critical_alert(watch: Watch, slack: FakeSlack) -> None:
    watch.cycle(report("grants", GRANT_DRIFT))  # fires at once: grants are deterministic
    (fired,) = slack.top_level()
    assert fired.text is not None and fired.text.startswith(MENTION)
    assert "grant drift: re-run step 4.6 grants; RM-11 stays closed" in fired.text
    assert fired.channel == CHANNEL_ID
    watch.cycle(report("grants", GRANT_DRIFT))  # 15 min: no reminder yet
    watch.cycle(report("grants", GRANT_DRIFT))  # 30 min since firing: a reminder
    (reminder,) = slack.replies(fired.ts)
    assert reminder.text is not None and "still CRITICAL after 30 min" in reminder.text
    # Nobody acknowledged the incident: its reminder pings the on-call again.
    assert reminder.text.startswith(MENTION)
    watch.cycle(report("grants"))  # first OK: not yet resolved
    assert len(slack.replies(fired.ts)) == 1
    watch.cycle(report("grants"))  # second OK: resolved
    assert [r.text for r in slack.replies(fired.ts)][1].startswith(":white_check_mark: resolved")  # type: ignore[union-attr]
    assert fired.current_text is not None and fired.current_text.startswith(
        "RESOLVED (was CRITICAL)"
    )
    assert len(slack.top_level()) == 1
    events = [e.event for e in watch.store.alerts.events()]
    assert events == ["fired", "reminded", "resolved"]


def test_a_restart_neither_forgets_nor_repages(watch: Watch, slack: FakeSlack) -> None:
    watch.cycle(report("grants", GRANT_DRIFT))
    watch.store.close()
    watch.restart()
    watch.cycle(report("grants", GRANT_DRIFT))
    assert len(slack.top_level()) == 1
    watch.cycle(report("grants"))
    watch.cycle(report("grants"))
    (fired,) = slack.top_level()
    assert fired.current_text is not None and fired.current_text.startswith("RESOLVED")


def test_transport_failures_fire_on_the_second_observation(watch: Watch, slack: FakeSlack) -> None:
    timeout = Finding("healthz.timeout", State.CRITICAL, "no answer within 8 s")
    watch.cycle(report("healthz", timeout), minutes=1)
    watch.cycle(report("healthz"), minutes=1)  # a blip: never posted
    watch.cycle(report("healthz", timeout), minutes=1)
    assert slack.top_level() == []
    watch.cycle(report("healthz", timeout), minutes=1)
    (fired,) = slack.top_level()
    assert "healthz.timeout" in str(fired.blocks)


def test_a_contract_failure_fires_at_once(watch: Watch, slack: FakeSlack) -> None:
    sqlite = Finding("healthz.db_sqlite", State.CRITICAL, "db=sqlite (expected postgresql)")
    watch.cycle(report("healthz", sqlite), minutes=1)
    (fired,) = slack.top_level()
    assert "roll back (Section 6" in (fired.text or "")


def test_a_warning_posts_once_without_a_mention(watch: Watch, slack: FakeSlack) -> None:
    slow = Finding("pg_info.connections", State.WARNING, "16/25 connections (64%)")
    for _ in range(6):
        watch.cycle(report("pg_info", slow))
    (posted,) = slack.top_level()
    assert MENTION not in (posted.text or "")
    assert slack.replies(posted.ts) == []  # no reminders for a warning


def test_a_warning_that_becomes_critical_pages(watch: Watch, slack: FakeSlack) -> None:
    watch.cycle(report("pg_info", Finding("pg_info.connections", State.WARNING, "16/25")))
    watch.cycle(report("pg_info", Finding("pg_info.connections", State.CRITICAL, "21/25")))
    warned, paged = slack.top_level()
    assert MENTION not in (warned.text or "") and (paged.text or "").startswith(MENTION)


def test_blind_after_three_unknowns_and_seeing_again(watch: Watch, slack: FakeSlack) -> None:
    unknown = report("sentry", state=State.UNKNOWN, summary="HTTP 401: set SENTRY_AUTH_TOKEN")
    watch.cycle(unknown)
    watch.cycle(unknown)
    assert slack.top_level() == []
    watch.cycle(unknown)
    (blind,) = slack.top_level()
    assert "the watch is blind on sentry" in (blind.text or "")
    assert MENTION not in (blind.text or "")
    watch.cycle(report("sentry"))
    (back,) = slack.replies(blind.ts)
    assert "sees `sentry` again" in (back.text or "")


def test_an_unknown_check_does_not_resolve_its_alerts(watch: Watch, slack: FakeSlack) -> None:
    watch.cycle(report("grants", GRANT_DRIFT))
    watch.cycle(report("grants", state=State.UNKNOWN, summary="database unreachable"))
    watch.cycle(report("grants", state=State.UNKNOWN, summary="database unreachable"))
    (fired,) = slack.top_level()
    assert fired.edits == []
    assert watch.store.alerts.get(GRANT_DRIFT.id).status == "firing"  # type: ignore[union-attr]


def test_a_partly_blind_check_resolves_what_it_judged_only(watch: Watch, slack: FakeSlack) -> None:
    """pg_activity without pg_monitor: UNKNOWN for other roles' sessions, yet it judged the
    sequences, so the fixed sequence resolves; a part it could not judge stays open."""
    behind = Finding("pg_activity.sequence_behind", State.CRITICAL, "users_id_seq behind")
    stale = Finding("pg_activity.not_analyzed", State.WARNING, "public.bars (5,000 rows)")
    blind = Finding("pg_activity.visibility", State.UNKNOWN, "needs pg_monitor")
    watch.cycle(report("pg_activity", behind, stale, blind))
    partly = Result.from_findings([blind], "")
    partly = Result(partly.state, partly.summary, findings=partly.findings, unjudged=())
    sequences_unread = Result(
        partly.state, partly.summary, findings=partly.findings, unjudged=(behind.id,)
    )
    watch.cycle(CheckReport("pg_activity", "7.3", sequences_unread, 0.1))
    watch.cycle(CheckReport("pg_activity", "7.3", sequences_unread, 0.1))
    assert watch.store.alerts.get(behind.id).status == "firing"  # type: ignore[union-attr]
    assert watch.store.alerts.get(stale.id).status == "resolved"  # type: ignore[union-attr]
    watch.cycle(CheckReport("pg_activity", "7.3", partly, 0.1))
    watch.cycle(CheckReport("pg_activity", "7.3", partly, 0.1))
    assert watch.store.alerts.get(behind.id).status == "resolved"  # type: ignore[union-attr]


def test_log_alerts_resolve_when_the_pattern_leaves_the_window(
    watch: Watch, slack: FakeSlack
) -> None:
    line = Finding("logs.permission_denied", State.CRITICAL, "permission_denied: 1 line")
    watch.cycle(report("logs", line))
    watch.cycle(report("logs"))  # the logs check already waited 30 min without a match
    (fired,) = slack.top_level()
    assert (fired.current_text or "").startswith("RESOLVED")


def test_untrusted_text_can_neither_ping_nor_format(watch: Watch, slack: FakeSlack) -> None:
    hostile = (
        "app[web.1]: permission denied for table users <!channel> <@U123> <https://evil|click>"
        " *bold* `code` & more"
    )
    watch.cycle(report("logs", Finding("logs.permission_denied", State.CRITICAL, hostile)))
    (fired,) = slack.top_level()
    everything = str(fired.text) + str(fired.blocks)
    for raw in ("<!channel>", "<@U123>", "<https://evil|click>"):
        assert raw not in everything
    assert "&lt;!channel&gt;" in everything and "&lt;@U123&gt;" in everything
    # Inside one code span: the backtick of the input cannot close it.
    assert "`code`" not in everything


def test_reminders_repeat_every_interval_while_firing(watch: Watch, slack: FakeSlack) -> None:
    for _ in range(9):  # two hours and a quarter
        watch.cycle(report("grants", GRANT_DRIFT))
    (fired,) = slack.top_level()
    assert len(slack.replies(fired.ts)) == 4
    assert watch.clock.now() - watch.store.alerts.get(GRANT_DRIFT.id).fired_at >= timedelta(hours=2)  # type: ignore[operator, union-attr]


def test_alternating_transport_failures_fire_on_the_second(watch: Watch, slack: FakeSlack) -> None:
    timeout = Finding("healthz.timeout", State.CRITICAL, "no complete answer within 10 s")
    http503 = Finding("healthz.http_status", State.CRITICAL, "HTTP 503 (expected 200)")
    watch.cycle(report("healthz", http503), minutes=1)
    assert slack.top_level() == []
    watch.cycle(report("healthz", timeout), minutes=1)
    (paged,) = slack.top_level()
    assert "healthz.timeout" in str(paged.blocks)


def test_a_warning_superseded_by_a_critical_is_edited_to_say_so(
    watch: Watch, slack: FakeSlack
) -> None:
    watch.cycle(
        report("pg_connections", Finding("pg_connections.connections", State.WARNING, "16"))
    )
    watch.cycle(
        report("pg_connections", Finding("pg_connections.connections", State.CRITICAL, "21"))
    )
    for _ in range(2):
        watch.cycle(report("pg_connections"))
    warned, paged = slack.top_level()
    assert (warned.current_text or "").startswith("WARNING, now CRITICAL (see the newer message)")
    assert (paged.current_text or "").startswith("RESOLVED (was CRITICAL)")
