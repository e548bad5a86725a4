"""The Sentry Web API as the `sentry` check reads it: the project's id, then its issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from checks.sources.clock import Clock
from checks.sources.http_api import Api, ApiError, json_body, retry_after_header
from checks.sources.times import parse_aware

NAME = "Sentry API"
PAGE_SIZE = 100


@dataclass(frozen=True)
class SentryConfig:
    """Where the issues are; `page_cap` bounds the pages one check reads."""

    base_url: str
    token: str
    org: str
    project: str
    environment: str
    page_cap: int = 10


@dataclass(frozen=True)
class IssuePages:
    """The issues read, how many requests that took, and whether the page cap cut it short."""

    issues: list[dict[str, Any]]
    requests: int
    truncated: bool


def sentry_retry_after(response: httpx.Response, now: datetime) -> float | None:
    """`Retry-After` if present, else the wait until `X-Sentry-Rate-Limit-Reset` (epoch s)."""
    asked = retry_after_header(response, now)
    if asked is not None:
        return asked
    reset = response.headers.get("x-sentry-rate-limit-reset", "")
    try:
        return max(0.0, float(reset) - now.timestamp())
    except ValueError:
        return None


class SentryApi:
    """Reads one project's issues; the project's numeric id is resolved once and kept."""

    def __init__(self, http: httpx.Client, config: SentryConfig, clock: Clock) -> None:
        self._config = config
        self._api = Api(
            NAME, http, clock, {"Authorization": f"Bearer {config.token}"}, sentry_retry_after
        )
        self._project_id: str | None = None
        self._origin = urlsplit(config.base_url)[:2]

    def project_id(self, deadline: float) -> str:
        """The numeric id the organization issues endpoint wants for `project`."""
        if self._project_id is None:
            org, project = quote(self._config.org, safe=""), quote(self._config.project, safe="")
            response = self._get(f"/api/0/projects/{org}/{project}/", None, deadline, "project")
            body = json_body(response, NAME)
            project_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(project_id, str | int) or not str(project_id).isdigit():
                raise ApiError(f"{NAME}: the project answer has no numeric id")
            self._project_id = str(project_id)
        return self._project_id

    def new_unresolved(self, since: datetime, until: datetime, deadline: float) -> IssuePages:
        """Unresolved issues with events since `since`, newest first, until one is older."""
        sent_before = self._api.sent
        params: dict[str, str] | None = {
            "project": self.project_id(deadline),
            "environment": self._config.environment,
            "query": "is:unresolved",
            "start": since.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": until.strftime("%Y-%m-%dT%H:%M:%S"),
            "sort": "new",
            "limit": str(PAGE_SIZE),
        }
        url = f"/api/0/organizations/{quote(self._config.org, safe='')}/issues/"
        issues: list[dict[str, Any]] = []
        for _ in range(self._config.page_cap):
            response = self._get(url, params, deadline, "issues")
            batch = json_body(response, NAME)
            if not isinstance(batch, list) or not all(_is_issue(i) for i in batch):
                raise ApiError(f"{NAME}: the issues answer is not a list of issues with an id")
            issues.extend(batch)
            next_url = _next_page(response)
            # sort=new is newest first-seen first: once a page reaches back past `since`,
            # later pages hold only older issues.
            if next_url is None or _reaches_before(batch, since):
                return IssuePages(issues, self._api.sent - sent_before, False)
            url, params = self._same_origin(next_url), None
        return IssuePages(issues, self._api.sent - sent_before, True)

    def _get(
        self, url: str, params: dict[str, str] | None, deadline: float, what: str
    ) -> httpx.Response:
        full = url if url.startswith("http") else self._config.base_url.rstrip("/") + url
        try:
            return self._api.request("GET", full, deadline, params=params)
        except ApiError as exc:
            raise ApiError(self._explain(exc, what), exc.status) from None

    def _explain(self, exc: ApiError, what: str) -> str:
        org, project = self._config.org, self._config.project
        if exc.status == 401:
            return (
                f"{NAME} rejected SENTRY_AUTH_TOKEN (401): set a valid token with scope event:read"
            )
        if exc.status == 403:
            return (
                f"{NAME} refused SENTRY_AUTH_TOKEN (403): it needs scopes event:read and"
                f" project:read in organization {org!r}"
            )
        if exc.status == 404 and what == "project":
            return (
                f"{NAME}: project {project!r} not found in organization {org!r} (404):"
                " check WATCHER_SENTRY_ORG and WATCHER_SENTRY_PROJECT"
            )
        if exc.status == 404:
            return f"{NAME}: organization {org!r} not found (404): check WATCHER_SENTRY_ORG"
        return str(exc)

    def _same_origin(self, url: str) -> str:
        # The bearer token goes with every request: never follow a link to another host.
        if urlsplit(url)[:2] != self._origin:
            raise ApiError(f"{NAME}: the next-page link points to another host; not followed")
        return url


def _next_page(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    if not link or link.get("results") != "true":
        return None
    return link.get("url")


def _is_issue(item: object) -> bool:
    # `firstSeen` may be null (Sentry's models allow it): the check judges such an issue by
    # `lastSeen`, so only the id is required here.
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | int)
        and not isinstance(item.get("id"), bool)
    )


def _reaches_before(batch: list[dict[str, Any]], since: datetime) -> bool:
    seen = [parse_aware(i.get("firstSeen")) for i in batch]
    return any(t is not None and t < since for t in seen)
