"""The real Prometheus (and the process handling its siblings share) for the tests.

Debian's `prometheus`, `prometheus-alertmanager` and `prometheus-pushgateway` packages provide the
binaries; scripts/setup installs them. Each server runs on a free 127.0.0.1 port with its files in
a temporary directory, is ready once `/-/ready` answers 200, and is stopped on exit.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 20.0
# Binding to a port another process took between our probe and the server's bind fails the
# start; a few attempts make that race harmless.
_START_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str) -> str:
    """The path of a server binary; a missing one fails the test (CI installs it)."""
    # Debian puts them in /usr/bin, which a trimmed PATH may lack.
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if found is None:
        raise RuntimeError(f"{name} not found: run scripts/setup, which installs it")
    return found


def _client(base_url: str) -> httpx.Client:
    # trust_env=False: a proxy from the environment must never see loopback test traffic.
    return httpx.Client(base_url=base_url, timeout=5.0, trust_env=False)


class Daemon:
    """One server process on 127.0.0.1; `args(port, workdir)` builds its command line."""

    def __init__(self, name: str, args: Callable[[int, Path], list[str]]) -> None:
        self.name = name
        self._args = args
        self._workdir = tempfile.TemporaryDirectory(prefix=f"watcher-{name}-")
        self.workdir = Path(self._workdir.name)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the server printed, for failure messages."""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start(self) -> None:
        command = binary(self.name)
        for _ in range(_START_ATTEMPTS):
            self.port = free_port()
            with (self.workdir / "server.log").open("wb") as log:
                self._process = subprocess.Popen(
                    [command, *self._args(self.port, self.workdir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                )
            if self._wait_ready():
                return
            if "address already in use" not in self.log():
                break
        printed = self.log()
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready on 127.0.0.1:{self.port}: {printed}")

    def _wait_ready(self) -> bool:
        """Poll `/-/ready` until 200; False when the process exits or time runs out."""
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with _client(self.url) as http:
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    if http.get("/-/ready", timeout=1.0).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        self._workdir.cleanup()

    def get(self, path: str, **params: Any) -> httpx.Response:
        with _client(self.url) as http:
            return http.get(path, params=params)


@dataclass(frozen=True)
class ScrapeTarget:
    """One endpoint Prometheus scrapes every second."""

    address: str  # host:port
    metrics_path: str = "/metrics"
    bearer_token: str | None = None
    job: str = "watcher"


class Prometheus:
    """`prometheus` scraping `targets` every second, evaluating `rule_files`; a context manager."""

    def __init__(
        self, targets: Sequence[ScrapeTarget | str] = (), rule_files: Sequence[Path | str] = ()
    ) -> None:
        self.targets_config = [
            t if isinstance(t, ScrapeTarget) else ScrapeTarget(t) for t in targets
        ]
        self.rule_files = [Path(f).resolve() for f in rule_files]
        self._daemon = Daemon("prometheus", self._args)

    @property
    def url(self) -> str:
        return self._daemon.url

    def __enter__(self) -> Prometheus:
        self._daemon.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._daemon.stop()

    def _args(self, port: int, workdir: Path) -> list[str]:
        config = workdir / "prometheus.yml"
        # JSON is YAML: no YAML library needed.
        config.write_text(json.dumps(self._config()))
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]

    def _config(self) -> dict[str, Any]:
        jobs: dict[str, dict[str, Any]] = {}
        for target in self.targets_config:
            key = f"{target.job}{len(jobs)}" if target.job in jobs else target.job
            job: dict[str, Any] = {
                "job_name": key,
                "metrics_path": target.metrics_path,
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [target.address]}],
            }
            if target.bearer_token is not None:
                job["authorization"] = {"credentials": target.bearer_token}
            jobs[key] = job
        return {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(f) for f in self.rule_files],
            "scrape_configs": list(jobs.values()),
        }

    def _api(self, path: str, **params: str) -> Any:
        """The `data` of a `/api/v1` answer; raises on an error status."""
        answer = self._daemon.get(f"/api/v1/{path}", **params)
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path}: {answer.status_code} {answer.text[:500]}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result (vector samples: `metric` and `value`)."""
        data = self._api("query", query=expr)
        return list(data["result"]) if isinstance(data["result"], list) else [data["result"]]

    def wait_for_result(self, expr: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll `expr` until it returns something; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not (result := self.query(expr)):
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus: {expr} returned nothing in {timeout} s")
            time.sleep(0.2)
        return result

    def targets(self) -> list[dict[str, Any]]:
        """The active targets with `health` (`up`, `down`, `unknown`) and `lastError`."""
        return list(self._api("targets", state="active")["activeTargets"])

    def wait_for_target_up(self, timeout: float = 20.0) -> None:
        """Wait until every target was scraped successfully; fail with their errors."""
        deadline = time.monotonic() + timeout
        while True:
            targets = self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return
            if time.monotonic() > deadline:
                states = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
                raise AssertionError(f"Prometheus targets not up in {timeout} s: {states}")
            time.sleep(0.2)

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups."""
        return list(self._api("rules")["groups"])

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts of the rules, pending or firing."""
        return list(self._api("alerts")["alerts"])


def promtool_check_rules(paths: Sequence[Path | str]) -> subprocess.CompletedProcess[str]:
    """`promtool check rules`; its verdict is the return code, its reasons in stdout/stderr."""
    return subprocess.run(
        [binary("promtool"), "check", "rules", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
