"""Every row of `watcher doctor`, in docs/commands.md's order, and the exit code they make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from watcher.doctor import heroku, local, services, slack
from watcher.doctor.rows import Context, Outcome, Row

# Each entry gives one or more rows; they run side by side, each call under its own timeout.
SECTIONS: tuple[Callable[[Context], list[Row]], ...] = (
    heroku.rows,
    lambda ctx: [services.healthz_row(ctx)],
    lambda ctx: [local.database_row(ctx)],
    lambda ctx: [services.sentry_row(ctx)],
    slack.rows,
    lambda ctx: [local.state_row(ctx)],
    lambda ctx: [services.alertmanager_row(ctx)],
    lambda ctx: [services.pushgateway_row(ctx)],
    lambda ctx: [services.cutover_row(ctx)],
)
# A SKIP among these leaves the watch without an integration it needs: exit 1.
ESSENTIAL = ("heroku.", "data_api", "sentry", "slack.", "database")


@dataclass(frozen=True)
class Diagnosis:
    rows: Sequence[Row]

    @property
    def exit_code(self) -> int:
        """2 when a row fails; 1 when only SKIPs remain among the essential ones; else 0."""
        if any(r.result is Outcome.FAIL for r in self.rows):
            return 2
        if any(r.result is Outcome.SKIP and r.name.startswith(ESSENTIAL) for r in self.rows):
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        return {"rows": [r.to_json() for r in self.rows], "exit_code": self.exit_code}


def examine(ctx: Context) -> Diagnosis:
    """Run every section at once; a section that raised is a FAIL row, never a crash."""
    with ThreadPoolExecutor(max_workers=len(SECTIONS)) as pool:
        futures = [pool.submit(section, ctx) for section in SECTIONS]
        rows: list[Row] = []
        for number, future in enumerate(futures):
            try:
                rows.extend(future.result())
            except Exception as exc:  # a bug in a row must not hide the others
                rows.append(
                    Row(
                        f"section {number + 1}",
                        Outcome.FAIL,
                        f"the check itself failed: {type(exc).__name__}",
                        "report this as a bug of cutover-watcher",
                    )
                )
    return Diagnosis(rows)
