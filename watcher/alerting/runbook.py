"""What the runbook (RM-10) says to do about each alert: its section and the next step.

The advice per finding is declared by each check (`checks/<name>.py`); this adds the watcher's
own alert, "the watch is blind on X".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.check import Advice
from checks.registry import Registry

BLIND_SUFFIX = ".blind"
BLIND = Advice("7", "the watch cannot see this source: fix what the summary names")


@dataclass(frozen=True)
class Runbook:
    """The advice for every alert id of the registry's checks."""

    checks: Registry = field(default_factory=Registry.default)

    def advice(self, alert_id: str) -> Advice:
        """The runbook's advice for a finding id (or `<check>.blind`)."""
        if alert_id.endswith(BLIND_SUFFIX):
            return BLIND
        return self.checks.advice(alert_id)
