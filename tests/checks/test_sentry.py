"""sentry against a real HTTP server on 127.0.0.1 speaking Sentry's Web API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from checks import sentry
from checks.result import CheckError, Result, State
from checks.sentry import Since
from checks.sources.clock import SystemClock
from checks.sources.sentry_api import SentryApi, SentryConfig
from checks.sources.times import parse_aware
from tests.fakes.http import Reply, closed_port, json_reply
from tests.fakes.sentry import ORG, PROJECT, TOKEN, FakeSentry
from tests.support.clock import CUTOVER, FakeClock

T0 = Since(CUTOVER, "from WATCHER_CUTOVER_AT")
ROLE = "raptor_app"
OPERATIONAL = (
    "OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly"
)


@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    with FakeSentry() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    clock = FakeClock()
    clock.advance(2 * 3600)  # two hours into the watch
    return clock


def api_for(fake: FakeSentry, http: httpx.Client, clock: FakeClock, **config: object) -> SentryApi:
    settings = {
        "base_url": fake.url,
        "token": TOKEN,
        "org": ORG,
        "project": PROJECT,
        "environment": "production",
        **config,
    }
    return SentryApi(http, SentryConfig(**settings), clock)  # type: ignore[arg-type]


def run(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock, budget: float = 8, **config: object
) -> Result:
    return sentry.check(api_for(fake, http, clock, **config), T0, ROLE, "production", clock, budget)


def unknown_reason(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock, budget: float = 8
) -> str:
    """The reason the check gives up with; the runner reports it as UNKNOWN."""
    with pytest.raises(CheckError) as caught:
        run(fake, http, clock, budget)
    assert TOKEN not in str(caught.value)
    return str(caught.value)


def after_t0(minutes: float) -> object:
    return CUTOVER + timedelta(minutes=minutes)


def test_no_issues_is_ok(fake: FakeSentry, http: httpx.Client, clock: FakeClock) -> None:
    result = run(fake, http, clock)
    assert result.state == State.OK
    assert result.summary == (
        "no new unresolved issues in production since 2026-05-16 14:48Z (from WATCHER_CUTOVER_AT)"
    )
    assert result.metrics["new_issues"] == 0 and result.metrics["requests"] == 2
    (request,) = fake.issue_requests()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    query = {k: v[0] for k, v in request.query.items()}
    assert query == {
        "project": "4505312345",
        "environment": "production",
        "query": "is:unresolved",
        "start": "2026-05-16T14:48:42",
        "end": "2026-05-16T16:48:42",
        "sort": "new",
        "limit": "100",
    }


def test_old_issues_with_recent_events_are_not_new(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add(
        OPERATIONAL, CUTOVER - timedelta(days=3), type="OperationalError", last_seen=after_t0(30)
    )
    result = run(fake, http, clock)
    assert result.state == State.OK
    assert len(fake.issue_requests()) == 1  # the API did return it: only firstSeen tells


def test_new_operational_error_is_critical_with_everything_slack_needs(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    issue = fake.add(OPERATIONAL, after_t0(12), type="OperationalError", count=12)
    result = run(fake, http, clock)
    assert result.state == State.CRITICAL
    (finding,) = result.findings
    assert finding.id == f"sentry.{issue.id}"
    assert finding.state == State.CRITICAL
    for part in (
        f"RAXX-BACKEND-{int(issue.id):X}",
        OPERATIONAL,
        "12 events",
        f"https://raxx.sentry.io/issues/{issue.id}/",
        "[operational error]",
    ):
        assert part in finding.summary
    assert result.metrics["new_issues_operational_error"] == 1


def test_issue_first_seen_exactly_at_t0_is_new(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add("KeyError: 'x'", CUTOVER, type="KeyError")
    assert run(fake, http, clock).state == State.WARNING


def test_new_unrelated_error_is_warning(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add("KeyError: 'symbol'", after_t0(40), type="KeyError", count=1)
    result = run(fake, http, clock)
    assert result.state == State.WARNING
    assert "1 event)" in result.findings[0].summary
    assert result.metrics["new_issues_other"] == 1


@pytest.mark.parametrize(
    ("title", "fields", "kind"),
    [
        ('ProgrammingError: relation "fills" does not exist', {"type": None}, "programming_error"),
        (
            "InsufficientPrivilege: permission denied",
            {"type": "ProgrammingError"},
            "programming_error",
        ),
        (
            'OperationalError: FATAL:  role "raptor_app" does not exist',
            {"type": "OperationalError"},
            "operational_error",
        ),
        (
            'psycopg2 connect failed: role "raptor_app" does not exist',
            {"type": None},
            "role_missing",
        ),
        ("SIGKILL: worker exited", {"type": None, "level": "fatal"}, "fatal"),
    ],
)
def test_escalating_kinds_are_critical(
    fake: FakeSentry,
    http: httpx.Client,
    clock: FakeClock,
    title: str,
    fields: dict[str, object],
    kind: str,
) -> None:
    fake.add(title, after_t0(5), **fields)
    result = run(fake, http, clock)
    assert result.state == State.CRITICAL
    assert result.metrics[f"new_issues_{kind}"] == 1


# Titles as Sentry shows driver exceptions: the class name only, e.g. psycopg2's
# `InsufficientPrivilege` (a ProgrammingError subclass) with the server's message; SQLAlchemy
# wraps them as `ProgrammingError: (psycopg2.errors.UndefinedTable) ...`.
@pytest.mark.parametrize(
    ("title", "error_type", "kind"),
    [
        (
            "InsufficientPrivilege: permission denied for sequence paper_orders_id_seq",
            "InsufficientPrivilege",
            "programming_error",
        ),
        ('UndefinedTable: relation "fills" does not exist', "UndefinedTable", "programming_error"),
        (
            'UndefinedColumn: column "venue" of relation "paper_orders" does not exist',
            "UndefinedColumn",
            "programming_error",
        ),
        (
            'UniqueViolation: duplicate key value violates unique constraint "paper_orders_pkey"',
            "UniqueViolation",
            "unique_violation",
        ),
        (
            'ProgrammingError: (psycopg2.errors.UndefinedTable) relation "fills" does not exist',
            "ProgrammingError",
            "programming_error",
        ),
        (
            "AdminShutdown: terminating connection due to administrator command",
            "AdminShutdown",
            "operational_error",
        ),
        (
            "InsufficientPrivilege: permission denied for table historical_bars",
            None,
            "programming_error",
        ),
    ],
)
def test_driver_subclass_names_are_critical(
    fake: FakeSentry,
    http: httpx.Client,
    clock: FakeClock,
    title: str,
    error_type: str | None,
    kind: str,
) -> None:
    fake.add(title, after_t0(5), type=error_type)
    result = run(fake, http, clock)
    assert result.state == State.CRITICAL
    assert result.metrics[f"new_issues_{kind}"] == 1


def test_python_errors_sharing_a_driver_name_are_not_database_errors(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add("SyntaxError: invalid syntax", after_t0(5), type="SyntaxError")
    assert run(fake, http, clock).state == State.WARNING


def test_an_issue_without_first_seen_is_judged_by_last_seen(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    # Sentry's models allow `firstSeen: null` (e.g. `firstSeen: datetime | None` in its
    # serializers); one such issue must not blind the whole check.
    old = fake.add("KeyError: 'a'", None, last_seen=CUTOVER - timedelta(minutes=5))
    new = fake.add(OPERATIONAL, None, type="OperationalError", last_seen=after_t0(30))
    plain = fake.add("KeyError: 'b'", after_t0(10), type="KeyError")
    result = run(fake, http, clock)
    assert result.state == State.CRITICAL
    assert sorted(f.id for f in result.findings) == sorted(
        [f"sentry.{new.id}", f"sentry.{plain.id}"]
    )
    assert f"sentry.{old.id}" not in {f.id for f in result.findings}


def test_sentry_openapi_example_issue_is_read(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    # Sentry's OpenAPI example of the organization issues list (getsentry/sentry,
    # src/sentry/apidocs/examples/issue_examples.py, SIMPLE_ISSUE): `count` a number there,
    # `metadata` with only a title, `type: default`; times moved to after T0.
    example = {
        "annotations": [],
        "assignedTo": None,
        "count": 150,
        "culprit": "raven.scripts.runner in main",
        "firstSeen": f"{after_t0(3):%Y-%m-%dT%H:%M:%SZ}",
        "hasSeen": False,
        "id": "1",
        "isBookmarked": False,
        "isPublic": False,
        "isSubscribed": True,
        "lastSeen": f"{after_t0(9):%Y-%m-%dT%H:%M:%SZ}",
        "level": "error",
        "logger": None,
        "metadata": {"title": "This is an example Python exception"},
        "numComments": 0,
        "permalink": "https://sentry.io/the-interstellar-jurisdiction/pump-station/issues/1/",
        "project": {
            "id": "2",
            "name": "Pump Station",
            "slug": "pump-station",
            "platform": "python",
        },
        "shareId": "123def456abc",
        "shortId": "PUMP-STATION-1",
        "stats": {"24h": [[1541455200.0, 473]]},
        "status": "unresolved",
        "statusDetails": {},
        "subscriptionDetails": None,
        "title": "This is an example Python exception",
        "type": "default",
        "userCount": 0,
    }
    fake.failures = [
        json_reply({"id": "4505312345"}),
        json_reply([example, {**example, "id": "2", "firstSeen": None}]),
    ]
    result = run(fake, http, clock)
    assert result.state == State.WARNING
    assert [f.id for f in result.findings] == ["sentry.1", "sentry.2"]
    assert "PUMP-STATION-1 This is an example Python exception (150 events)" in result.summary


def test_another_roles_message_is_not_role_missing(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add('Error: role "reporting" does not exist', after_t0(5), type=None)
    assert run(fake, http, clock).state == State.WARNING


def test_resolved_issues_are_not_counted(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add(OPERATIONAL, after_t0(5), type="OperationalError", status="resolved")
    fake.add("KeyError: x", after_t0(6), type="KeyError", environments=("staging",))
    assert run(fake, http, clock).state == State.OK


def test_resolved_issue_returned_anyway_is_not_counted(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    # Not trusting the query alone: an answer that ignored is:unresolved changes nothing.
    resolved = fake.add(OPERATIONAL, after_t0(5), type="OperationalError").api()
    fake.failures = [
        json_reply({"id": "4505312345"}),
        json_reply([{**resolved, "status": "resolved"}]),
    ]
    assert run(fake, http, clock).state == State.OK


def test_250_issues_over_three_pages(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    for n in range(250):
        fake.add(f"KeyError: k{n}", after_t0(1 + n * 0.2), type="KeyError")
    fake.add(OPERATIONAL, after_t0(0.5), type="OperationalError")
    result = run(fake, http, clock)
    assert result.metrics["new_issues"] == 251
    assert result.metrics["requests"] == 4  # the project, then three pages
    assert [r.query.get("cursor") for r in fake.issue_requests()] == [
        None,
        ["0:100:0"],
        ["0:200:0"],
    ]
    assert result.state == State.CRITICAL
    assert result.summary.startswith("251 new unresolved issue(s) in production since")
    assert "[operational error]" in result.summary.split(";")[0]  # worst first
    assert "and 248 more" in result.summary
    assert len(result.findings) == 251


def test_pages_stop_once_issues_are_older_than_t0(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    for n in range(150):
        fake.add(
            f"KeyError: old{n}",
            CUTOVER - timedelta(hours=1 + n),
            type="KeyError",
            last_seen=after_t0(10),
        )
    fake.add("KeyError: new", after_t0(3), type="KeyError")
    result = run(fake, http, clock)
    assert result.metrics["new_issues"] == 1
    assert len(fake.issue_requests()) == 1


def test_page_cap_bounds_the_requests_and_says_so(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    for n in range(250):
        fake.add(f"KeyError: k{n}", after_t0(1 + n * 0.2), type="KeyError")
    result = run(fake, http, clock, page_cap=2)
    assert len(fake.issue_requests()) == 2
    assert result.metrics["new_issues"] == 200
    assert "page cap reached" in result.summary


def test_project_id_is_resolved_once(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    api = api_for(fake, http, clock)
    for _ in range(3):
        sentry.check(api, T0, ROLE, "production", clock, 8)
    assert sum(r.path.startswith("/api/0/projects/") for r in fake.requests) == 1


def test_slack_control_sequences_in_titles_are_kept_as_data(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    title = "ValueError: <!channel> <@U123> *bold* `code`"
    fake.add(title, after_t0(5), type="ValueError")
    result = run(fake, http, clock)
    assert title in result.findings[0].summary


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (json_reply({"detail": "Invalid token"}, 401), "rejected SENTRY_AUTH_TOKEN (401)"),
        (json_reply({"detail": "You do not have permission"}, 403), "needs scopes event:read"),
        (
            json_reply({"detail": "not found"}, 404),
            "check WATCHER_SENTRY_ORG and WATCHER_SENTRY_PROJECT",
        ),
        (json_reply({"detail": "boom"}, 500), "HTTP 500"),
        (Reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"}), "HTTP 502"),
        (Reply(200, "<html>login</html>", {"Content-Type": "text/html"}), "not JSON (text/html"),
        (json_reply({"id": "abc"}), "no numeric id"),
        (Reply(drop=True), "closed the connection"),
    ],
)
def test_project_lookup_failures_are_unknown_with_the_fix(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock, failure: Reply, words: str
) -> None:
    fake.failures = [failure]
    assert words in unknown_reason(fake, http, clock)


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (json_reply({"detail": "not found"}, 404), "organization 'raxx' not found (404)"),
        (json_reply({"detail": "You do not have permission"}, 403), "(403)"),
        (json_reply({"detail": "boom"}, 503), "HTTP 503"),
        (json_reply({"issues": []}), "not a list of issues"),
        (json_reply([{"title": "no id"}]), "not a list of issues with an id"),
        (Reply(200, b'[{"id": "1", "firstSe', {"Content-Type": "application/json"}), "not JSON"),
    ],
)
def test_issue_list_failures_are_unknown(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock, failure: Reply, words: str
) -> None:
    fake.failures = [json_reply({"id": "4505312345"}), failure]
    assert words in unknown_reason(fake, http, clock)


def test_429_with_retry_after_waits_then_succeeds(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add("KeyError: x", after_t0(5), type="KeyError")
    fake.failures = [json_reply({"detail": "rate limited"}, 429, **{"Retry-After": "3"})]
    result = run(fake, http, clock)
    assert result.state == State.WARNING
    assert clock.slept == [3.0]
    assert result.metrics["requests"] == 3


def test_429_without_retry_after_uses_the_sentry_reset_header(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    reset = str(int(clock.now().timestamp()) + 4)
    fake.failures = [
        json_reply({"id": "4505312345"}),
        json_reply({"detail": "slow down"}, 429, **{"X-Sentry-Rate-Limit-Reset": reset}),
    ]
    result = run(fake, http, clock)
    assert result.state == State.OK
    assert clock.slept == [4.0]


def test_429_without_any_hint_backs_off(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.failures = [
        json_reply({"detail": "slow down"}, 429),
        json_reply({"detail": "slow down"}, 429),
    ]
    result = run(fake, http, clock)
    assert result.state == State.OK
    assert clock.slept == [1.0, 2.0]


def test_429_longer_than_the_checks_time_is_unknown(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    fake.failures = [json_reply({"detail": "rate limited"}, 429, **{"Retry-After": "60"})]
    reason = unknown_reason(fake, http, clock, budget=8)
    assert "rate limited (HTTP 429): retry in 60 s is past this check's time" in reason
    assert clock.slept == []


def test_timeout_is_unknown(fake: FakeSentry, http: httpx.Client) -> None:
    fake.failures = [Reply(200, b"{}", delay=5)]
    real = SystemClock()  # a real wait: the server really is slow
    with pytest.raises(CheckError, match=r"did not answer within 0\.4 s"):
        sentry.check(api_for(fake, http, real), T0, ROLE, "production", real, 0.4)  # type: ignore[arg-type]


def test_connection_refused_is_unknown(http: httpx.Client, clock: FakeClock) -> None:
    config = SentryConfig(f"http://127.0.0.1:{closed_port()}", TOKEN, ORG, PROJECT, "production")
    with pytest.raises(CheckError, match="Sentry API unreachable: connection refused"):
        sentry.check(SentryApi(http, config, clock), T0, ROLE, "production", clock, 5)


def test_next_link_to_another_host_is_not_followed(
    fake: FakeSentry, http: httpx.Client, clock: FakeClock
) -> None:
    other = f"http://127.0.0.1:{closed_port()}/api/0/organizations/raxx/issues/?cursor=0:100:0"
    fake.failures = [
        json_reply({"id": "4505312345"}),
        json_reply([], Link=f'<{other}>; rel="next"; results="true"; cursor="0:100:0"'),
    ]
    assert "another host" in unknown_reason(fake, http, clock)


# Property-based (issue 7): whatever the issues endpoint answers, the check gives a Result
# (a finding per new issue, `sentry.<id>`) or, for anything but a list of issues, gives up
# with a reason (the runner's UNKNOWN); it never raises anything else.

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
SEEN = st.one_of(
    st.integers(-3 * 86400, 3 * 86400).map(
        lambda s: (CUTOVER + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
    ),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"]),
)
TITLES = st.sampled_from([OPERATIONAL, "ProgrammingError: x", f'role "{ROLE}" does not exist'])
ISSUES = st.fixed_dictionaries(
    {"id": st.integers(1, 10**12).map(str) | st.integers(), "firstSeen": SEEN},
    optional={
        "status": st.sampled_from(["unresolved", "resolved", "ignored"]) | JSON,
        "level": st.sampled_from(["error", "fatal"]) | JSON,
        "title": TITLES | st.text(max_size=40) | JSON,
        "metadata": st.fixed_dictionaries({}, optional={"type": TITLES | JSON, "value": JSON})
        | JSON,
        "count": JSON,
        "shortId": JSON,
        "permalink": JSON,
    },
)
# Not issues: no id, or no time with a zone to tell whether it is new.
NOT_ISSUES = JSON | st.fixed_dictionaries(
    {"id": JSON, "firstSeen": JSON | st.just("2026-05-16T14:48:42")}
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(ISSUES | NOT_ISSUES, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.lists(ISSUES, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.lists(ISSUES, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.integers(5_000, 40_000).map(lambda n: b"[" * n + b"]" * n),
)


@pytest.fixture
def sentry_api(fake: FakeSentry, http: httpx.Client, clock: FakeClock) -> SentryApi:
    """One API for all examples, with the project's id already read: one request each."""
    api = api_for(fake, http, clock)
    api.project_id(clock.monotonic() + 8)
    return api


