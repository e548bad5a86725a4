"""The real Pushgateway for the tests: what a push left there, as Prometheus would scrape it."""

from __future__ import annotations

from pathlib import Path

from tests.support.prometheus import Daemon


class Pushgateway:
    """`prometheus-pushgateway` on a free loopback port, in memory only; a context manager."""

    def __init__(self) -> None:
        self._daemon = Daemon("prometheus-pushgateway", self._args)

    @property
    def url(self) -> str:
        return self._daemon.url

    @property
    def address(self) -> str:
        """`host:port`, as `push_to_gateway` takes it."""
        return self.url.removeprefix("http://")

    def __enter__(self) -> Pushgateway:
        self._daemon.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._daemon.stop()

    def _args(self, port: int, workdir: Path) -> list[str]:
        return [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]

    def metrics_text(self) -> str:
        """`GET /metrics`: the pushed groups plus the gateway's own metrics."""
        answer = self._daemon.get("/metrics")
        answer.raise_for_status()
        return answer.text
