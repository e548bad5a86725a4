"""The documentation's parts that the code decides: rendered from it, checked by a test.

`python -m watcher.cli.docs` rewrites every block between `<!-- begin NAME -->` and
`<!-- end NAME -->` markers: the checks table and the advice per finding (docs/checks.md), the
log pattern catalogue (docs/patterns.md), the gauges the checks feed (docs/metrics.md), and the
sample escalation from the Slack composer itself: as text in docs/alerts.md, and as the picture
the README shows (docs/escalation.svg).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from checks.logparse.log_patterns import (
    APP,
    PLANNED,
    PLANNED_WINDOW,
    RESTART_LOOP_COUNT,
    RESTART_LOOP_WINDOW,
    SIGTERM,
    Pattern,
    catalogue,
)
from checks.registry import Registry
from watcher.cli import sample_escalation

NO_SECTION = "\u2013"  # an en dash, as the docs' tables show "none"
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def checks_table(checks: Registry) -> str:
    """One row per check: name, SOP sections, what it looks at, CRITICAL, WARNING."""
    rows = [
        "| check | SOP | what it looks at | CRITICAL | WARNING |",
        "|---|---|---|---|---|",
    ]
    for check in checks:
        doc = check.doc
        cells = [f"`{check.name}`", check.sop, doc.source, doc.critical, doc.warning]
        rows.append(("| " + " | ".join(cells) + " |").replace("|  |", "| |"))
    return "\n".join(rows)


def advice_table(checks: Registry) -> str:
    """One row per finding kind a check gives advice for: when it fires, the SOP, the step."""
    rows = ["| finding | fires | runbook | next step |", "|---|---|---|---|"]
    for check in checks:
        for prefix, advice in check.advice:
            if prefix == "":
                finding = f"`{check.name}.*` (any other)"
            elif prefix.endswith("_"):
                finding = f"`{check.name}.{prefix}*`"
            else:
                finding = f"`{check.name}.{prefix}`"
            fires = "after `WATCHER_FIRE_AFTER`" if prefix in check.transport else "at once"
            if prefix == "":
                # The kinds no prefix names fall here; the transport-type ones wait.
                named = [p for p, _ in check.advice if p]
                waiting = sorted(k for k in check.transport if not k.startswith(tuple(named)))
                if waiting:
                    kinds = ", ".join(f"`{k}`" for k in waiting)
                    fires = f"{kinds} after `WATCHER_FIRE_AFTER`; others at once"
            rows.append(f"| {finding} | {fires} | {advice.sop} | {advice.next_step} |")
    return "\n".join(rows)


def _matches(pattern: Pattern) -> str:
    if pattern.id == "restart_loop":
        minutes = int(RESTART_LOOP_WINDOW / timedelta(minutes=1))
        seconds = int(PLANNED_WINDOW.total_seconds())
        planned = "`/`".join(PLANNED)
        return (
            f"{RESTART_LOOP_COUNT} or more `{SIGTERM}` of one dyno within {minutes} min, none"
            f" within {seconds} s after `{planned}` of that dyno"
        )
    return ", ".join(f"`{needle}`" for needle in pattern.needles)


def _applies_to(pattern: Pattern) -> str:
    if pattern.only:
        return ", ".join(f"`{source}[{dyno}]`" for source, dyno in pattern.only) + " lines"
    return "app lines" if pattern.source == APP else "platform lines"


def patterns_table() -> str:
    """The catalogue, one row per pattern, as `checks/log_patterns.py` declares it."""
    rows = ["| id | matches | state | SOP | applies to | means |", "|---|---|---|---|---|---|"]
    for p in catalogue("<WATCHER_APP_ROLE>"):
        sop = NO_SECTION if p.sop == "-" else p.sop
        cells = [f"`{p.id}`", _matches(p), p.state.name, sop, _applies_to(p), p.means]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def gauges_table(checks: Registry) -> str:
    """One row per gauge a check feeds: the metric, its labels, the check and its meaning."""
    rows = ["| metric | check | meaning |", "|---|---|---|"]
    for check, spec in checks.gauges():
        labels = ",".join(f'{name}="{value}"' for name, value in spec.labels)
        name = f"{spec.name}{{{labels}}}" if labels else spec.name
        rows.append(f"| `{name}` | `{check}` | {spec.help} |")
    return "\n".join(rows)


def blocks(checks: Registry) -> dict[Path, dict[str, Callable[[], str]]]:
    """Every generated block, by file and marker name."""
    return {
        DOCS / "checks.md": {
            "checks table": lambda: checks_table(checks),
            "advice table": lambda: advice_table(checks),
        },
        DOCS / "patterns.md": {"patterns table": patterns_table},
        DOCS / "alerts.md": {"escalation sample": sample_escalation.as_text},
        DOCS / "metrics.md": {"gauges table": lambda: gauges_table(checks)},
    }


def files() -> dict[Path, Callable[[], str]]:
    """Whole files the code writes: the picture of a sample escalation."""
    return {DOCS / "escalation.svg": sample_escalation.as_svg}


def render(text: str, generated: dict[str, Callable[[], str]]) -> str:
    """`text` with every generated block replaced by what the code says now."""
    for name, make in generated.items():
        begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
        found = re.search(re.escape(begin) + ".*?" + re.escape(end), text, re.DOTALL)
        if found is None:
            raise ValueError(f"no {begin} ... {end}")
        text = f"{text[: found.start()]}{begin}\n{make()}\n{end}{text[found.end() :]}"
    return text


def main() -> int:
    for path, generated in blocks(Registry.default()).items():
        path.write_text(render(path.read_text(), generated))
    for path, make in files().items():
        path.write_text(make())
    return 0


if __name__ == "__main__":
    sys.exit(main())
