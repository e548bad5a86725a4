"""Sentry's Web API as the watcher reads it: the organization, project details and environments,
and the organization issues list.

An issue is shaped as Sentry's OpenAPI example of the organization issues list
(getsentry/sentry, src/sentry/apidocs/examples/issue_examples.py, SIMPLE_ISSUE); `firstSeen`
may be null, as Sentry's own models allow.

Filters as Sentry does: project id, environment, `is:unresolved`, a `start`/`end` window on
events (so an old issue with a recent event is returned), `sort=new` (newest first seen first),
`limit` and a cursor, with a `Link` header carrying `results="true"` while more pages exist.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.fakes.http import FakeServer, Reply, Request, json_reply

ORG = "raxx"
PROJECT = "raxx-backend"
PROJECT_ID = "4505312345"
TOKEN = "sntrys_fake_token_9c1e77"


@dataclass
class FakeIssue:
    """One issue as Sentry stores it; `api()` is how the API shows it."""

    id: str
    title: str
    first_seen: datetime | None
    last_seen: datetime
    type: str | None = None
    level: str = "error"
    status: str = "unresolved"
    count: int = 3
    environments: tuple[str, ...] = ("production",)
    extra: dict[str, object] = field(default_factory=dict)

    def api(self) -> dict[str, object]:
        metadata: dict[str, object] = {"value": self.title.partition(": ")[2]}
        if self.type is not None:
            metadata["type"] = self.type
        return {
            "annotations": [],
            "assignedTo": None,
            "id": self.id,
            "hasSeen": False,
            "isBookmarked": False,
            "isPublic": False,
            "isSubscribed": True,
            "logger": None,
            "numComments": 0,
            "shareId": None,
            "stats": {"24h": []},
            "statusDetails": {},
            "subscriptionDetails": None,
            "shortId": f"RAXX-BACKEND-{int(self.id):X}",
            "title": self.title,
            "culprit": "raptor.repositories.historical_bars in fetch",
            "level": self.level,
            "status": self.status,
            "firstSeen": None if self.first_seen is None else _iso(self.first_seen),
            "lastSeen": _iso(self.last_seen),
            "count": str(self.count),  # a string in the real API
            "userCount": 0,
            "permalink": f"https://raxx.sentry.io/issues/{self.id}/",
            "metadata": metadata,
            "project": {"id": PROJECT_ID, "slug": PROJECT},
            "type": "error" if self.type else "default",
            "isUnhandled": True,
            **self.extra,
        }


class FakeSentry(FakeServer):
    """The API; `failures` are answered first, one per request, before the normal answers."""

    def __init__(self) -> None:
        self.issues: list[FakeIssue] = []
        self.failures: list[Reply] = []
        # The project's environments, as `GET /api/0/projects/{org}/{project}/environments/`
        # lists them (an environment appears once an event was sent with it).
        self.environments = ["production", "staging"]
        self._ids = itertools.count(4100)
        super().__init__(self._answer)

    def add(self, title: str, first_seen: datetime | None, **fields: object) -> FakeIssue:
        """An issue first seen at `first_seen`, last seen a minute later unless given."""
        if first_seen is None and "last_seen" not in fields:
            raise ValueError("an issue without firstSeen needs last_seen")
        default = None if first_seen is None else first_seen + timedelta(minutes=1)
        last_seen = fields.pop("last_seen", default)
        issue = FakeIssue(str(next(self._ids)), title, first_seen, last_seen, **fields)  # type: ignore[arg-type]
        self.issues.append(issue)
        return issue

    def issue_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/issues/")]

    def _answer(self, request: Request) -> Reply:
        if self.failures:
            return self.failures.pop(0)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_reply({"detail": "Invalid token"}, 401)
        if request.path == f"/api/0/projects/{ORG}/{PROJECT}/":
            return json_reply({"id": PROJECT_ID, "slug": PROJECT, "name": "raxx-backend"})
        if request.path == f"/api/0/organizations/{ORG}/":
            return json_reply(
                {"id": "1147", "slug": ORG, "name": "Raxx", "status": {"id": "active"}}
            )
        if request.path == f"/api/0/projects/{ORG}/{PROJECT}/environments/":
            return json_reply(
                [
                    {"id": str(n), "name": name, "isHidden": False}
                    for n, name in enumerate(self.environments, start=1)
                ]
            )
        if request.path == f"/api/0/organizations/{ORG}/issues/":
            return self._issues(request)
        return json_reply({"detail": "The requested resource does not exist"}, 404)

    def _issues(self, request: Request) -> Reply:
        q = {k: v[0] for k, v in request.query.items()}
        if q.get("project") != PROJECT_ID:
            return json_reply({"detail": "Invalid project parameter"}, 400)
        start, end = _parse(q["start"]), _parse(q["end"])
        found = [
            i
            for i in self.issues
            if q.get("environment") in i.environments
            and (q.get("query") != "is:unresolved" or i.status == "unresolved")
            and i.last_seen >= start
            and (i.first_seen or i.last_seen) <= end
        ]
        if q.get("sort") == "new":
            found.sort(key=lambda i: i.first_seen or i.last_seen, reverse=True)
        limit = int(q.get("limit", "100"))
        offset = int(q.get("cursor", "0:0:0").split(":")[1])
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        return json_reply([i.api() for i in page], Link=self._link(request, q, offset, limit, more))

    def _link(
        self, request: Request, q: dict[str, str], offset: int, limit: int, more: bool
    ) -> str:
        def url(cursor: str) -> str:
            params = "&".join(
                f"{k}={v}" for k, v in {**q, "cursor": cursor}.items() if k != "cursor"
            )
            return f"{self.url}{request.path}?{params}&cursor={cursor}"

        previous = f"0:{max(offset - limit, 0)}:1"
        following = f"0:{offset + limit}:0"
        return (
            f'<{url(previous)}>; rel="previous"; results="{str(offset > 0).lower()}";'
            f' cursor="{previous}", <{url(following)}>; rel="next";'
            f' results="{str(more).lower()}"; cursor="{following}"'
        )


def _iso(at: datetime) -> str:
    """Sentry's form: `2026-05-16T14:35:10.123000Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
