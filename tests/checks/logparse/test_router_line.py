"""The router line parser against real lines, and whatever else arrives."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from checks.logparse.log_line import parse
from checks.logparse.router_line import RouterRequest, parse_router

# Real router lines. Dev Center, "Heroku Error Codes" (devcenter.heroku.com/articles/error-codes,
# as also reproduced on riptutorial.com/heroku and docon.top): the H10, H11 and H12 examples.
DEVCENTER_H10 = (
    '2010-10-06T21:51:12-07:00 heroku[router]: at=error code=H10 desc="App crashed" method=GET'
    ' path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes='
)
DEVCENTER_H11 = (
    '2010-10-06T21:51:07-07:00 heroku[router]: at=error code=H11 desc="Backlog too deep"'
    ' method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service='
    " status=503 bytes="
)
DEVCENTER_H12 = (
    '2010-10-06T21:51:37-07:00 heroku[router]: at=error code=H12 desc="Request timeout"'
    ' method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms'
    " service=30001ms status=503 bytes=0"
)
# A real app's H10 with today's fields (request_id, quoted fwd, protocol), posted with a
# question on qanswer.space ("Heroku deployment of selenium python scraper ... H10").
REAL_H10 = (
    '2022-04-12T15:27:32.877398+00:00 heroku[router]: at=error code=H10 desc="App crashed"'
    ' method=GET path="/" host=scraper-papersdrop.herokuapp.com'
    ' request_id=f189ac84-cfd8-4bec-9226-741250314389 fwd="157.51.25.187" dyno= connect='
    " service= status=503 bytes= protocol=https"
)
# An ordinary request, as in Dev Center's "HTTP Routing" (heroku-router section) and the
# line the issue quotes; and one captured from a drain in a public test suite
# (a Heroku logplex drain fixture: `service=37ms status=201 bytes=828`).
INFO = (
    '2026-05-16T15:02:11.052191+00:00 heroku[router]: at=info method=GET path="/api/watchlists"'
    ' host=api.raxx.app request_id=2f9a5a8e-6a0b-4b8e-9d9a-1f0f0e7c8d11 fwd="203.0.113.9"'
    " dyno=web.1 connect=1ms service=14ms status=200 bytes=255 protocol=https"
)
DRAIN_201 = (
    '2015-04-02T11:48:16.000000+00:00 heroku[router]: at=info method=POST path="/users"'
    ' host=myapp.com request_id=c1806361-2081-42e7-a8aa-92b6808eac8e fwd="24.76.242.18"'
    " dyno=web.1 connect=1ms service=37ms status=201 bytes=828"
)
# H80 (maintenance) is `at=info` with a 503: the router answered, the app never saw it.
H80 = (
    '2026-05-16T14:31:05.000000+00:00 heroku[router]: at=info code=H80 desc="Maintenance mode"'
    ' method=GET path="/" host=api.raxx.app fwd="203.0.113.9" dyno= connect= service='
    " status=503 bytes= protocol=https"
)


def router(raw: str) -> RouterRequest | None:
    line = parse(raw)
    assert (line.source, line.dyno) == ("heroku", "router")
    return parse_router(line.message)


def test_ordinary_request() -> None:
    request = router(INFO)
    assert request == RouterRequest(status=200, code=None, level="info", service_ms=14)
    assert not request.failed
    assert request.status_class == "2xx"
    assert router(DRAIN_201) == RouterRequest(201, None, "info", 37)


def test_devcenter_h12_is_a_failed_request_with_its_service_time() -> None:
    request = router(DEVCENTER_H12)
    assert request == RouterRequest(503, "H12", "error", 30001)
    assert request.failed and request.status_class == "5xx"


def test_h10_and_h11_have_no_service_time_and_fail() -> None:
    for raw in (DEVCENTER_H10, DEVCENTER_H11, REAL_H10):
        request = router(raw)
        assert request is not None
        assert request.failed and request.service_ms is None and request.status == 503


def test_h80_maintenance_is_not_a_request_of_the_app() -> None:
    assert router(H80) is None


def test_a_4xx_is_not_a_failure_and_a_500_is() -> None:
    assert not router(INFO.replace("status=200", "status=404")).failed  # type: ignore[union-attr]
    assert router(INFO.replace("status=200", "status=500")).failed  # type: ignore[union-attr]
    assert not router(INFO.replace("status=200", "status=499")).failed  # type: ignore[union-attr]


def test_warning_code_of_the_client_is_not_the_apps_failure() -> None:
    # H27 "Client Request Interrupted": at=warning, status 499; the client went away.
    request = parse_router(
        'at=warning code=H27 desc="Client Request Interrupted" method=POST path="/submit"'
        " host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=1ms service=0ms"
        " status=499 bytes="
    )
    assert request is not None and not request.failed and request.status_class == "4xx"


def test_text_inside_the_path_is_not_a_field() -> None:
    request = parse_router(
        'at=info method=GET path="/x?status=500 service=99999ms" host=a dyno=web.1'
        " connect=0ms service=5ms status=200 bytes=1"
    )
    assert request == RouterRequest(200, None, "info", 5)


def test_non_request_router_lines() -> None:
    assert parse_router("") is None
    assert parse_router("at=info method=GET path=/") is None  # no status, no code
    assert parse_router("sock=client at=error code=H27") is not None  # a code alone counts


@given(st.text())
@example('at=info status=200 service=ms path="unterminated')
@example("at=error code=H12 status=99999 service=99999999999ms")
@example("at=info status=\u0662\u0660\u0660 service=\u0661ms")
def test_property_any_message_parses_or_is_none(text: str) -> None:
    request = parse_router(text)
    if request is not None:
        assert request.level in ("info", "warning", "error")
        assert request.status is None or 0 <= request.status <= 999
        assert request.service_ms is None or request.service_ms >= 0
        assert isinstance(request.failed, bool)


@given(
    st.sampled_from(["info", "warning", "error"]),
    st.integers(min_value=100, max_value=599),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**8)),
    st.text(st.characters(exclude_characters='"\\', exclude_categories=["Cc"])),
)
def test_property_round_trip(level: str, status: int, service: int | None, path: str) -> None:
    timing = "" if service is None else f"{service}ms"
    request = parse_router(
        f'at={level} method=GET path="{path}" host=h fwd="1.2.3.4, 5.6.7.8" dyno=web.1'
        f" connect=1ms service={timing} status={status} bytes=10 protocol=https"
    )
    assert request == RouterRequest(status, None, level, service)
    assert request.failed == (status >= 500)
