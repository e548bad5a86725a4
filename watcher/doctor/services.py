"""healthz, sentry, alertmanager and pushgateway: each answers, as the watcher will ask it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import httpx

from checks import healthz
from checks.result import State
from checks.sources.http_api import Api, ApiError, json_body, transport_reason
from watcher.doctor.rows import Context, Row, fail, ok, skip

# What fixes a healthz finding, by its kind.
_HEALTHZ_FIXES = {
    "db_sqlite": "the app still uses SQLite: finish RM-10 4.8 (DATABASE_URL on the app, restart)",
    "db_unexpected": "the app names another database: check its DATABASE_URL and /healthz",
    "unhealthy": "the app says it is unhealthy: look at heroku logs for why",
    "maintenance": "maintenance mode is on: fine during the cutover, off before the watch starts",
    "http_status": "check WATCHER_HEALTHZ_URL is the app's /healthz",
    "bad_body": "check WATCHER_HEALTHZ_URL is the app's /healthz (it must answer JSON with db)",
    "unreachable": "check WATCHER_HEALTHZ_URL and that this machine reaches it",
    "timeout": "check WATCHER_HEALTHZ_URL; the app did not answer within WATCHER_CHECK_TIMEOUT",
}


def healthz_row(ctx: Context) -> Row:
    options = healthz.HealthzOptions(ctx.settings.healthz_url, timeout=ctx.timeout)
    result = healthz.evaluate(healthz.probe(ctx.http, options, ctx.clock), options)
    if result.state in (State.OK, State.WARNING):
        return ok("healthz", result.summary)
    critical = [f for f in result.findings if f.state == State.CRITICAL]
    kind = critical[0].id.partition(".")[2] if critical else ""
    t0 = ctx.settings.cutover_at
    if kind in ("db_sqlite", "db_unexpected") and t0 is not None and ctx.clock.now() < t0:
        # Before T0 the app has not been switched yet: right now, that is as it should be.
        return ok("healthz", f"{result.summary}; as expected before T0, must say postgresql after")
    return fail("healthz", result.summary, _HEALTHZ_FIXES.get(kind, "check WATCHER_HEALTHZ_URL"))


def sentry_row(ctx: Context) -> Row:
    settings = ctx.settings
    if settings.sentry_auth_token is None:
        return skip("sentry", "SENTRY_AUTH_TOKEN")
    if not settings.sentry_org:
        return skip("sentry", "WATCHER_SENTRY_ORG")
    token = settings.sentry_auth_token.get_secret_value()
    api = Api("Sentry API", ctx.http, ctx.clock, {"Authorization": f"Bearer {token}"})
    org, project = settings.sentry_org, settings.sentry_project
    base = f"{settings.sentry_api_url.rstrip('/')}/api/0"
    org_path, project_path = quote(org, safe=""), quote(project, safe="")
    steps = (
        ("organization", f"{base}/organizations/{org_path}/"),
        ("project", f"{base}/projects/{org_path}/{project_path}/"),
        ("environments", f"{base}/projects/{org_path}/{project_path}/environments/"),
    )
    answers: dict[str, object] = {}
    for what, url in steps:
        try:
            answers[what] = json_body(api.request("GET", url, ctx.deadline()), api.name)
        except ApiError as exc:
            return _sentry_failure(exc, what, org, project)
    project_answer = answers["project"]
    project_id = project_answer.get("id") if isinstance(project_answer, dict) else None
    environments = answers["environments"]
    names = (
        sorted(str(e.get("name")) for e in environments if isinstance(e, dict))
        if isinstance(environments, list)
        else []
    )
    wanted = settings.sentry_environment
    if wanted not in names:
        return fail(
            "sentry",
            f"project {project!r} knows no environment {wanted!r}"
            f" (it has: {', '.join(names) or 'none'})",
            "set WATCHER_SENTRY_ENVIRONMENT to the environment the app reports"
            " (the app's SENTRY_ENVIRONMENT)",
        )
    return ok(
        "sentry", f"organization {org}, project {project} (id {project_id}), environment {wanted}"
    )


def _sentry_failure(exc: ApiError, what: str, org: str, project: str) -> Row:
    if exc.status == 401:
        return fail(
            "sentry",
            "Sentry rejected SENTRY_AUTH_TOKEN (401)",
            "set SENTRY_AUTH_TOKEN to a token with scopes org:read, project:read and event:read",
        )
    if exc.status == 403:
        return fail(
            "sentry",
            f"Sentry refused the token for the {what} (403)",
            f"the token needs org:read, project:read and event:read in {org!r}",
        )
    if exc.status == 404 and what == "organization":
        return fail("sentry", f"organization {org!r} not found (404)", "check WATCHER_SENTRY_ORG")
    if exc.status == 404:
        return fail(
            "sentry",
            f"project {project!r} not found in {org!r} (404)",
            "check WATCHER_SENTRY_PROJECT (the project's slug)",
        )
    return fail(
        "sentry", f"{what}: {exc}", "check WATCHER_SENTRY_API_URL and that this machine reaches it"
    )


def alertmanager_row(ctx: Context) -> Row:
    url = ctx.settings.alertmanager_url
    if url is None:
        return skip("alertmanager", "WATCHER_ALERTMANAGER_URL", "optional; not configured")
    try:
        response = ctx.http.get(url.rstrip("/") + "/api/v2/status", timeout=ctx.timeout)
    except httpx.HTTPError as exc:
        return fail(
            "alertmanager",
            f"unreachable: {transport_reason(exc)}",
            "check WATCHER_ALERTMANAGER_URL",
        )
    if response.status_code != 200:
        return fail(
            "alertmanager",
            f"GET /api/v2/status answered HTTP {response.status_code}",
            "check WATCHER_ALERTMANAGER_URL is the Alertmanager's base URL (API v2)",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return fail(
            "alertmanager",
            "GET /api/v2/status is not Alertmanager's JSON",
            "check WATCHER_ALERTMANAGER_URL",
        )
    version = (body.get("versionInfo") or {}).get("version", "?")
    cluster = (body.get("cluster") or {}).get("status", "?")
    return ok("alertmanager", f"Alertmanager {version}, cluster {cluster}")


def pushgateway_row(ctx: Context) -> Row:
    url = ctx.settings.pushgateway_url
    if url is None:
        return skip("pushgateway", "WATCHER_PUSHGATEWAY_URL", "optional; not configured")
    base = url if "://" in url else f"http://{url}"
    try:
        response = ctx.http.get(base.rstrip("/") + "/-/ready", timeout=ctx.timeout)
    except httpx.HTTPError as exc:
        return fail(
            "pushgateway", f"unreachable: {transport_reason(exc)}", "check WATCHER_PUSHGATEWAY_URL"
        )
    if response.status_code != 200:
        return fail(
            "pushgateway",
            f"GET /-/ready answered HTTP {response.status_code}",
            "check WATCHER_PUSHGATEWAY_URL is the Pushgateway's base URL",
        )
    return ok("pushgateway", "GET /-/ready: ready")


def cutover_row(ctx: Context) -> Row:
    t0 = ctx.settings.cutover_at
    if t0 is None:
        return skip(
            "cutover_at",
            "WATCHER_CUTOVER_AT",
            "unset: the watch's T0 is when the daemon first starts",
        )
    now = ctx.clock.now()
    ahead = (t0 - now).total_seconds()
    shown = f"T0 {t0:%Y-%m-%d %H:%M:%S}Z"
    if ahead > 86400:
        return fail(
            "cutover_at",
            f"{shown} is more than a day ahead",
            "set WATCHER_CUTOVER_AT to the RM-10 4.8 restart time (UTC), on the day",
        )
    if ahead < -86400:
        return fail(
            "cutover_at",
            f"{shown} is more than 24 h ago: the watch would start finished",
            "set WATCHER_CUTOVER_AT to this cutover's 4.8 restart time (UTC)",
        )
    return ok("cutover_at", f"{shown} ({_relative(t0, now)})")


def _relative(t0: datetime, now: datetime) -> str:
    minutes = round(abs((t0 - now).total_seconds()) / 60)
    span = f"{minutes // 60} h {minutes % 60} min"
    return f"in {span}" if t0 > now else f"{span} ago"
