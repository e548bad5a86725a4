"""`healthz`: the app's own health endpoint says it runs on PostgreSQL (SOP 5.1, 7.1, 7.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from checks.check import GATE, ROLLBACK, Advice, Check, Doc, GaugeSpec, Sources
from checks.result import Finding, Observation, Result, State
from checks.sources.clock import Clock
from checks.sources.http_api import transport_reason

NAME = "healthz"
SOP = "5.1, 7.1, 7.3"
EXPECTED_DB = "postgresql"


@dataclass(frozen=True)
class HealthzOptions:
    """Where to probe and what counts as slow; `timeout` bounds the whole request."""

    url: str
    timeout: float = 8.0
    slow_after: float = 2.0
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True)
class _Response:
    status: int
    content_type: str
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class HealthzObservation(Observation):
    """One probe: how fast, what status, whether it counts as up, and the db it named."""

    latency_seconds: float | None
    status_code: int | None
    up: bool
    db: str | None = None


@dataclass(frozen=True)
class Answer:
    """What the probe got: an answer and how long it took, or why there was none."""

    response: _Response | None
    latency: float = 0.0
    unreachable: str | None = None  # the transport's reason; None with no response: timeout


def check(client: httpx.Client, options: HealthzOptions, clock: Clock) -> Result:
    """GET the endpoint; the watched service's own failures are CRITICAL, slowness WARNING."""
    return evaluate(probe(client, options, clock), options)


def probe(client: httpx.Client, options: HealthzOptions, clock: Clock) -> Answer:
    """GET the endpoint once, within the options' timeout."""
    started = clock.monotonic()
    try:
        response = _get(client, options, clock, started + options.timeout)
    except (httpx.TimeoutException, _Deadline):
        return Answer(None)
    except httpx.HTTPError as exc:
        return Answer(None, unreachable=transport_reason(exc))
    return Answer(response, clock.monotonic() - started)


def evaluate(answer: Answer, options: HealthzOptions) -> Result:
    """No answer, a wrong answer or one naming another database is CRITICAL; slow is WARNING."""
    response, latency = answer.response, answer.latency
    if response is None:
        if answer.unreachable is None:
            return timed_out(options.timeout)
        where = _shown_url(options.url)
        return _critical("unreachable", f"unreachable: {answer.unreachable} (GET {where})")
    findings, payload = _evaluate(response)
    if latency > options.slow_after:
        findings.append(
            Finding(
                f"{NAME}.slow",
                State.WARNING,
                f"slow: answered in {latency:.1f} s (over {options.slow_after:g} s)",
            )
        )
    db = payload.get("db")
    observation = HealthzObservation(
        latency_seconds=round(latency, 6),
        status_code=response.status,
        up=not any(f.state == State.CRITICAL for f in findings),
        # As the summary shows it: cut, control characters replaced (outside text).
        db=_shown(db).strip("'") if isinstance(db, str) else None,
    )
    version = f", version={_shown(payload['version'])}" if payload.get("version") else ""
    ok = f"db={EXPECTED_DB}, status=ok{version} in {latency * 1000:.0f} ms"
    return Result.from_findings(findings, ok, observation)


def _shown_url(url: str) -> str:
    """The URL tried, without what could be a credential (user, password, query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def timed_out(seconds: float) -> Result:
    """No complete answer in time: the watched service is too slow to count as up."""
    return _critical("timeout", f"no complete answer within {seconds:g} s")


class _Deadline(Exception):
    """The answer is still arriving when the check's time is up."""


def _get(client: httpx.Client, options: HealthzOptions, clock: Clock, deadline: float) -> _Response:
    # httpx's timeout bounds each read, not the whole answer: a body trickled a byte at
    # a time would never time out, so the loop also keeps a deadline.
    # Read at most max_body_bytes: a misbehaving endpoint must not exhaust memory.
    with client.stream(
        "GET",
        options.url,
        timeout=options.timeout,
        follow_redirects=False,
        headers={"Accept": "application/json"},
    ) as response:
        body = bytearray()
        truncated = False
        for chunk in response.iter_bytes():
            if clock.monotonic() > deadline:
                raise _Deadline
            body += chunk
            if len(body) > options.max_body_bytes:
                truncated = True
                del body[options.max_body_bytes :]
                break
        return _Response(
            response.status_code,
            response.headers.get("content-type", ""),
            bytes(body),
            truncated,
        )


