"""No secret leaves the watcher: every command, through its failure paths, as a subprocess.

Every secret setting gets a known, distinctive value (the database passwords with characters
that URL-encoding, JSON and Slack's escaping all change). The fakes then do their worst: they
answer 401 and 500 with the request's Authorization header echoed in the body, send garbage
with the token in it, refuse connections, and (on their good days) repeat secrets back in what
the watcher reports on: log lines, Sentry issue titles, the healthz body, the Data API's
answer; some of them placed so that a value the watcher cuts short ends mid-secret.

A leak is any secret in full or in part (any 8 characters of it), raw, URL-encoded or
JSON-escaped (or HTML-escaped, as Slack text is), found in stdout, stderr, the daemon's log,
`/metrics`, the bodies of requests to Slack, Alertmanager, the Pushgateway and Sentry's ingest,
or in any request to a service whose secret it is not (each service's own token is expected
in its own Authorization header; the Logplex session token in the Logplex URL).
"""

from __future__ import annotations

import contextlib
import gzip
import html
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pytest

from checks.registry import Registry
from tests.conftest import LOOPBACK_DEFAULTS
from tests.fakes import heroku as heroku_fake
from tests.fakes import logplex as logplex_fake
from tests.fakes import sentry as sentry_fake
from tests.fakes import sentry_ingest
from tests.fakes import slack as slack_fake
from tests.fakes.healthz import FakeHealthz
from tests.fakes.heroku import FakeHeroku
from tests.fakes.http import FakeServer, Reply, Request, closed_port, json_reply
from tests.fakes.logplex import FakeLogplex
from tests.fakes.sentry import FakeSentry
from tests.fakes.sentry_ingest import FakeSentryIngest, parse_envelope
from tests.fakes.slack import FakeSlack
from tests.support.postgres import OWNER, PgServer, WatchedDatabase, free_port
from watcher.redact import Redactor

ROOT = Path(__file__).resolve().parents[1]

# Distinctive values: no 8 characters of one occur in anything else the watcher prints.
HEROKU_API_KEY = "HRKU-7c41e9b2-a5d8-4f16-b3e0-c29d7a58f1e3"
SENTRY_AUTH_TOKEN = "sntrys_b83f0d6a1c9e47f2a5d0e8b4c7f1a396"
SLACK_BOT_TOKEN = "xoxb-6021843597-4e9b1f7c2d8a-Qm7Rt2Zx9Kp4Lw8Vn3Hs"
METRICS_TOKEN = "mtok-3e9d7b1f5a2c8e4d6b0f9a7c"
DSN_KEY = "9a7c5e3b1d8f4a6c2e0b9d7f5a3c1e8b"
LOGPLEX_TOKEN = "lp-3b7e1d9f-5a2c-4e8b-9d6f-0c1a7e3b5d9f"
# What URL-encoding, JSON and Slack's escaping each change: / : @ + % & # and a quote.
DB_PASSWORD = 'Db/Pw:9f3c@e71a+b204&d5#k"q'
WRONG_DB_PASSWORD = "Wr0ng/Db:Pw@5c8e+1a7d&x"
STATE_PASSWORD = "St@te:Pw/4b8e+1d9c%a6=q&z"

SECRETS = {
    "HEROKU_API_KEY": HEROKU_API_KEY,
    "SENTRY_AUTH_TOKEN": SENTRY_AUTH_TOKEN,
    "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
    "WATCHER_METRICS_TOKEN": METRICS_TOKEN,
    "SENTRY_DSN key": DSN_KEY,
    "Logplex session token": LOGPLEX_TOKEN,
    "DATABASE_URL password": DB_PASSWORD,
    "DATABASE_URL password (refused)": WRONG_DB_PASSWORD,
    "WATCHER_STATE_URL password": STATE_PASSWORD,
}
WINDOW = 8


def forms(secret: str) -> set[str]:
    """The ways a secret can be written: raw, URL-encoded, JSON-escaped, HTML-escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret, quote=False),
        html.escape(secret),
    }


def _windows(secret: str) -> set[str]:
    return {
        form[i : i + WINDOW]
        for form in forms(secret)
        for i in range(max(1, len(form) - WINDOW + 1))
    }


WINDOWS = {name: _windows(secret) for name, secret in SECRETS.items()}


def leaks(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Each secret found in `text` (in part counts), with where, but `allowed` ones."""
    found = []
    for name, windows in WINDOWS.items():
        if name in allowed:
            continue
        for window in windows:
            at = text.find(window)
            if at != -1:
                found.append(f"{name}: {window!r} in ...{text[max(0, at - 60) : at + 40]!r}...")
                break
    return found


