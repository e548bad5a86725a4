"""`watcher rehearse [--incident NAME] [--seconds N]`: a labelled drill through the real pipeline.

The notices go into the state store's outbox and out through the configured channels, as the
daemon's do: a top-level post with the mention, a reminder in its thread, then the resolve (a
reply, and the post updated), `--seconds` apart in all. No alert is kept for them, so the
watch's gate, record, report and metrics never see a rehearsal (docs/before-t0.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from checks.sources.clock import Clock
from watcher.alerting.rehearsal import Rehearsed, rehearsed
from watcher.notify.notices import Notice
from watcher.notify.notifier import Notifier
from watcher.redact import Redactor
from watcher.settings import Settings
from watcher.store.outbox import FAILED, QUEUED, SENT, SKIPPED, Message
from watcher.store.state import StateStore, StateStoreError

EXIT_OK, EXIT_UNKNOWN = 0, 3
SLACK = "slack"


@dataclass(frozen=True)
class Undelivered(Exception):
    """A step that did not reach its channel: why, and what fixes it."""

    step: str
    reason: str
    fix: str


def rehearse(
    settings: Settings,
    clock: Clock,
    redactor: Redactor,
    incident: str | None,
    seconds: float,
) -> int:
    """Run the drill; 0 when every step was delivered, else 3 with the reason and the fix."""
    from watcher.parts import Parts

    drill = rehearsed(incident, settings.app_role, clock)
    parts = Parts(settings, clock, redactor)
    try:
        _Drill(parts.store, parts.notifier, clock, settings, drill).run(seconds)
    except Undelivered as exc:
        print(
            redactor(
                f"watcher rehearse: {exc.step} was not delivered: {exc.reason}; fix: {exc.fix}"
            ),
            file=sys.stderr,
        )
        return EXIT_UNKNOWN
    except StateStoreError as exc:
        print(redactor(f"watcher rehearse: {exc}"), file=sys.stderr)
        return EXIT_UNKNOWN
    finally:
        parts.close()
    print("watcher rehearse: every step was delivered; the rehearsal is resolved")
    return EXIT_OK


class _Drill:
    def __init__(
        self,
        store: StateStore,
        notifier: Notifier,
        clock: Clock,
        settings: Settings,
        drill: Rehearsed,
    ) -> None:
        self._store, self._notifier, self._clock = store, notifier, clock
        self._settings, self._drill = settings, drill
        # How long one step may take to get through (retries of a 429 or a 5xx included).
        self._patience = max(10.0, settings.slack_timeout)

    def run(self, seconds: float) -> None:
        drill = self._drill
        fired = self._clock.now()
        channels = self._notifier.route(drill.fired())
        where = " and ".join(channels)
        posts = self._send(
            "the top-level post", [Message("post", drill.fired(), c) for c in channels]
        )
        slack_post = posts.get(SLACK)
        _say(f"1/3 posted REHEARSAL {drill.alert_id} ({drill.severity}) to {where}")
        self._clock.sleep(seconds / 2)
        now = self._clock.now()
        self._send(
            "the reminder",
            [Message("reply", drill.reminder(fired, now), SLACK, parent_id=slack_post)],
        )
        _say("2/3 reminded in its thread")
        self._clock.sleep(seconds / 2)
        now = self._clock.now()
        resolve = [
            Message("reply", drill.resolved(fired, now), SLACK, parent_id=slack_post),
            *(
                Message("update", drill.resolved_original(now), c, parent_id=posts.get(c))
                for c in channels
                if self._wants(c, drill.resolved_original(now))
            ),
        ]
        self._send("the resolve", resolve)
        _say(f"3/3 resolved: a reply in the thread, the post updated ({where})")

    def _wants(self, channel: str, notice: Notice) -> bool:
        transport = self._notifier.transport(channel)
        return transport is not None and transport.wants(notice)

    def _send(self, step: str, messages: Sequence[Message]) -> dict[str, int]:
        """Queue the step's messages and deliver them; their ids by channel."""
        ids = self._store.outbox.enqueue(messages, self._clock.now())
        deadline = self._clock.monotonic() + self._patience
        while True:
            self._notifier.deliver(budget=self._patience)
            items = [self._store.outbox.message(i) for i in ids]
            failed = [i for i in items if i is not None and i.status == FAILED]
            if failed:
                reason = failed[0].last_error or "failed"
                transport = self._notifier.transport(failed[0].channel)
                fix = transport.fix_for(reason) if transport else "configure the channel"
                raise Undelivered(step, reason, fix)
            if all(i is not None and i.status in (SENT, SKIPPED) for i in items):
                return {m.channel: i for m, i in zip(messages, ids, strict=True)}
            waiting = [i for i in items if i is not None and i.status == QUEUED]
            due = self._notifier.delivery.next_due()
            if self._clock.monotonic() >= deadline or due is None:
                reason = (waiting[0].last_error if waiting else None) or "still queued"
                raise Undelivered(
                    step,
                    f"not delivered within {self._patience:g} s ({reason})",
                    "see the reason; run watcher doctor for the Slack rows",
                )
            wait = (due - self._clock.now()).total_seconds()
            self._clock.sleep(min(max(wait, 0.1), deadline - self._clock.monotonic()))


def _say(line: str) -> None:
    print(f"watcher rehearse: {line}", flush=True)
