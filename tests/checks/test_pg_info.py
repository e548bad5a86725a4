"""pg_info against a real HTTP server on 127.0.0.1 speaking Heroku's Platform and Data APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from checks import pg_info
from checks.pg_info import PgInfo
from checks.result import CheckError, Result, State
from checks.sources.clock import SystemClock
from checks.sources.connection_limit import ConnectionThresholds
from checks.sources.heroku_api import HerokuApi, HerokuConfig
from tests.fakes.heroku import (
    APP,
    DB_PASSWORD,
    RATE_LIMIT_POOL,
    TOKEN,
    FakeAddon,
    FakeHeroku,
    database_answer,
)
from tests.fakes.http import Reply, closed_port, json_reply
from tests.support.clock import FakeClock

SOP_LIMIT = ConnectionThresholds(limit=25, warn_ratio=0.6, crit_ratio=0.8)
SECRETS = (TOKEN, DB_PASSWORD, "postgres://")


@pytest.fixture
def fake() -> Iterator[FakeHeroku]:
    with FakeHeroku() as server:
        yield server


@pytest.fixture
def db(fake: FakeHeroku) -> FakeAddon:
    """The app's primary database: Standard 0, Available, 7/120 connections."""
    return fake.add_postgres("standard-0")


def checker(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock | SystemClock, **config: str
) -> PgInfo:
    settings = {"api_url": fake.url, "data_api_url": fake.url, "token": TOKEN, "app": APP}
    api = HerokuApi(http, HerokuConfig(**{**settings, **config}), clock)
    return PgInfo(api, clock)


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def run(pg: PgInfo, budget: float = 8) -> Result:
    result = pg.check(SOP_LIMIT, budget)
    assert_no_secrets(result.summary)
    for finding in result.findings:
        assert_no_secrets(finding.summary)
    return result


def unknown_reason(pg: PgInfo, budget: float = 8) -> str:
    """The reason the check gives up with; the runner reports it as UNKNOWN."""
    with pytest.raises(CheckError) as caught:
        pg.check(SOP_LIMIT, budget)
    assert_no_secrets(str(caught.value))
    return str(caught.value)


def test_standard_0_available_is_ok(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    result = run(checker(fake, http, clock))
    assert result.state == State.OK
    assert result.summary == (
        "Standard 0, Available, 7/25 connections (28%; ceiling 25, plan 120),"
        " as Heroku reports them"
    )
    assert result.metrics == {
        "available": 1.0,
        "connections": 7.0,
        "plan_connection_limit": 120.0,
        "connection_limit": 25.0,
        "rate_limit_remaining": float(RATE_LIMIT_POOL - 1),
    }
    (attachments,) = fake.platform_requests()
    assert attachments.path == f"/apps/{APP}/addon-attachments"
    (info,) = fake.data_requests()
    assert info.path == f"/client/v11/databases/{db.id}"
    assert info.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "status",
    [
        "Over Plan Capacity: Action Required",
        "Over Plan Capacity: Access Restricted",
        "Unavailable",
        "Preparing",
    ],
)
def test_status_other_than_available_is_critical(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock, status: str
) -> None:
    fake.set_info(db, status=status)
    result = run(checker(fake, http, clock))
    assert result.state == State.CRITICAL
    (finding,) = result.findings
    assert finding.id == "pg_info.status"
    assert finding.summary == (
        f"Status '{status}' (expected Available): STOP: wait for Heroku support (runbook 1.3);"
        " escalate (7.3)"
    )
    assert result.metrics["available"] == 0
    assert result.metrics["connections"] == 7  # still reported, in the summary too
    assert result.summary == (
        f"{finding.summary}; 7/25 connections (28%; ceiling 25, plan 120), as Heroku reports them"
    )


