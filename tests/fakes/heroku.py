"""Heroku's Platform API and Data API (pg:info) as the watcher and the Heroku CLI use them.

Both APIs on one server, as the real CLI reaches them with `HEROKU_HOST=http://127.0.0.1:PORT`
and `HEROKU_DATA_HOST=127.0.0.1` (the Data API's host takes the scheme and port of
HEROKU_HOST). Platform API: `GET /account`, `GET /apps/{app}` (with `generation`, `cedar` or `fir`),
`GET /apps/{app}/config-vars`, `GET /apps/{app}/addons`, `GET /apps/{app}/addon-attachments`
(the add-on's plan and the config vars only when `Accept-Inclusion` asks for them), and
`POST /apps/{app}/log-sessions`. Every Platform answer carries `RateLimit-Remaining`, one token
less per request. Data API: `GET /client/v11/databases/{addon id}`, the answer the real API
sends (the CLI adds `Add-on` itself, so it is not in it). Errors are Heroku's JSON
`{"id": ..., "message": ...}`; a wrong bearer token is a 401 on both.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import FakeServer, Reply, Request, json_reply
from tests.fakes.logplex import FakeLogplex

APP = "raxx-api-prod"
TOKEN = "HRKU-fake0token-4b1d-9e6f-3a2c7d8e5f01"
DB_PASSWORD = "p7c0ffeefakedbpassw0rd1e9b2"
DATA_PATH = "/client/v11/databases/"
RATE_LIMIT_POOL = 4500
# The plans' real connection limits (Heroku's documentation).
PLAN_LIMITS = {
    "essential-0": 20,
    "essential-1": 20,
    "essential-2": 40,
    "standard-0": 120,
    "premium-0": 120,
}
_COLORS = ("AMBER", "ORANGE", "CYAN", "PURPLE", "TEAL", "GOLD")
_WORDS = ("adjacent", "curved", "shallow", "vertical", "rigid", "opaque")


@dataclass
class FakeAddon:
    """One add-on of the app; `plan` is the full plan name, e.g. heroku-postgresql:standard-0."""

    id: str
    name: str
    plan: str
    app: str = APP
    state: str = "provisioned"

    @property
    def service(self) -> str:
        return self.plan.partition(":")[0]

    def api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "app": {"name": self.app},
            "addon_service": {"name": self.service},
            "plan": {"name": self.plan},
            "state": self.state,
        }


@dataclass
class FakeAttachment:
    """An add-on attached to the app under `name` (config var `<name>_URL`)."""

    name: str
    addon: FakeAddon
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def api(self, inclusions: set[str]) -> dict[str, Any]:
        addon: dict[str, Any] = {
            "id": self.addon.id,
            "name": self.addon.name,
            "app": {"name": self.addon.app},
        }
        if "addon:plan" in inclusions:
            addon["plan"] = {"name": self.addon.plan}
        answer: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "addon": addon,
            "app": {"name": APP},
            "namespace": None,
        }
        if "config_vars" in inclusions:
            answer["config_vars"] = [f"{self.name}_URL"]
        return answer


def plan_label(plan: str) -> str:
    """How pg:info shows a plan: `standard-0` -> `Standard 0`."""
    return plan.rpartition(":")[2].replace("-", " ").title()


def database_answer(
    addon: FakeAddon,
    status: str | list[str] | None = "Available",
    connections: str | list[str] | None = None,
    plan: str | list[str] | None = None,
) -> dict[str, Any]:
    """The Data API's answer; a str is one value, a list the values, None leaves the entry out.

    `connections` defaults to 7 of the plan's limit, `plan` to the add-on's plan as pg:info
    shows it. The answer carries credentials (`resource_url`, `database_password`) like the
    real one.
    """
    short = addon.plan.rpartition(":")[2]
    if connections is None:
        connections = f"7/{PLAN_LIMITS.get(short, 120)}"
    if plan is None:
        plan = plan_label(addon.plan)
    user, database = f"u{addon.id[:8]}", f"d{addon.id[-8:]}"
    host = "ec2-52-3-14-159.compute-1.amazonaws.com"
    named: list[tuple[str, str | list[str] | None]] = [
        ("Plan", plan),
        ("Status", status),
        ("HA Status", []),  # only on premium plans: an entry with no values
        ("Data Size", "9.2 MB / 64 GB (In compliance)"),
        ("Tables", "35"),
        ("PG Version", "16.4"),
        ("Connections", connections),
        ("Connection Pooling", "Available"),
        ("Credentials", "2"),
        ("Fork/Follow", "Available"),
        ("Rollback", "earliest from 2026-05-12 14:00 UTC"),
        ("Created", "2026-05-12 13:55 UTC"),
        ("Data Encryption", "In Use"),
        ("Continuous Protection", "On"),
        ("Maintenance", "not required"),
        ("Maintenance window", "Thursdays 22:00 to Fridays 02:00 UTC"),
    ]
    info: list[dict[str, Any]] = [
        {"name": name, "values": [value] if isinstance(value, str) else value}
        for name, value in named
        if value is not None
    ]
    info.append({"name": "Followers", "values": [], "resolve_db_name": True})
    return {
        "addon_id": addon.id,
        "name": addon.name,
        "plan": short,
        "database_name": database,
        "database_user": user,
        "database_password": DB_PASSWORD,
        "resource_url": f"postgres://{user}:{DB_PASSWORD}@{host}:5432/{database}",
        "num_bytes": 9650176,
        "num_tables": 35,
        "waiting?": False,
        "following": None,
        "is_in_recovery?": False,
        "info": info,
    }


class FakeHeroku(FakeServer):
    """Both APIs for one app; `failures`, then `data_failures` (Data API only), answer first."""

    def __init__(self) -> None:
        self.app = APP
        self.maintenance = False
        self.generation = "cedar"
        self.addons: list[FakeAddon] = []
        self.attachments: list[FakeAttachment] = []
        self.databases: dict[str, dict[str, Any]] = {}  # add-on id -> the Data API's answer
        self.failures: list[Reply] = []
        self.data_failures: list[Reply] = []
        self.rate_limit_remaining = RATE_LIMIT_POOL
        self.logplex_url = "http://127.0.0.1:9/sessions/9d1f5c3e-logplex?srv=1747407042"
        # When set, each log session gets its own URL there, with its own lines and tail.
        self.logplex: FakeLogplex | None = None
        self.config: dict[str, str] = {"WEB_CONCURRENCY": "2"}  # config vars besides add-ons'
        self.log_session_bodies: list[Any] = []
        self.account_email = "ops@raxx.app"
        self._numbers = itertools.count(27271)
        super().__init__(self._answer)

    def __enter__(self) -> FakeHeroku:
        super().__enter__()
        return self

    def add_postgres(
        self, plan: str = "standard-0", attachment: str = "DATABASE", color: str | None = None
    ) -> FakeAddon:
        """An Available database attached as `attachment` and HEROKU_POSTGRESQL_<color>."""
        # Heroku attaches every database under a colour name too; DATABASE is the primary.
        number = next(self._numbers)
        full_plan = plan if ":" in plan else f"heroku-postgresql:{plan}"
        addon = self._addon(f"postgresql-{_WORDS[number % len(_WORDS)]}-{number}", full_plan)
        color_name = f"HEROKU_POSTGRESQL_{color or _COLORS[number % len(_COLORS)]}"
        self.attach(addon, attachment)
        if attachment != color_name:
            self.attach(addon, color_name)
        self.set_info(addon)
        return addon

    def add_addon(self, plan: str, attachment: str) -> FakeAddon:
        """Another add-on, e.g. `heroku-redis:mini` attached as REDIS."""
        addon = self._addon(f"{plan.partition(':')[0]}-{next(self._numbers)}", plan)
        self.attach(addon, attachment)
        return addon

    def attach(self, addon: FakeAddon, name: str) -> FakeAttachment:
        attachment = FakeAttachment(name, addon)
        self.attachments.append(attachment)
        return attachment

    def remove(self, addon: FakeAddon) -> None:
        """Destroy an add-on: its attachments and its database go with it."""
        self.addons.remove(addon)
        self.attachments = [a for a in self.attachments if a.addon is not addon]
        self.databases.pop(addon.id, None)

    def set_info(
        self,
        addon: FakeAddon,
        status: str | list[str] | None = "Available",
        connections: str | list[str] | None = None,
        plan: str | list[str] | None = None,
    ) -> dict[str, Any]:
        """What the Data API answers for `addon` from now on (see `database_answer`)."""
        answer = database_answer(addon, status, connections, plan)
        self.databases[addon.id] = answer
        return answer

    def serve_logs(self, logplex: FakeLogplex) -> None:
        """Log sessions from now on are sessions of `logplex`, each with its lines and tail."""
        self.logplex = logplex

    def config_vars(self) -> dict[str, str]:
        """`GET /apps/{app}/config-vars`: each attachment's `<NAME>_URL`, and `config`.

        A database's URL is its Data API `resource_url` (the CLI names a database by the config
        vars that hold it).
        """
        found = dict(self.config)
        for attachment in self.attachments:
            answer = self.databases.get(attachment.addon.id)
            if answer is not None:
                url = str(answer["resource_url"])
            else:
                url = f"{attachment.addon.service}://h:p4ss@{attachment.addon.name}.example:6379"
            found[f"{attachment.name}_URL"] = url
        return found

    def platform_requests(self) -> list[Request]:
        return [r for r in self.requests if not r.path.startswith(DATA_PATH)]

    def data_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(DATA_PATH)]

    def _addon(self, name: str, plan: str) -> FakeAddon:
        addon = FakeAddon(str(uuid.uuid4()), name, plan)
        self.addons.append(addon)
        return addon

    def _answer(self, request: Request) -> Reply:
        data = request.path.startswith(DATA_PATH)
        if data:
            reply = self._data_answer(request)
        else:
            reply = self._platform_answer(request)
            self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
            if not any(k.lower() == "ratelimit-remaining" for k in reply.headers):
                headers = {**reply.headers, "RateLimit-Remaining": str(self.rate_limit_remaining)}
                reply = dataclasses.replace(reply, headers=headers)
        return reply

    def _data_answer(self, request: Request) -> Reply:
        if self.failures:
            return self.failures.pop(0)
        if self.data_failures:
            return self.data_failures.pop(0)
        if not self._authorized(request):
            return _unauthorized()
        answer = self.databases.get(request.path.removeprefix(DATA_PATH))
        if answer is None:
            return _error(404, "not_found", "Couldn't find that database.")
        return json_reply(answer)

    def _platform_answer(self, request: Request) -> Reply:
        if self.failures:
            return self.failures.pop(0)
        if not self._authorized(request):
            return _unauthorized()
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts == ["account"]:
            return json_reply(self.account())
        if len(parts) < 2 or parts[0] != "apps":
            return _error(404, "not_found", "The requested API endpoint was not found.")
        if parts[1] != self.app:
            return _error(404, "not_found", "Couldn't find that app.", resource="app")
        route = (request.method, "/".join(parts[2:]))
        if route == ("GET", ""):
            return json_reply(self._app())
        if route == ("GET", "config-vars"):
            return json_reply(self.config_vars())
        if route == ("GET", "addons"):
            return json_reply([a.api() for a in self.addons])
        if route == ("GET", "addon-attachments"):
            inclusion = request.headers.get("accept-inclusion", "")
            inclusions = {i.strip() for i in inclusion.split(",") if i.strip()}
            return json_reply([a.api(inclusions) for a in self.attachments])
        if route == ("POST", "log-sessions"):
            return self._log_session(request)
        return _error(404, "not_found", "The requested API endpoint was not found.")

    def account(self) -> dict[str, Any]:
        """`GET /account`: the token's user (Platform API schema: account.info)."""
        return {
            "id": "01234567-89ab-cdef-0123-456789abcdef",
            "email": self.account_email,
            "name": "Raxx Ops",
            "verified": True,
            "two_factor_authentication": True,
            "created_at": "2024-01-08T09:00:00Z",
            "updated_at": "2026-05-01T09:00:00Z",
        }

    def _app(self) -> dict[str, Any]:
        return {
            "id": "6f1c7e0a-3b2d-4c5e-8f9a-0b1c2d3e4f5a",
            "name": self.app,
            "maintenance": self.maintenance,
            "generation": self.generation,
            "stack": {"name": "heroku-24"},
            "web_url": f"https://{self.app}-1a2b3c4d5e6f.herokuapp.com/",
        }

    def _log_session(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "bad_request", "Invalid JSON.")
        self.log_session_bodies.append(body)
        lines = body.get("lines", 100) if isinstance(body, dict) else None
        tail = body.get("tail", False) if isinstance(body, dict) else None
        if not isinstance(lines, int) or not 0 <= lines <= 1500 or not isinstance(tail, bool):
            return _error(422, "invalid_params", "Invalid lines or tail.")
        if self.generation == "fir":
            lines, tail = 0, True  # Fir sessions always tail and keep no history
        session = str(uuid.uuid4())
        now = "2026-05-16T14:48:50Z"
        url = self.logplex_url if self.logplex is None else self.logplex.session_for(lines, tail)
        return json_reply(
            {"id": session, "created_at": now, "updated_at": now, "logplex_url": url}, 201
        )

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"


def _error(status: int, kind: str, message: str, **extra: str) -> Reply:
    return json_reply({"id": kind, "message": message, **extra}, status)


def _unauthorized() -> Reply:
    return _error(401, "unauthorized", "Invalid credentials provided.")
