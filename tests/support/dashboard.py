"""The PromQL of the Grafana dashboard, as queries a real Prometheus can run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "cutover-watcher.json"

# Grafana fills these in at query time. 1m spans at least two scrapes at the usual 15-30 s
# interval, as $__rate_interval would; the range is short so a fresh Prometheus has data.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "1m", "__range": "5m"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def panels(path: Path | str = DASHBOARD) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    stack = list(json.loads(Path(path).read_text(encoding="utf-8"))["panels"])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        yield panel


def _concrete(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in GRAFANA_VARIABLES:
            # A new variable needs a value here, or the queries would not run.
            raise ValueError(f"dashboard query uses ${name}, which has no concrete value: {expr}")
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(value, expr)


def dashboard_queries(path: Path | str = DASHBOARD) -> list[str]:
    """Every panel query's expr, Grafana variables replaced by concrete durations."""
    return [
        _concrete(target["expr"])
        for panel in panels(path)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