def test_several_status_values_are_all_shown(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    fake.set_info(db, status=["Available", "Degraded"])
    result = run(checker(fake, http, clock))
    assert result.state == State.CRITICAL
    assert "Status 'Available, Degraded'" in result.summary


def test_odd_status_is_cut_and_cleaned(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    fake.set_info(db, status="Temporarily\nunavailable: " + "x" * 80)
    result = run(checker(fake, http, clock))
    assert result.state == State.CRITICAL
    shown = ("Temporarily?unavailable: " + "x" * 80)[:40]
    assert f"Status '{shown}...' (expected Available)" in result.summary


@pytest.mark.parametrize("status", [None, []], ids=["missing", "empty"])
def test_no_status_is_unknown(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    status: list[str] | None,
) -> None:
    fake.set_info(db, status=status)
    reason = unknown_reason(checker(fake, http, clock))
    assert reason == "Heroku Data API: the answer has no Status: cannot tell if it is Available"


@pytest.mark.parametrize(
    ("connections", "state", "text"),
    [
        ("14/120", State.OK, "14/25 connections (56%; ceiling 25, plan 120)"),
        ("15/120", State.WARNING, "15/25 connections (60%; ceiling 25, plan 120)"),
        ("19/120", State.WARNING, "19/25 connections (76%"),
        ("20/120", State.CRITICAL, "20/25 connections (80%; ceiling 25, plan 120)"),
        ("31/120", State.CRITICAL, "31/25 connections (124%"),
    ],
)
def test_connections_against_the_ceiling(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    connections: str,
    state: State,
    text: str,
) -> None:
    fake.set_info(db, connections=connections)
    result = run(checker(fake, http, clock))
    assert result.state == state
    assert text in result.summary
    assert "as Heroku reports them" in result.summary
    if state == State.OK:
        assert result.findings == ()
    else:
        (finding,) = result.findings
        assert finding.id == "pg_info.connections"
        assert finding.state == state
        assert finding.summary.endswith(f"at or over {'80' if state == State.CRITICAL else '60'}%")


@pytest.mark.parametrize(
    ("connections", "state"),
    [
        ("11/20", None),
        ("12/20", State.WARNING),
        ("16/20", State.CRITICAL),
        ("17/20", State.CRITICAL),
    ],
)
def test_a_plan_limit_below_the_ceiling_is_the_effective_limit(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock, connections: str, state: State | None
) -> None:
    essential = fake.add_postgres("essential-0")
    fake.set_info(essential, connections=connections)
    result = run(checker(fake, http, clock))
    used = connections.split("/")[0]
    percent = int(used) * 5
    assert f"{used}/20 connections ({percent}%; ceiling 25, plan 20)" in result.summary
    assert result.metrics["connection_limit"] == 20
    assert result.metrics["plan_connection_limit"] == 20
    assert "plan 'Essential 0' (expected Standard 0)" in result.summary
    by_id = {f.id: f.state for f in result.findings}
    assert by_id.pop("pg_info.plan") == State.WARNING  # Essential 0 is not the runbook's plan
    assert by_id.get("pg_info.connections") == state


def test_plan_other_than_standard_0_is_a_warning(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres("premium-0")
    result = run(checker(fake, http, clock))
    assert result.state == State.WARNING
    (finding,) = result.findings
    assert finding.id == "pg_info.plan"
    assert finding.summary == (
        "plan 'Premium 0' (expected Standard 0): upgrade to standard-0 (runbook section 3)"
    )


@pytest.mark.parametrize("plan", ["standard-0", "STANDARD 0", " Standard  0 "])
def test_plan_is_compared_loosely(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock, plan: str
) -> None:
    fake.set_info(db, plan=plan)
    assert run(checker(fake, http, clock)).state == State.OK


def test_missing_plan_entry_falls_back_to_the_plan_field(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    essential = fake.add_postgres("essential-2")
    fake.set_info(essential, plan=[])
    result = run(checker(fake, http, clock))
    assert [f.id for f in result.findings] == ["pg_info.plan"]
    assert "plan 'essential-2'" in result.summary


def test_no_plan_at_all_is_said_not_guessed(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    fake.databases[db.id] = {**database_answer(db, plan=[]), "plan": None}
    result = run(checker(fake, http, clock))
    assert result.state == State.OK
    assert result.summary.startswith("plan not reported, Available, 7/25 connections")


@pytest.mark.parametrize(
    ("connections", "words"),
    [
        (None, "connections not reported by Heroku"),
        ([], "connections not reported by Heroku"),
        ("lots", "connections unreadable ('lots')"),
    ],
)
def test_connections_not_readable_is_said_in_the_summary(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    connections: str | list[str] | None,
    words: str,
) -> None:
    fake.databases[db.id] = database_answer(db, connections=connections)
    if connections is None:  # database_answer fills in a default: take the entry out
        info = fake.databases[db.id]["info"]
        fake.databases[db.id]["info"] = [e for e in info if e["name"] != "Connections"]
    result = run(checker(fake, http, clock))
    assert result.state == State.OK
    assert result.summary == f"Standard 0, Available, {words}"
    assert "connections" not in result.metrics
    assert result.metrics["available"] == 1


def test_connection_limit_of_zero_is_no_plan_limit(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    fake.set_info(db, connections="3/0")
    result = run(checker(fake, http, clock))
    assert result.summary == "Standard 0, Available, 3/25 connections (12%), as Heroku reports them"
    assert "plan_connection_limit" not in result.metrics


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"addon_id": "x", "resource_url": f"postgres://u:{DB_PASSWORD}@h/d"}, "no info list"),
        ([{"name": "Status", "values": ["Available"]}], "not a JSON object"),
        ({"info": [{"name": "Status"}, "junk", {"values": ["x"]}]}, "has no Status"),
    ],
)
def test_answers_of_the_wrong_shape_are_unknown(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    answer: object,
    words: str,
) -> None:
    fake.data_failures = [json_reply(answer)]
    assert words in unknown_reason(checker(fake, http, clock))


def test_the_database_attached_as_database_is_the_one_read(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    follower = fake.add_postgres("standard-0", attachment="HEROKU_POSTGRESQL_ORANGE")
    fake.set_info(follower, status="Over Plan Capacity: Action Required")
    fake.add_addon("heroku-redis:mini", "REDIS")
    primary = fake.add_postgres("standard-0")
    fake.add_addon("papertrail:choklad", "PAPERTRAIL")
    assert run(checker(fake, http, clock)).state == State.OK
    assert [r.path for r in fake.data_requests()] == [f"/client/v11/databases/{primary.id}"]


def test_the_add_on_is_resolved_once(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock)
    for _ in range(3):
        assert run(pg).state == State.OK
    assert len(fake.platform_requests()) == 1
    assert len(fake.data_requests()) == 3
    assert pg.api.sent == 4


def test_a_replaced_add_on_is_resolved_again(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock)
    run(pg)
    fake.remove(db)  # e.g. a follower promoted to DATABASE: another add-on id
    replacement = fake.add_postgres("standard-0")
    fake.set_info(replacement, connections="9/120")
    assert run(pg).metrics["connections"] == 9
    run(pg)
    assert [r.path.rsplit("/", 1)[1] for r in fake.data_requests()] == [
        db.id,
        db.id,
        replacement.id,
        replacement.id,
    ]
    assert len(fake.platform_requests()) == 2


def test_a_replacement_not_provisioned_yet_is_unknown_then_recovers(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock)
    run(pg)
    fake.remove(db)
    replacement = fake.add_postgres("standard-0")
    del fake.databases[replacement.id]  # the Data API 404s until it is provisioned
    reason = unknown_reason(pg)
    assert reason == (
        f"Heroku Data API: no database for add-on {replacement.name} (404): not provisioned"
        " yet, or being replaced"
    )
    assert len(fake.data_requests()) == 3  # old id, then the new one: no more
    fake.set_info(replacement)
    assert run(pg).state == State.OK
    assert len(fake.platform_requests()) == 3  # resolved again after the UNKNOWN


def test_a_404_for_the_same_add_on_is_not_asked_twice(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock)
    run(pg)
    fake.data_failures = [json_reply({"id": "not_found", "message": "Couldn't find that."}, 404)]
    assert "(404): not provisioned yet" in unknown_reason(pg)
    assert len(fake.platform_requests()) == 2  # resolved again: the same id
    assert len(fake.data_requests()) == 2


def test_a_404_on_the_first_read_does_not_resolve_again(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    del fake.databases[db.id]
    assert f"no database for add-on {db.name} (404)" in unknown_reason(checker(fake, http, clock))
    assert len(fake.platform_requests()) == 1


NOT_JSON = Reply(200, "<html>Heroku | Sign in</html>", {"Content-Type": "text/html"})
CUT_JSON = Reply(200, b'{"info": [{"name": "Sta', {"Content-Type": "application/json"})
# A body that would leak if it were ever quoted.
LEAKY_500 = json_reply({"id": "internal", "resource_url": f"postgres://u:{DB_PASSWORD}@h/d"}, 500)


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (
            json_reply({"id": "unauthorized", "message": "Invalid credentials provided."}, 401),
            "Heroku rejected HEROKU_API_KEY (401): the Heroku Platform API says it is invalid",
        ),
        (
            json_reply({"id": "forbidden", "message": "You do not have access"}, 403),
            "Heroku refused HEROKU_API_KEY (403) for the attachments: the token may not access"
            " app 'raxx-api-prod'",
        ),
        (
            json_reply({"id": "not_found", "message": "Couldn't find that app."}, 404),
            "Heroku app 'raxx-api-prod' not found (404): check WATCHER_APP",
        ),
        (LEAKY_500, "Heroku Platform API answered HTTP 500"),
        (Reply(503, "<html>Application Error</html>", {"Content-Type": "text/html"}), "HTTP 503"),
        (NOT_JSON, "Heroku Platform API answered with a body that is not JSON (text/html"),
        (CUT_JSON, "not JSON (application/json"),
        (json_reply({"id": "x"}), "the addon-attachments answer is not a list"),
        (Reply(drop=True), "Heroku Platform API unreachable: the server closed the connection"),
    ],
)
def test_attachment_failures_are_unknown_with_the_fix(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    failure: Reply,
    words: str,
) -> None:
    fake.failures = [failure]
    assert words in unknown_reason(checker(fake, http, clock))
    assert fake.data_requests() == []


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (
            json_reply({"id": "unauthorized", "message": "Invalid credentials provided."}, 401),
            "Heroku rejected HEROKU_API_KEY (401): the Heroku Data API says it is invalid",
        ),
        (
            json_reply({"id": "forbidden", "message": "You do not have access"}, 403),
            "Heroku refused HEROKU_API_KEY (403) for the database ",
        ),
        (json_reply({"id": "not_found", "message": "Not found."}, 404), "(404): not provisioned"),
        (LEAKY_500, "Heroku Data API answered HTTP 500"),
        (Reply(503, "<html>Application Error</html>", {"Content-Type": "text/html"}), "HTTP 503"),
        (NOT_JSON, "Heroku Data API answered with a body that is not JSON (text/html"),
        (CUT_JSON, "Heroku Data API answered with a body that is not JSON (application/json"),
        (Reply(drop=True), "Heroku Data API unreachable: the server closed the connection"),
    ],
)
def test_database_info_failures_are_unknown_with_the_fix(
    fake: FakeHeroku,
    db: FakeAddon,
    http: httpx.Client,
    clock: FakeClock,
    failure: Reply,
    words: str,
) -> None:
    fake.data_failures = [failure]
    assert words in unknown_reason(checker(fake, http, clock))


