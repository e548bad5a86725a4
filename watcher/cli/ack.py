"""`watcher ack [ID] [--by NAME] [--note TEXT]`: someone has the open incident
(docs/incidents.md).

Writes the state store only; the daemon (or the next `once --notify`) posts the reply and
edits the incident's top-level message. Reminders go on without the mention.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from watcher.cli import help as texts
from watcher.cli.common import NO_STORE, default_by, fail, one_line_errors

if TYPE_CHECKING:
    from checks.sources.clock import Clock
    from watcher.redact import Redactor
    from watcher.settings import Settings
    from watcher.store.incidents import IncidentRecord

NAME = "ack"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        NAME,
        help="acknowledge the open incident: its reminders stop pinging the on-call",
        **texts.described(texts.ACK, texts.ACK_EXIT),
    )
    parser.add_argument(
        "id", nargs="?", metavar="ID", help="an alert id (or a unique prefix) of the incident"
    )
    parser.add_argument("--by", metavar="NAME", help="who acknowledges (default: $USER, DYNO)")
    parser.add_argument("--note", metavar="TEXT", default="", help="a note posted with it")
    one_line_errors(parser)


def run(args: argparse.Namespace, settings: Settings, clock: Clock, redactor: Redactor) -> int:
    from watcher.store.state import StateStore, StateStoreError

    by = (args.by or default_by()).strip()
    if not by:
        return fail(NAME, "--by is empty")
    store = StateStore.from_url(settings.state_url.get_secret_value())
    try:
        if not store.exists():
            return fail(NAME, f"nothing to acknowledge: {NO_STORE}")
        incident = store.incidents.open()
        if incident is None:
            firing = [a.id for a in store.alerts.find(["firing"])]
            also = f" (alerts open on their own, which page no one: {', '.join(firing)})"
            return fail(
                NAME, "nothing to acknowledge: no incident is open" + (also if firing else "")
            )
        problem = _id_problem(args.id, incident)
        if problem is not None:
            return fail(NAME, problem)
        now = clock.now()
        wanted = incident.id

        def acknowledge(current: IncidentRecord | None) -> Any:
            from watcher.store.incidents import IncidentChange

            if current is None or current.id != wanted:
                return None  # closed meanwhile
            return IncidentChange(
                replace(
                    current,
                    # Posted to Slack: a secret pasted by mistake is masked first.
                    acknowledged_by=redactor(by),
                    acknowledged_at=now,
                    ack_note=redactor(args.note.strip()) or None,
                    ack_announced=False,
                )
            )

        if not store.incidents.update(now, acknowledge):
            return fail(NAME, "nothing to acknowledge: the incident closed meanwhile")
    except StateStoreError as exc:
        print(redactor(f"watcher ack: {exc}"), file=sys.stderr)
        return 3
    finally:
        store.close()
    alerts = ", ".join(m.alert_id for m in incident.firing)
    print(
        redactor(
            f"acknowledged incident {incident.id} ({alerts}) as {by}; the watcher posts it"
            " in the incident's thread at its next delivery"
        )
    )
    return 0


def _id_problem(wanted: str | None, incident: IncidentRecord) -> str | None:
    """Why ID does not name one alert of the open incident (None: it does, or none given)."""
    if wanted is None:
        return None
    open_ids = [m.alert_id for m in incident.firing]
    ids = [m.alert_id for m in incident.members]
    found = [i for i in ids if i == wanted] or [i for i in ids if i.startswith(wanted)]
    if len(found) == 1:
        return None
    what = "ambiguous" if found else "unknown"
    return f"{what} alert id {wanted!r}; open: {', '.join(open_ids) or 'none'}"