def is_issue(item: object) -> bool:
    """An issue: an object with an id (`firstSeen` may be null: then `lastSeen` judges)."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | int)
        and not isinstance(item.get("id"), bool)
    )


def seen(issue: dict[str, object]) -> object:
    """When the SPEC judges an issue new from: firstSeen, else lastSeen, else None."""
    return parse_aware(issue.get("firstSeen")) or parse_aware(issue.get("lastSeen"))


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
@example(body=b"[" * 5_000)
def test_property_any_issues_answer_is_a_result_or_unknown(
    fake: FakeSentry, sentry_api: SentryApi, clock: FakeClock, body: bytes
) -> None:
    fake.failures = [Reply(200, body, {"Content-Type": "application/json"})]
    try:
        issues = json.loads(body)
    except (ValueError, RecursionError):
        issues = None
    if not isinstance(issues, list) or not all(is_issue(i) for i in issues):
        with pytest.raises(CheckError, match=r"^Sentry API"):
            sentry.check(sentry_api, T0, ROLE, "production", clock, 8)
    else:
        result = sentry.check(sentry_api, T0, ROLE, "production", clock, 8)
        new = [
            i
            for i in issues
            if (seen(i) is None or seen(i) >= CUTOVER)  # type: ignore[operator]
            and i.get("status", "unresolved") == "unresolved"
        ]
        assert sorted(f.id for f in result.findings) == sorted(f"sentry.{i['id']}" for i in new)
        assert result.metrics["new_issues"] == len(new)
        escalates = [sentry.classify(i, ROLE) != "other" for i in new]
        expected = State.CRITICAL if any(escalates) else State.WARNING if new else State.OK
        assert result.state == expected
    assert fake.failures == []  # the check read this example's answer
