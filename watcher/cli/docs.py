"""The README's tables that the check registry decides: rendered from it, checked by a test.

`python -m watcher.cli.docs` rewrites the tables between their markers in README.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from checks.registry import Registry

README = Path(__file__).resolve().parents[2] / "README.md"


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


def gauges_table(checks: Registry) -> str:
    """One row per gauge a check feeds: the metric, its labels, the check and its meaning."""
    rows = ["| metric | check | meaning |", "|---|---|---|"]
    for check, spec in checks.gauges():
        labels = ",".join(f'{name}="{value}"' for name, value in spec.labels)
        name = f"{spec.name}{{{labels}}}" if labels else spec.name
        rows.append(f"| `{name}` | `{check}` | {spec.help} |")
    return "\n".join(rows)


def render(text: str, checks: Registry) -> str:
    """`text` with every generated table replaced by the registry's."""
    for name, table in (("checks", checks_table(checks)), ("gauges", gauges_table(checks))):
        begin, end = f"<!-- begin {name} table -->", f"<!-- end {name} table -->"
        found = re.search(re.escape(begin) + ".*?" + re.escape(end), text, re.DOTALL)
        if found is None:
            raise ValueError(f"no {begin} ... {end} in the README")
        text = f"{text[: found.start()]}{begin}\n{table}\n{end}{text[found.end() :]}"
    return text


def main() -> int:
    text = README.read_text()
    README.write_text(render(text, Registry.default()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