def _evaluate(response: _Response) -> tuple[list[Finding], dict[str, object]]:
    """Findings from one answer, and its JSON object (empty if there is none)."""
    if response.status != 200:
        return [_status_finding(response)], {}
    if response.truncated:
        size = len(response.body)
        return [_finding("bad_body", f"body over {size} bytes: not a health answer")], {}
    try:
        payload = json.loads(response.body)
    # Nesting past the parser's recursion limit is no health answer either, not a crash.
    except (ValueError, RecursionError):
        kind = response.content_type.split(";")[0].strip() or "no content-type"
        size = len(response.body)
        return [
            _finding("bad_body", f"HTTP 200 but the body is not JSON ({kind}, {size} bytes)")
        ], {}
    if not isinstance(payload, dict):
        return [_finding("bad_body", "HTTP 200 but the JSON body is not an object")], {}
    findings = []
    status = payload.get("status")
    if status != "ok":
        findings.append(_finding("unhealthy", f"status={_shown(status)} (expected ok)"))
    db = payload.get("db")
    engine = db.lower() if isinstance(db, str) else None
    if engine == "sqlite":
        findings.append(
            _finding("db_sqlite", "db=sqlite (expected postgresql): the app is writing to SQLite")
        )
    elif engine != EXPECTED_DB:
        findings.append(_finding("db_unexpected", f"db={_shown(db)} (expected postgresql)"))
    return findings, payload


def _status_finding(response: _Response) -> Finding:
    text = response.body.decode("utf-8", "replace").lower()
    if response.status == 503 and "html" in response.content_type and "maintenance" in text:
        return _finding("maintenance", "HTTP 503: maintenance mode is on (Heroku maintenance page)")
    return _finding("http_status", f"HTTP {response.status} (expected 200)")


def _finding(kind: str, summary: str) -> Finding:
    return Finding(f"{NAME}.{kind}", State.CRITICAL, summary)


def _critical(kind: str, summary: str) -> Result:
    return Result.from_findings(
        [_finding(kind, summary)], "", HealthzObservation(None, None, up=False)
    )


def _shown(value: object) -> str:
    """A body value for a summary: missing says so; long or odd values are cut."""
    if value is None:
        return "missing"
    text = value if isinstance(value, str) else json.dumps(value)
    # Verbatim (not repr) so secret masking still recognises it; control characters replaced.
    shown = "".join(c if c.isprintable() else "?" for c in text[:40])
    return f"'{shown}...'" if len(text) > 40 else f"'{shown}'"


def _options(sources: Sources) -> HealthzOptions:
    return HealthzOptions(sources.settings.healthz_url, timeout=sources.budget)


CHECK = Check(
    name=NAME,
    sop=SOP,
    probe=lambda sources: probe(sources.http(), _options(sources), sources.clock),
    evaluate=lambda answer, sources: evaluate(answer, _options(sources)),
    # The healthz endpoint is the watched service: no answer in time is its failure.
    on_timeout=timed_out,
    # A blip of the network, not a broken contract: these fire only when seen again.
    transport=frozenset({"unreachable", "timeout", "http_status", "maintenance", "slow"}),
    advice=(
        (
            "db_sqlite",
            Advice(
                "5.1, 7.3",
                f"the app runs on SQLite again: check DATABASE_URL; {ROLLBACK}; {GATE}",
            ),
        ),
        (
            "db_unexpected",
            Advice(
                "5.1", f"healthz names an unexpected database: check DATABASE_URL (4.8); {GATE}"
            ),
        ),
        (
            "maintenance",
            Advice(
                "4.9, 5.1", "maintenance mode is on: turn it off only once healthz passes (4.9)"
            ),
        ),
        (
            "slow",
            Advice(
                "7.1",
                "healthz is slow: look at pg:info connections and the router's service times",
            ),
        ),
        (
            "",
            Advice(
                "5.1, 7.3", f"the API is failing: read `heroku logs` for the reason (5.1); {GATE}"
            ),
        ),
    ),
    gauges=(
        GaugeSpec("watcher_healthz_up", "1 if /healthz answered correctly", "up"),
        GaugeSpec("watcher_healthz_latency_seconds", "/healthz latency", "latency_seconds"),
    ),
    doc=Doc(
        "`GET WATCHER_HEALTHZ_URL`",
        "`db` is `sqlite` or anything but `postgresql`, `status` not `ok`, non-200 (503"
        " maintenance page named as such), body not JSON, unreachable, timeout",
        "answered in over 2 s",
    ),
)