def assert_clean(where: str, text: str, allowed: tuple[str, ...] = ()) -> None:
    found = leaks(text, allowed)
    assert not found, f"secret in {where}:\n" + "\n".join(found)


# -- the outside world -----------------------------------------------------------------------


def intercept(server: FakeServer, answer: Callable[[Request], Reply | None]) -> None:
    """`answer` first; where it returns None, the fake's normal answer."""
    normal = server.respond

    def respond(request: Request) -> Reply:
        return answer(request) or normal(request)

    server.respond = respond  # type: ignore[method-assign]


def echo(status: int) -> Callable[[Request], Reply]:
    """The sharpest failure: the request's credentials repeated back in the error body."""

    def answer(request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        return json_reply(
            {
                "id": "error",
                "message": f"rejected credentials {auth!r} for {request.path}",
                "error": "invalid_auth" if status == 200 else "internal_error",
                "ok": False,
                "headers": request.headers,
                "detail": f"token={auth.removeprefix('Bearer ')}",
            },
            status,
        )

    return answer


def garbage(request: Request) -> Reply:
    auth = request.headers.get("authorization", "").encode()
    return Reply(
        200, b"\x00\xff<html>" + auth + b"\n\x1b[2J" + auth[::-1], {"Content-Type": "text/html"}
    )


@dataclass
class World:
    """Every outside system, running; the settings the subprocess gets; what it did."""

    db: WatchedDatabase
    tmp: Path
    stack: contextlib.ExitStack
    now: datetime
    database_url: str = ""
    state_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    healthz: FakeHealthz = field(init=False)
    heroku: FakeHeroku = field(init=False)
    logplex: FakeLogplex = field(init=False)
    sentry: FakeSentry = field(init=False)
    slack: FakeSlack = field(init=False)
    ingest: FakeSentryIngest = field(init=False)
    alertmanager: FakeServer = field(init=False)
    pushgateway: FakeServer = field(init=False)
    outputs: dict[str, str] = field(default_factory=dict)

    def fakes(self) -> dict[str, FakeServer]:
        return {
            "healthz": self.healthz,
            "heroku": self.heroku,
            "logplex": self.logplex,
            "sentry": self.sentry,
            "slack": self.slack,
            "sentry ingest": self.ingest,
            "alertmanager": self.alertmanager,
            "pushgateway": self.pushgateway,
        }

    def line(self, minutes_ago: float, rest: str) -> str:
        return f"{(self.now - timedelta(minutes=minutes_ago)).isoformat()} {rest}"


def _role(server: PgServer, prefix: str, password: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", (password,))
    return name


def _drop(server: PgServer, *statements: str) -> None:
    with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def pg_url(server: PgServer, user: str, password: str, dbname: str) -> str:
    """Heroku's scheme, the password URL-encoded as it must be (`/` included)."""
    parts = urlsplit(server.admin_url)
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return f"postgres://{netloc}/{dbname}"


@pytest.fixture
def world(
    watched_db: WatchedDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    # The fakes accept this test's secrets instead of their own.
    monkeypatch.setattr(heroku_fake, "TOKEN", HEROKU_API_KEY)
    monkeypatch.setattr(heroku_fake, "DB_PASSWORD", DB_PASSWORD)
    monkeypatch.setattr(sentry_fake, "TOKEN", SENTRY_AUTH_TOKEN)
    monkeypatch.setattr(slack_fake, "TOKEN", SLACK_BOT_TOKEN)
    monkeypatch.setattr(logplex_fake, "SESSION_TOKEN", LOGPLEX_TOKEN)
    monkeypatch.setattr(sentry_ingest, "PUBLIC_KEY", DSN_KEY)
    server = watched_db.server
    # The watched database through a credential of its own (a member of the owner role),
    # and a state store in PostgreSQL with a password of its own.
    user = _role(server, "leak", DB_PASSWORD)
    state_user = _role(server, "state", STATE_PASSWORD)
    state_db = f"watcher_state_{uuid.uuid4().hex[:8]}"
    with contextlib.closing(server.admin()) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT {OWNER} TO {user}")
        cur.execute(f"CREATE DATABASE {state_db} OWNER {state_user}")
    with contextlib.ExitStack() as stack:
        w = World(watched_db, tmp_path, stack, datetime.now(UTC))
        w.healthz = stack.enter_context(FakeHealthz())
        w.heroku = stack.enter_context(FakeHeroku())
        w.logplex = stack.enter_context(FakeLogplex())
        w.sentry = stack.enter_context(FakeSentry())
        w.slack = stack.enter_context(FakeSlack())
        w.ingest = stack.enter_context(FakeSentryIngest())
        w.alertmanager = stack.enter_context(FakeServer(lambda request: json_reply({})))
        w.pushgateway = stack.enter_context(FakeServer(lambda request: Reply(200, "")))
        w.heroku.add_postgres()
        w.heroku.logplex_url = w.logplex.session_url
        w.database_url = pg_url(server, user, DB_PASSWORD, watched_db.name)
        w.state_url = pg_url(server, state_user, STATE_PASSWORD, state_db).replace(
            "postgres://", "postgresql://", 1
        )
        w.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
            "PYTHONPATH": str(ROOT),
            **LOOPBACK_DEFAULTS,
            "DATABASE_URL": w.database_url,
            "WATCHER_APP_ROLE": watched_db.app_role,
            "WATCHER_HEALTHZ_URL": w.healthz.healthz_url,
            "HEROKU_API_KEY": HEROKU_API_KEY,
            "WATCHER_HEROKU_API_URL": w.heroku.url,
            "WATCHER_HEROKU_DATA_API_URL": w.heroku.url,
            "SENTRY_AUTH_TOKEN": SENTRY_AUTH_TOKEN,
            "WATCHER_SENTRY_API_URL": w.sentry.url,
            "WATCHER_SENTRY_ORG": sentry_fake.ORG,
            "SENTRY_DSN": w.ingest.dsn,
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
            "WATCHER_SLACK_API_URL": w.slack.api_url,
            "WATCHER_SLACK_MENTION": "<@U024BE7LH>",
            "WATCHER_ALERTMANAGER_URL": w.alertmanager.url,
            "WATCHER_METRICS_TOKEN": METRICS_TOKEN,
            "WATCHER_STATE_URL": w.state_url,
            "WATCHER_CUTOVER_AT": (w.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WATCHER_CHECK_TIMEOUT": "3",
            # Every log line there is: the most chances to leak.
            "WATCHER_LOG_LEVEL": "DEBUG",
        }
        yield w
    _drop(
        server,
        f"DROP DATABASE IF EXISTS {state_db} WITH (FORCE)",
        f"DROP ROLE IF EXISTS {state_user}",
        f"REVOKE {OWNER} FROM {user}",
        f"DROP ROLE IF EXISTS {user}",
    )


# What a service may be sent of the secrets: its own credential, where it belongs.
_OWN_SECRET = {
    "heroku": "HEROKU_API_KEY",
    "sentry": "SENTRY_AUTH_TOKEN",
    "slack": "SLACK_BOT_TOKEN",
    "sentry ingest": "SENTRY_DSN key",
    "logplex": "Logplex session token",
}


def check_requests(world: World) -> None:
    """What each fake received: no other service's secret anywhere, its own only in place."""
    for service, fake in world.fakes().items():
        own = _OWN_SECRET.get(service)
        for request in fake.requests:
            where = f"a request to {service} ({request.method} {request.path})"
            headers = dict(request.headers)
            if own in ("HEROKU_API_KEY", "SENTRY_AUTH_TOKEN", "SLACK_BOT_TOKEN"):
                assert headers.pop("authorization", None) in (None, f"Bearer {SECRETS[own]}")
            if own == "SENTRY_DSN key":
                headers.pop("x-sentry-auth", None)
            if service == "logplex":
                # The session URL carries its own token; no Authorization header goes there.
                assert "authorization" not in headers
                # `token=` as today's session URLs carry it, `srv=` as older ones did.
                assert request.query.get("token") in ([LOGPLEX_TOKEN], None)
                assert request.query.get("srv") in ([LOGPLEX_TOKEN], None)
            query = {
                k: v
                for k, v in request.query.items()
                if not (service == "logplex" and k in ("srv", "token"))
            }
            assert_clean(f"{where}: headers", json.dumps(headers))
            assert_clean(f"{where}: path and query", request.path + json.dumps(query))
            body = request.body
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if service == "sentry ingest":
                check_envelope(body, where)
            else:
                assert_clean(f"{where}: body", body.decode("utf-8", "replace"))


def check_envelope(body: bytes, where: str) -> None:
    """Sentry's envelope: the items (events, check-ins) carry no secret; the header may carry
    the DSN's public key (the SDK's trace context names it), and nothing else."""
    header, items = parse_envelope(body)
    assert_clean(f"{where}: envelope header", json.dumps(header), allowed=("SENTRY_DSN key",))
    for item in items:
        assert_clean(f"{where}: {item.type} item headers", json.dumps(item.headers))
        assert_clean(f"{where}: {item.type} item", item.payload.decode("utf-8", "replace"))


# -- baits: the outside world repeating secrets back -----------------------------------------


def bait_log_lines(world: World) -> list[str]:
    """Log lines that carry secrets, one of them placed so the sample cut (300) ends mid-secret."""
    cut = world.line(3, "app[worker.1]: sqlite3.DatabaseError: database is locked; dsn password=")
    cut += "x" * (300 - 10 - len(cut))
    return [
        world.line(9, "app[web.1]: GET /bars 200"),
        world.line(
            8,
            "app[web.1]: sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could"
            f" not connect to {world.database_url}",
        ),
        world.line(
            6,
            "app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table"
            f" users; env HEROKU_API_KEY={HEROKU_API_KEY} SENTRY_AUTH_TOKEN={SENTRY_AUTH_TOKEN}"
            f" SLACK_BOT_TOKEN={SLACK_BOT_TOKEN} WATCHER_METRICS_TOKEN={METRICS_TOKEN}"
            f" SENTRY_DSN={world.env['SENTRY_DSN']} WATCHER_STATE_URL={world.state_url}",
        ),
        world.line(5, f"app[web.1]: ProgrammingError near {quote(DB_PASSWORD, safe='')}"),
        cut + DB_PASSWORD + " and more",
    ]


def bait_everything(world: World) -> None:
    """Healthy services whose answers repeat secrets: the healthz body (values are cut at 40
    characters), log lines, Sentry titles, the Data API's status."""
    world.healthz.reply = json_reply(
        {"status": "ok", "db": world.database_url, "version": HEROKU_API_KEY}
    )
    world.logplex.history = bait_log_lines(world)
    recent = world.now - timedelta(minutes=20)
    world.sentry.add(
        f"OperationalError: password authentication failed for {world.database_url}",
        recent,
        type="OperationalError",
    )
    world.sentry.add(f"KeyError: {SLACK_BOT_TOKEN} {json.dumps(STATE_PASSWORD)}", recent)
    addon = world.heroku.addons[0]
    # pg:info's values are shown cut at 40 characters: this one ends mid-password.
    world.heroku.set_info(addon, status=f"Down: password {DB_PASSWORD} rejected")


def fail_everything(world: World, answer: Callable[[Request], Reply]) -> None:
    """Every API answers `answer`; the database refuses the password."""
    for fake in (world.healthz, world.heroku, world.sentry, world.logplex):
        intercept(fake, answer)
    world.env["DATABASE_URL"] = pg_url(world.db.server, OWNER, WRONG_DB_PASSWORD, world.db.name)


def refuse_everything(world: World) -> None:
    for name in (
        "WATCHER_HEALTHZ_URL",
        "WATCHER_HEROKU_API_URL",
        "WATCHER_HEROKU_DATA_API_URL",
        "WATCHER_SENTRY_API_URL",
        "WATCHER_SLACK_API_URL",
        "WATCHER_ALERTMANAGER_URL",
    ):
        world.env[name] = f"http://127.0.0.1:{closed_port()}/"
    world.env["DATABASE_URL"] = (
        f"postgres://{OWNER}:{quote(WRONG_DB_PASSWORD, safe='')}@127.0.0.1:{closed_port()}/raxx"
    )


def slack_fails_for_good(world: World) -> None:
    intercept(world.slack, echo(200))  # `invalid_auth`, with the token echoed


def slack_fails_for_now(world: World) -> None:
    intercept(world.slack, echo(500))


def alertmanager_fails(world: World) -> None:
    intercept(world.alertmanager, echo(500))


# -- running the watcher -----------------------------------------------------------------------


def watcher(
    world: World, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        env=world.env,
        cwd=world.tmp,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    name = " ".join(args)
    world.outputs[f"`watcher {name}` stdout"] = done.stdout.decode("utf-8", "replace")
    world.outputs[f"`watcher {name}` stderr"] = done.stderr.decode("utf-8", "replace")
    return done


def state_store_text(world: World) -> str:
    """Every row of every table of the PostgreSQL state store (schema `watcher`), as text."""
    dbname = urlsplit(world.state_url).path.lstrip("/")
    rows: list[str] = []
    with contextlib.closing(world.db.server.admin(dbname)) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'watcher'")
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT t::text FROM watcher.{table} t")
            rows += [row for (row,) in cur.fetchall()]
    assert rows, "the state store is empty"
    return "\n".join(rows)


def assert_no_leaks(world: World) -> None:
    """Nothing the watcher printed, logged or served, nor any request it made, leaks."""
    for where, text in world.outputs.items():
        assert_clean(where, text)
    check_requests(world)


def states(done: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    return {c["name"]: c["state"] for c in json.loads(done.stdout)["checks"]}


Scenario = Callable[[World], None]

ONCE_SCENARIOS: dict[str, Scenario] = {
    "401 echoing the token": lambda w: fail_everything(w, echo(401)),
    "500 echoing the token": lambda w: fail_everything(w, echo(500)),
    "garbage with the token": lambda w: fail_everything(w, garbage),
    "refused": refuse_everything,
    "secrets repeated back": bait_everything,
}


@pytest.mark.parametrize("scenario", list(ONCE_SCENARIOS), ids=list(ONCE_SCENARIOS))
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_watcher_once(world: World, scenario: str, as_json: bool) -> None:
    ONCE_SCENARIOS[scenario](world)
    done = watcher(world, "once", *(["--json"] if as_json else []))
    assert done.returncode in (2, 3), done.stderr
    if as_json:
        assert list(states(done)) == list(Registry.default().names)
    assert_no_leaks(world)


NOTIFY_SCENARIOS: dict[str, list[Scenario]] = {
    # Slack takes everything: what the baits put in the summaries reaches Slack's bodies.
    "Slack and Alertmanager take the alerts": [bait_everything],
    "Slack fails for good (echoing its token), Alertmanager 500": [
        bait_everything,
        slack_fails_for_good,
        alertmanager_fails,
    ],
    "Slack fails for now (500 echoing its token)": [bait_everything, slack_fails_for_now],
    "every API 401 echoing the token, Slack for good": [
        lambda w: fail_everything(w, echo(401)),
        slack_fails_for_good,
    ],
}


@pytest.mark.parametrize("scenario", list(NOTIFY_SCENARIOS), ids=list(NOTIFY_SCENARIOS))
def test_watcher_once_notify(world: World, scenario: str) -> None:
    for apply in NOTIFY_SCENARIOS[scenario]:
        apply(world)
    # Twice: the second observation fires what needs two (healthz failing to answer).
    first = watcher(world, "once", "--json", "--notify")
    done = watcher(world, "once", "--notify", "--json")
    for run in (first, done):
        assert run.returncode in (2, 3), run.stderr
    report = json.loads(done.stdout)
    if "for good" in scenario:
        assert report["notifications"]["failed"]
        # Reported to Sentry, through the DSN.
        assert any(i.type == "event" for i in world.ingest.items)
    if scenario.startswith("Slack and"):
        assert json.loads(first.stdout)["notifications"]["sent"] >= 1
        assert world.slack.messages and world.alertmanager.requests
    # The table, and the state store's history through `watcher record`.
    watcher(world, "once", "--notify")
    watcher(world, "record")
    assert_no_leaks(world)
    # What the state store keeps (summaries, queued messages) is masked before it is kept.
    assert_clean("the state store", state_store_text(world))


def test_watcher_record_with_a_store_that_refuses_its_password(world: World) -> None:
    world.env["WATCHER_STATE_URL"] = world.state_url.replace(
        quote(STATE_PASSWORD, safe=""), quote(WRONG_DB_PASSWORD, safe="")
    )
    done = watcher(world, "record")
    assert done.returncode == 3
    assert "password authentication failed" in done.stderr.decode()
    done = watcher(world, "once", "--notify", "--check", "healthz")
    assert done.returncode == 3
    assert_no_leaks(world)


def test_watcher_scan(world: World) -> None:
    """An exported log full of secrets; one ends where the table cuts a sample (160)."""
    lines = bait_log_lines(world)
    cut = world.line(2, 'heroku[router]: at=error code=H10 desc="App crashed" token=')
    lines.append(cut + "y" * (160 - 10 - len(cut)) + HEROKU_API_KEY)
    log = world.tmp / "export.log"
    log.write_text("\n".join(lines) + "\n")
    (world.tmp / "export.log.gz").write_bytes(gzip.compress(log.read_bytes()))
    for args in (["scan", str(log)], ["scan", str(log), "--json"], ["scan", "export.log.gz"]):
        done = watcher(world, *args)
        assert done.returncode == 2, done.stderr
    done = watcher(world, "scan", "-", stdin=log.read_bytes())
    assert done.returncode == 2
    # A file that cannot be read: its name is not a secret, but the error path is checked too.
    done = watcher(world, "scan", str(world.tmp / "missing.log"))
    assert done.returncode == 3
    assert_no_leaks(world)


RUN_SCENARIOS: dict[str, list[Scenario]] = {
    "everything delivers": [bait_everything],
    "everything fails, echoing tokens": [
        bait_everything,
        slack_fails_for_good,
        alertmanager_fails,
        lambda w: intercept(w.pushgateway, echo(500)),
        lambda w: intercept(w.sentry, echo(500)),
    ],
}


@pytest.mark.parametrize("scenario", list(RUN_SCENARIOS), ids=list(RUN_SCENARIOS))
def test_watcher_run(world: World, scenario: str) -> None:
    for apply in RUN_SCENARIOS[scenario]:
        apply(world)
    world.logplex.tail = True
    port = free_port()
    world.env |= {
        "WATCHER_CHECK_INTERVAL": "2",
        "WATCHER_HEALTHZ_INTERVAL": "1",
        "WATCHER_METRICS_PORT": str(port),
        "WATCHER_PUSHGATEWAY_URL": world.pushgateway.url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run"],
        env=world.env,
        cwd=world.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 20
        # A full cycle and a push have happened, and the follower has read the log.
        while time.monotonic() < deadline and not (
            world.pushgateway.requests and world.slack.requests and len(world.logplex.requests)
        ):
            time.sleep(0.1)
        # A line written while it follows: escalated within seconds, with secrets in it.
        world.logplex.push(
            world.line(0, f"app[web.1]: permission denied for table orders {world.database_url}")
        )
        time.sleep(2.5)
        with httpx.Client(timeout=5) as http:
            scraped = http.get(metrics_url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            refused = http.get(metrics_url, headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
        assert scraped.status_code == 200 and refused.status_code == 401
        world.outputs["/metrics"] = scraped.text
        world.outputs["/metrics refused"] = refused.text
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()
    world.outputs["`watcher run` log (stdout)"] = out.decode("utf-8", "replace")
    world.outputs["`watcher run` stderr"] = err.decode("utf-8", "replace")
    assert "watch started" in out.decode()
    assert world.pushgateway.requests and world.ingest.items
    if scenario == "everything delivers":
        assert any("permission_denied" in str(m.blocks) for m in world.slack.messages)
    assert_no_leaks(world)


@pytest.mark.parametrize("name", list(SECRETS))
def test_a_secret_cut_short_is_masked_too(name: str) -> None:
    """What the watcher shows cut (a healthz value at 40 characters, a log sample at 300)
    can end mid-secret: the redactor masks any 8 characters of one, in every form."""
    secret = SECRETS[name]
    redact = Redactor(list(SECRETS.values()))
    for form in forms(secret) - {html.escape(secret), html.escape(secret, quote=False)}:
        for cut in (WINDOW, len(form) // 2, len(form) - 1):
            text = f"db='{form[:cut]}...' and ...{form[-cut:]} (expected postgresql)"
            assert not leaks(redact(text)), redact(text)
    # Ordinary words around them stay.
    assert redact("db='postgresql' status=ok") == "db='postgresql' status=ok"


def test_the_leak_detector_finds_what_it_should() -> None:
    """The detector itself: each form, and any 8 characters, are found; the mask is not."""
    for secret in SECRETS.values():
        for form in forms(secret):
            assert leaks(f"x {form} y")
            assert leaks(f"cut here: {form[:WINDOW]}")
        assert leaks(f"...{secret[-WINDOW:]}")
    assert not leaks("postgres://leak_ab12cd34:[redacted]@127.0.0.1:5432/raxx_0f1e2d3c")
