"""`pg_info`: the database's status, connections and plan as Heroku reports them (SOP 7.2, 7.3).

What `heroku pg:info` shows, read from the Data API. Where the docs are silent:
- The add-on attached as DATABASE is resolved once and kept. A Data API 404 for a kept add-on
  resolves it again and asks once more (the add-on was replaced); a 404 for a freshly resolved
  one (not provisioned yet) or for the same one again is UNKNOWN, and the next check resolves
  again.
- `Status` missing, or with no value, is UNKNOWN: the check cannot tell whether the database
  is Available. Several values are joined; anything but `Available` is CRITICAL.
- `Connections` missing, empty or not `N/M` gives no connection finding; the summary says so
  (the status is still worth reporting). `M` of 0 is treated as no plan limit.
- `Plan` is compared without regard to case, spaces or dashes ("Standard 0", "standard-0");
  missing, the answer's `plan` field is used; neither gives no plan finding, and the summary
  says so.
- A summary with findings lists them, worst first, then the connections when no finding
  names them.
- Values echoed in summaries are cut to 40 characters, control characters replaced; nothing
  else of the answer (which carries the database's credentials) is ever shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from checks.check import GATE, Advice, Check, Doc, GaugeSpec, Need
from checks.result import CheckError, Finding, Observation, Result, State
from checks.sources.clock import Clock
from checks.sources.connection_limit import (
    ConnectionThresholds,
    effective_limit,
    evaluate_connections,
    thresholds_of,
)
from checks.sources.heroku_api import DATA, Attachment, HerokuApi
from checks.sources.http_api import ApiError

NAME = "pg_info"
SOP = "7.2, 7.3"
EXPECTED_STATUS = "Available"
EXPECTED_PLAN = "Standard 0"
# At most 9 digits: a longer number is no connection count, and would not convert to an int
# (over 4300 digits) or to a float (over 308) for the ratio and the metrics.
_CONNECTIONS = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")


@dataclass(frozen=True)
class Connections:
    """`Connections: N/M`: used now, and the plan's real limit."""

    used: int
    plan_limit: int | None


@dataclass(frozen=True)
class PgInfoObservation(Observation):
    """The database as Heroku reports it; connection numbers only when `N/M` was readable."""

    available: bool
    rate_limit_remaining: int | None = None
    connections: int | None = None
    connection_limit: int | None = None
    plan_connection_limit: int | None = None
    status: str | None = None
    plan: str | None = None


@dataclass(frozen=True)
class Answer:
    """The Data API's answer, and the Platform API's rate limit left after it."""

    info: dict[str, Any]
    rate_limit_remaining: int | None


class PgInfo:
    """The check, holding the DATABASE add-on it resolved so later checks skip that request."""

    def __init__(self, api: HerokuApi, clock: Clock) -> None:
        self.api = api
        self._clock = clock
        self._attachment: Attachment | None = None

    def check(self, thresholds: ConnectionThresholds, budget: float) -> Result:
        """Read the database's info and judge it against docs/checks.md."""
        answer = self.probe(budget)
        return evaluate(answer.info, thresholds, answer.rate_limit_remaining)

    def probe(self, budget: float) -> Answer:
        """Read the database's info (pg:info's) from the Data API."""
        deadline = self._clock.monotonic() + budget
        info = self._database_info(deadline)
        return Answer(info, self.api.rate_limit_remaining)

    def _database_info(self, deadline: float) -> dict[str, Any]:
        kept = self._attachment
        attachment = kept or self.api.postgres_attachment(deadline)
        self._attachment = attachment
        try:
            return self._read(attachment, deadline)
        except ApiError as exc:
            if exc.status != 404 or kept is None:
                raise
        # The kept add-on is gone: another is DATABASE now (a promoted follower). Ask once more.
        attachment = self.api.postgres_attachment(deadline)
        if attachment.addon_id == kept.addon_id:
            raise _not_found(attachment)
        self._attachment = attachment
        return self._read(attachment, deadline)

    def _read(self, attachment: Attachment, deadline: float) -> dict[str, Any]:
        try:
            return self.api.database_info(attachment.addon_id, deadline)
        except ApiError as exc:
            if exc.status == 404:
                self._attachment = None  # the next check resolves DATABASE again
                raise _not_found(attachment) from None
            raise


def _not_found(attachment: Attachment) -> ApiError:
    return ApiError(
        f"{DATA}: no database for add-on {attachment.addon_name} (404): not provisioned"
        " yet, or being replaced",
        404,
    )


