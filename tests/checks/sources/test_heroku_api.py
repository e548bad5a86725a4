"""HerokuApi against a real HTTP server on 127.0.0.1 speaking Heroku's Platform and Data APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from checks.result import CheckError
from checks.sources.heroku_api import Attachment, HerokuApi, HerokuConfig
from checks.sources.http_api import ApiError
from tests.fakes.heroku import APP, DB_PASSWORD, RATE_LIMIT_POOL, TOKEN, FakeHeroku
from tests.fakes.http import Reply, closed_port, json_reply
from tests.support.clock import FakeClock

BUDGET = 8.0
LOGPLEX_URL = "https://logplex.fake.invalid/sessions/6e2b9c1d-secret-session?srv=1747407042"


@pytest.fixture
def fake() -> Iterator[FakeHeroku]:
    with FakeHeroku() as server:
        yield server


def api_for(fake: FakeHeroku, http: httpx.Client, clock: FakeClock, **config: str) -> HerokuApi:
    settings = {"api_url": fake.url, "data_api_url": fake.url, "token": TOKEN, "app": APP}
    return HerokuApi(http, HerokuConfig(**{**settings, **config}), clock)


def deadline(clock: FakeClock) -> float:
    return clock.monotonic() + BUDGET


def failure(call: Callable[[], object]) -> ApiError:
    """The ApiError `call` raises, checked to carry no secret in its reason."""
    with pytest.raises(ApiError) as caught:
        call()
    for secret in (TOKEN, DB_PASSWORD, "postgres://", "/sessions/"):
        assert secret not in str(caught.value)
    assert isinstance(caught.value, CheckError)  # the runner makes it UNKNOWN
    return caught.value


def failure_reason(call: Callable[[], object]) -> str:
    return str(failure(call))


def test_the_primary_database_among_several_add_ons(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres("standard-0", attachment="HEROKU_POSTGRESQL_ORANGE")  # a follower
    fake.add_addon("heroku-redis:mini", "REDIS")
    primary = fake.add_postgres("standard-0", color="AMBER")
    fake.add_postgres("essential-0", attachment="ANALYTICS_DATABASE")
    api = api_for(fake, http, clock)
    assert api.postgres_attachment(deadline(clock)) == Attachment(
        primary.id, primary.name, "heroku-postgresql:standard-0"
    )
    assert [a.name for a in fake.attachments if a.addon is primary] == [
        "DATABASE",
        "HEROKU_POSTGRESQL_AMBER",
    ]


def test_attachments_are_asked_with_the_sdk_variant_and_inclusions(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres()
    api_for(fake, http, clock).postgres_attachment(deadline(clock))
    (request,) = fake.requests
    assert (request.method, request.path) == ("GET", f"/apps/{APP}/addon-attachments")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.heroku+json; version=3.sdk"
    assert request.headers["accept-inclusion"] == "addon:plan,config_vars"


def test_a_primary_found_by_its_config_var(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    answer = [
        {
            "name": "MAIN_DB",
            "config_vars": ["DATABASE_URL"],
            "addon": {
                "id": "a1",
                "name": "postgresql-x-1",
                "plan": {"name": "heroku-postgresql:standard-0"},
            },
        }
    ]
    fake.failures = [json_reply(answer)]
    attachment = api_for(fake, http, clock).postgres_attachment(deadline(clock))
    assert attachment.addon_id == "a1"


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda f: None, "app 'raxx-api-prod' has no heroku-postgresql add-on attached"),
        (
            lambda f: f.add_addon("heroku-redis:mini", "REDIS"),
            "has no heroku-postgresql add-on attached: check WATCHER_APP",
        ),
        (
            lambda f: f.add_postgres(attachment="HEROKU_POSTGRESQL_ORANGE"),
            "no heroku-postgresql add-on is attached to app 'raxx-api-prod' as DATABASE"
            " (attached as: HEROKU_POSTGRESQL_ORANGE)",
        ),
    ],
)
def test_no_primary_database_is_an_error(
    fake: FakeHeroku,
    http: httpx.Client,
    clock: FakeClock,
    setup: Callable[[FakeHeroku], object],
    words: str,
) -> None:
    setup(fake)
    api = api_for(fake, http, clock)
    assert words in failure_reason(lambda: api.postgres_attachment(deadline(clock)))


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"attachments": []}, "the addon-attachments answer is not a list"),
        # Without the inclusion the plan is missing: no add-on can be told to be Postgres.
        (
            [{"name": "DATABASE", "addon": {"id": "a1", "name": "postgresql-x-1"}}],
            "has no heroku-postgresql add-on",
        ),
        (
            [
                "junk",
                {
                    "name": "DATABASE",
                    "addon": {
                        "name": "postgresql-x-1",
                        "plan": {"name": "heroku-postgresql:standard-0"},
                    },
                },
            ],
            "the DATABASE attachment has no add-on id",
        ),
    ],
)
def test_attachment_answers_of_the_wrong_shape(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock, answer: object, words: str
) -> None:
    fake.failures = [json_reply(answer)]
    api = api_for(fake, http, clock)
    assert words in failure_reason(lambda: api.postgres_attachment(deadline(clock)))


def test_database_info_is_the_data_api_answer(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    db = fake.add_postgres()
    api = api_for(fake, http, clock, data_api_url=fake.url + "/")
    answer = api.database_info(db.id, deadline(clock))
    assert answer == fake.databases[db.id]
    (request,) = fake.requests
    assert request.path == f"/client/v11/databases/{db.id}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.heroku+json; version=3"
    assert api.rate_limit_remaining is None  # the Data API does not count


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            json_reply({"id": "unauthorized"}, 401),
            "Heroku rejected HEROKU_API_KEY (401): the Heroku Data API",
        ),
        (json_reply({"id": "forbidden"}, 403), "may not access app 'raxx-api-prod'"),
        (json_reply({"id": "not_found"}, 404), "Heroku Data API: database a1 not found (404)"),
        (json_reply({"id": "x"}, 502), "Heroku Data API answered HTTP 502"),
        (json_reply(["not", "an", "object"]), "the database answer is not a JSON object"),
        (Reply(200, f"resource_url=postgres://u:{DB_PASSWORD}@h/d"), "not JSON (text/plain, "),
    ],
)
def test_database_info_failures(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock, reply: Reply, words: str
) -> None:
    fake.data_failures = [reply]
    api = api_for(fake, http, clock)
    error = failure(lambda: api.database_info("a1", deadline(clock)))
    assert words in str(error)
    assert error.status == (reply.status if reply.status >= 400 else None)


def test_rate_limit_remaining_follows_every_platform_answer(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres()
    api = api_for(fake, http, clock)
    assert api.rate_limit_remaining is None
    api.postgres_attachment(deadline(clock))
    assert api.rate_limit_remaining == RATE_LIMIT_POOL - 1
    api.create_log_session(deadline(clock), 100, False)
    assert api.rate_limit_remaining == RATE_LIMIT_POOL - 2


def test_rate_limit_remaining_is_kept_from_a_429(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.add_postgres()
    fake.failures = [json_reply({"id": "rate_limit"}, 429, **{"Retry-After": "60"})]
    fake.rate_limit_remaining = 1  # this request takes the last token
    api = api_for(fake, http, clock)
    reason = failure_reason(lambda: api.postgres_attachment(deadline(clock)))
    assert "rate limited (HTTP 429)" in reason
    assert api.rate_limit_remaining == 0


def test_rate_limit_remaining_is_kept_from_an_error_answer(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.failures = [
        json_reply({"id": "not_found", "message": "nope"}, 404, **{"RateLimit-Remaining": "17"})
    ]
    api = api_for(fake, http, clock)
    failure_reason(lambda: api.postgres_attachment(deadline(clock)))
    assert api.rate_limit_remaining == 17


def test_a_log_session_posts_lines_and_tail(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.logplex_url = LOGPLEX_URL
    api = api_for(fake, http, clock)
    assert api.create_log_session(deadline(clock), 1500, True) == LOGPLEX_URL
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", f"/apps/{APP}/log-sessions")
    assert request.json() == {"lines": 1500, "tail": True}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.heroku+json; version=3.sdk"
    assert request.headers["content-type"] == "application/json"
    assert fake.log_session_bodies == [{"lines": 1500, "tail": True}]


def test_a_log_session_without_lines_leaves_them_out(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    api = api_for(fake, http, clock)
    assert api.create_log_session(deadline(clock), None, False) == fake.logplex_url
    assert fake.log_session_bodies == [{"tail": False}]


def test_a_log_session_429_is_waited_out(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    fake.failures = [json_reply({"id": "rate_limit"}, 429, **{"Retry-After": "2"})]
    api = api_for(fake, http, clock)
    assert api.create_log_session(deadline(clock), 10, True) == fake.logplex_url
    assert clock.slept == [2.0]
    assert len(fake.log_session_bodies) == 1  # the limited request never reached the route


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (json_reply({"id": "unauthorized"}, 401), "Heroku rejected HEROKU_API_KEY (401)"),
        (
            json_reply({"id": "forbidden"}, 403),
            "(403) for the log session: the token may not access app 'raxx-api-prod'",
        ),
        (json_reply({"id": "not_found"}, 404), "Heroku app 'raxx-api-prod' not found (404)"),
        (json_reply({"id": "x"}, 500), "Heroku Platform API answered HTTP 500"),
        (json_reply({"id": "rate_limit"}, 429, **{"Retry-After": "30"}), "rate limited (HTTP 429)"),
        (Reply(201, "<html>"), "not JSON (text/plain"),
        (json_reply({"id": "s1"}, 201), "the log session answer has no logplex_url"),
        (
            json_reply({"logplex_url": "ftp://logplex.example/sessions/x?token=t0k3n"}, 201),
            "the log session answer has no logplex_url",
        ),
        (Reply(drop=True), "unreachable: the server closed the connection"),
    ],
)
def test_log_session_failures(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock, reply: Reply, words: str
) -> None:
    fake.failures = [reply]
    api = api_for(fake, http, clock)
    reason = failure_reason(lambda: api.create_log_session(deadline(clock), 1500, True))
    assert words in reason
    assert "t0k3n" not in reason


def test_a_log_session_the_platform_refuses(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    api = api_for(fake, http, clock)
    reason = failure_reason(lambda: api.create_log_session(deadline(clock), 5000, True))
    assert reason == "Heroku Platform API answered HTTP 422"


def test_a_wrong_app_is_named_for_log_sessions(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    api = api_for(fake, http, clock, app="raxx-api-staging")
    reason = failure_reason(lambda: api.create_log_session(deadline(clock), None, True))
    assert reason == "Heroku app 'raxx-api-staging' not found (404): check WATCHER_APP"


def test_refused_connections(http: httpx.Client, clock: FakeClock) -> None:
    closed = f"http://127.0.0.1:{closed_port()}"
    api = HerokuApi(http, HerokuConfig(closed, closed, TOKEN, APP), clock)
    for call in (
        lambda: api.postgres_attachment(deadline(clock)),
        lambda: api.create_log_session(deadline(clock), 1, False),
    ):
        assert failure_reason(call) == "Heroku Platform API unreachable: connection refused"
    reason = failure_reason(lambda: api.database_info("a1", deadline(clock)))
    assert reason == "Heroku Data API unreachable: connection refused"
    assert api.sent == 3


def test_no_time_left_sends_nothing(fake: FakeHeroku, http: httpx.Client, clock: FakeClock) -> None:
    api = api_for(fake, http, clock)
    reason = failure_reason(lambda: api.postgres_attachment(clock.monotonic()))
    assert reason == "Heroku Platform API: no time left for the request"
    assert fake.requests == []


def test_the_app_name_is_quoted_into_the_path(
    fake: FakeHeroku, http: httpx.Client, clock: FakeClock
) -> None:
    api = api_for(fake, http, clock, app="raxx/../account")
    failure_reason(lambda: api.postgres_attachment(deadline(clock)))
    (request,) = fake.requests
    assert request.path == "/apps/raxx%2F..%2Faccount/addon-attachments"
