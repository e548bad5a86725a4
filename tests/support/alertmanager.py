"""The real Alertmanager for the tests: alerts the watcher posts can be listed back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.prometheus import Daemon

# Every alert goes to a receiver that sends nothing anywhere; short waits so a group forms fast.
_CONFIG = {
    "route": {
        "receiver": "null",
        "group_by": ["alertname"],
        "group_wait": "1s",
        "group_interval": "1s",
        "repeat_interval": "1h",
    },
    "receivers": [{"name": "null"}],
}


class Alertmanager:
    """`prometheus-alertmanager` on a free loopback port, gossip off; a context manager."""

    def __init__(self) -> None:
        self._daemon = Daemon("prometheus-alertmanager", self._args)

    @property
    def url(self) -> str:
        return self._daemon.url

    def __enter__(self) -> Alertmanager:
        self._daemon.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._daemon.stop()

    def _args(self, port: int, workdir: Path) -> list[str]:
        config = workdir / "alertmanager.yml"
        config.write_text(json.dumps(_CONFIG))  # JSON is YAML
        return [
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Empty disables clustering: no gossip port, no peers to wait for.
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def alerts(self, active: bool = True, **labels: str) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts` with the API's `active` flag, filtered by exact label values.

        Alertmanager lists no resolved alert (one whose `endsAt` passed): it drops out at once.
        """
        matchers = [f'{name}="{value}"' for name, value in labels.items()]
        answer = self._daemon.get("/api/v2/alerts", active=str(active).lower(), filter=matchers)
        answer.raise_for_status()
        return list(answer.json())