def evaluate(
    answer: dict[str, Any], thresholds: ConnectionThresholds, rate_limit_remaining: int | None
) -> Result:
    """Findings from one Data API answer (its `info` entries)."""
    entries = _entries(answer)
    status_values = entries.get("status")
    if not status_values:
        raise CheckError(f"{DATA}: the answer has no Status: cannot tell if it is Available")
    status = ", ".join(status_values)
    available = status.strip().casefold() == EXPECTED_STATUS.casefold()
    observation = PgInfoObservation(available, rate_limit_remaining, status=status)
    findings: list[Finding] = []
    if not available:
        findings.append(
            Finding(
                f"{NAME}.status",
                State.CRITICAL,
                f"Status {_shown(status)} (expected {EXPECTED_STATUS}):"
                " STOP: wait for Heroku support (runbook 1.3); escalate (7.3)",
            )
        )
    plan_values = entries.get("plan")
    plan = plan_values[0] if plan_values else _plan_field(answer)
    if plan is not None and _normal(plan) != _normal(EXPECTED_PLAN):
        findings.append(
            Finding(
                f"{NAME}.plan",
                State.WARNING,
                f"plan {_shown(plan)} (expected {EXPECTED_PLAN}): upgrade to standard-0"
                " (runbook section 3)",
            )
        )
    connections = _connections(entries.get("connections"))
    if isinstance(connections, Connections):
        finding, connection_text = evaluate_connections(
            f"{NAME}.connections",
            connections.used,
            thresholds,
            connections.plan_limit,
            "plan",
            counted="as Heroku reports them",
        )
        findings += [finding] if finding else []
        counted = finding is not None
        observation = replace(
            observation,
            connections=connections.used,
            connection_limit=effective_limit(thresholds, connections.plan_limit),
            plan_connection_limit=connections.plan_limit,
        )
    else:
        connection_text, counted = connections, False
    plan_text = _clean(plan) if plan is not None else "plan not reported"
    ok = f"{plan_text}, {_clean(status)}, {connection_text}"
    result = Result.from_findings(findings, ok, replace(observation, plan=plan))
    if findings and not counted:
        # A status or plan finding alone would hide the connections the operator also watches.
        result = replace(result, summary=f"{result.summary}; {connection_text}")
    return result


def _entries(answer: dict[str, Any]) -> dict[str, list[str]]:
    """`info` as name (lower case) -> values; the first entry of a name wins."""
    info = answer.get("info")
    if not isinstance(info, list):
        raise CheckError(f"{DATA}: the answer has no info list (is it pg:info's?)")
    entries: dict[str, list[str]] = {}
    for entry in info:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        values = entry.get("values")
        texts = [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
        entries.setdefault(entry["name"].strip().lower(), texts)
    return entries


def _connections(values: list[str] | None) -> Connections | str:
    """`N/M` parsed, or the reason there is no count for the summary."""
    if not values:
        return "connections not reported by Heroku"
    match = _CONNECTIONS.fullmatch(values[0])
    if match is None:
        return f"connections unreadable ({_shown(values[0])})"
    used, limit = int(match[1]), int(match[2])
    return Connections(used, limit or None)


def _plan_field(answer: dict[str, Any]) -> str | None:
    plan = answer.get("plan")
    return plan if isinstance(plan, str) and plan.strip() else None


def _normal(plan: str) -> str:
    return " ".join(plan.replace("-", " ").replace("_", " ").casefold().split())


def _clean(value: str) -> str:
    """An answer's value for a summary: cut, control characters replaced."""
    shown = "".join(c if c.isprintable() else "?" for c in value[:40])
    return f"{shown}..." if len(value) > 40 else shown


def _shown(value: str) -> str:
    return f"'{_clean(value)}'"


CONNECTIONS_ADVICE = Advice(
    "7.3", f"connections near the limit: find the pool leak; page the on-call; {GATE}"
)

CHECK = Check(
    name=NAME,
    sop=SOP,
    needs=(Need.HEROKU,),
    probe=lambda sources: PgInfo(sources.heroku(), sources.clock).probe(sources.budget),
    evaluate=lambda answer, sources: evaluate(
        answer.info, thresholds_of(sources.settings), answer.rate_limit_remaining
    ),
    advice=(
        (
            "status",
            Advice(
                "1.3, 7.3", f"Postgres is not Available: STOP and wait for Heroku support; {GATE}"
            ),
        ),
        (
            "plan",
            Advice("1.3", "the database is not on Standard 0: check the plan the runbook assumes"),
        ),
        ("connections", CONNECTIONS_ADVICE),
    ),
    gauges=(
        GaugeSpec("watcher_pg_available", "1 if Heroku says Status: Available", "available"),
        GaugeSpec(
            "watcher_pg_connection_limit",
            "effective connection limit: ceiling or plan, the lower",
            "connection_limit",
        ),
        GaugeSpec(
            "watcher_pg_plan_connection_limit",
            "the plan's connection limit (Connections: N/M)",
            "plan_connection_limit",
        ),
        GaugeSpec(
            "watcher_pg_connections",
            "connections on the watched PostgreSQL",
            "connections",
            (("check", NAME),),
        ),
    ),
    doc=Doc(
        "Heroku Data API (what `heroku pg:info` shows)",
        "`Status` not `Available`; connections at or over 80% of the effective limit",
        "connections at or over 60%; plan other than Standard 0",
    ),
)