def test_a_wrong_token_is_unknown_and_not_shown(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    wrong = "HRKU-wrong-token-0000-1111-2222"
    reason = unknown_reason(checker(fake, http, clock, token=wrong))
    assert reason.startswith("Heroku rejected HEROKU_API_KEY (401)")
    assert wrong not in reason


def test_a_wrong_app_names_the_setting(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    reason = unknown_reason(checker(fake, http, clock, app="raxx-api-staging"))
    assert reason == "Heroku app 'raxx-api-staging' not found (404): check WATCHER_APP"


def test_no_database_attached_as_database_is_unknown(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres("standard-0", attachment="HEROKU_POSTGRESQL_ORANGE")
    reason = unknown_reason(checker(fake, http, clock))
    assert reason == (
        "Heroku Platform API: no heroku-postgresql add-on is attached to app 'raxx-api-prod'"
        " as DATABASE (attached as: HEROKU_POSTGRESQL_ORANGE)"
    )


def fail(fake: FakeHeroku, call: str, *replies: Reply) -> None:
    """Queue `replies` for the attachments call or the Data API call."""
    if call == "attachments":
        fake.failures = list(replies)
    else:
        fake.data_failures = list(replies)


CALLS = ["attachments", "database"]


@pytest.mark.parametrize("call", CALLS)
def test_429_with_retry_after_waits_then_succeeds(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock, call: str
) -> None:
    fail(
        fake,
        call,
        json_reply({"id": "rate_limit", "message": "Slow down"}, 429, **{"Retry-After": "3"}),
    )
    result = run(checker(fake, http, clock))
    assert result.state == State.OK
    assert clock.slept == [3.0]


@pytest.mark.parametrize("call", CALLS)
def test_429_without_retry_after_backs_off(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock, call: str
) -> None:
    limited = json_reply({"id": "rate_limit", "message": "Slow down"}, 429)
    fail(fake, call, limited, limited)
    assert run(checker(fake, http, clock)).state == State.OK
    assert clock.slept == [1.0, 2.0]


@pytest.mark.parametrize("call", CALLS)
def test_429_longer_than_the_budget_is_unknown(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock, call: str
) -> None:
    fail(fake, call, json_reply({"id": "rate_limit"}, 429, **{"Retry-After": "60"}))
    reason = unknown_reason(checker(fake, http, clock), budget=8)
    api = "Platform" if call == "attachments" else "Data"
    assert reason == (
        f"Heroku {api} API rate limited (HTTP 429): retry in 60 s is past this check's time"
    )
    assert clock.slept == []


@pytest.mark.parametrize("call", CALLS)
def test_timeout_is_unknown(fake: FakeHeroku, db: FakeAddon, http: httpx.Client, call: str) -> None:
    fail(fake, call, Reply(200, b"{}", delay=5))
    real = SystemClock()  # a real wait: the server really is slow
    api = "Platform" if call == "attachments" else "Data"
    with pytest.raises(CheckError, match=rf"Heroku {api} API did not answer within 0\.\d s"):
        checker(fake, http, real).check(SOP_LIMIT, 0.4)


def test_platform_api_refused_is_unknown(http: httpx.Client, clock: FakeClock) -> None:
    config = HerokuConfig(f"http://127.0.0.1:{closed_port()}", "http://127.0.0.1:9", TOKEN, APP)
    pg = PgInfo(HerokuApi(http, config, clock), clock)
    assert unknown_reason(pg) == "Heroku Platform API unreachable: connection refused"


def test_data_api_refused_is_unknown(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock, data_api_url=f"http://127.0.0.1:{closed_port()}")
    assert unknown_reason(pg) == "Heroku Data API unreachable: connection refused"


def test_rate_limit_remaining_is_the_latest_known(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    pg = checker(fake, http, clock)
    assert run(pg).metrics["rate_limit_remaining"] == RATE_LIMIT_POOL - 1
    fake.rate_limit_remaining = 120
    # Only the Data API is asked now: the Platform API's last word stands.
    assert run(pg).metrics["rate_limit_remaining"] == RATE_LIMIT_POOL - 1


def test_rate_limit_remaining_is_left_out_while_unknown(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    answer = [a.api({"addon:plan", "config_vars"}) for a in fake.attachments]
    headers = {"Content-Type": "application/json", "RateLimit-Remaining": "n/a"}
    fake.failures = [Reply(200, answer, headers)]
    assert "rate_limit_remaining" not in run(checker(fake, http, clock)).metrics


def test_nothing_of_the_answer_but_its_values_reaches_the_summary(
    fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock
) -> None:
    fake.set_info(db, status="Over Plan Capacity: Access Restricted", connections="24/120")
    fake.databases[db.id]["plan"] = "premium-0"
    result = run(checker(fake, http, clock))
    text = result.summary + " ".join(f.summary for f in result.findings)
    for part in (db.id, fake.databases[db.id]["database_user"], "amazonaws", DB_PASSWORD):
        assert part not in text
    assert {f.id for f in result.findings} == {"pg_info.status", "pg_info.connections"}


def test_names() -> None:
    assert pg_info.NAME == "pg_info"
    assert pg_info.SOP == "7.2, 7.3"


# Property-based (issue 7): whatever the Data API answers, the check gives a Result, or
# gives up with a reason (the runner's UNKNOWN) when the answer is not pg:info's; it never
# raises anything else, and never shows the credentials the answer carries.

FINDINGS = {"pg_info.status", "pg_info.plan", "pg_info.connections"}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
# Numbers too long to convert, or to hold in a float.
HUGE = st.integers(10, 6_000).map(lambda n: "9" * n)
VALUES = st.one_of(
    st.sampled_from(["Available", " available ", "Unavailable", "Standard 0", "standard-0"]),
    st.sampled_from(["7/120", "24/120", " 15 / 25 ", "0/0", "20/20", "x/y"]),
    st.tuples(HUGE | st.just("7"), HUGE | st.just("120")).map("/".join),
    st.text(max_size=50),
    JSON,
)
NAMES = st.sampled_from(["Status", " status ", "Plan", "Connections", "CONNECTIONS", "Tables"])
ENTRIES = (
    st.fixed_dictionaries(
        {"name": NAMES | JSON}, optional={"values": st.lists(VALUES, max_size=3) | JSON}
    )
    | JSON
)
# Answers with a Status entry somewhere, so that many examples get as far as a Result.
STATUS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Status", " status "]),
        "values": st.lists(VALUES, min_size=1, max_size=2),
    }
)
INFO = st.tuples(st.lists(ENTRIES, max_size=4), STATUS, st.lists(ENTRIES, max_size=4)).map(
    lambda parts: [*parts[0], parts[1], *parts[2]]
)
CREDENTIALS = {
    "resource_url": f"postgres://u:{DB_PASSWORD}@h:5432/d",
    "database_password": DB_PASSWORD,
}


def answers(info: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    fields = {"info": info, **{k: st.just(v) for k, v in CREDENTIALS.items()}}
    answer = st.fixed_dictionaries(fields, optional={"plan": VALUES})
    return answer.map(lambda v: json.dumps(v).encode())


BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.integers(5_000, 40_000).map(lambda n: b'{"info": %s}' % (b"[" * n + b"]" * n)),
    answers(st.lists(ENTRIES, max_size=6) | JSON),
    answers(INFO),
    answers(INFO),
    answers(INFO),
)


def first_values(answer: dict[str, object], name: str) -> list[str] | None:
    """The text values of the first `info` entry called `name` (any case), None if none is."""
    info = answer["info"]
    assert isinstance(info, list)
    for entry in info:
        named = isinstance(entry, dict) and isinstance(entry.get("name"), str)
        if named and entry["name"].strip().lower() == name:
            values = entry.get("values")
            return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
    return None


@pytest.fixture
def pg(fake: FakeHeroku, db: FakeAddon, http: httpx.Client, clock: FakeClock) -> PgInfo:
    """One check for all examples: it keeps the add-on, so each asks the Data API once."""
    return checker(fake, http, clock)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
@example(
    body=json.dumps(
        {
            "info": [
                {"name": "Status", "values": ["Available"]},
                {"name": "Connections", "values": ["9" * 5000 + "/120"]},
            ]
        }
    ).encode()
)
@example(
    body=json.dumps(
        {
            "info": [
                {"name": "Status", "values": ["Available"]},
                {"name": "Connections", "values": ["1" + "0" * 400 + "/120"]},
            ]
        }
    ).encode()
)
@example(
    body=json.dumps(
        {
            "info": [
                {"name": "Status", "values": ["Available"]},
                {"name": "Connections", "values": ["7/" + "9" * 400]},
            ]
        }
    ).encode()
)
@example(body=b'{"info": %s}' % (b"[" * 5_000))
def test_property_any_data_api_answer_is_a_result_or_unknown(
    fake: FakeHeroku, pg: PgInfo, body: bytes
) -> None:
    fake.data_failures = [Reply(200, body, {"Content-Type": "application/json"})]
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("info"), list):
        assert unknown_reason(pg).startswith("Heroku Data API")  # not pg:info's answer
    elif not (status := first_values(answer, "status")):
        assert "has no Status" in unknown_reason(pg)  # SPEC: Status missing is UNKNOWN
    else:
        result = run(pg)
        ids = {f.id for f in result.findings}
        assert ids <= FINDINGS
        available = ", ".join(status).strip().casefold() == "available"
        assert ("pg_info.status" in ids) == (not available)
        assert result.metrics["available"] == (1.0 if available else 0.0)
        assert result.summary.isprintable()
    assert fake.data_failures == []  # the check read this example's answer
