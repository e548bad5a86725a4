"""A new check is one module and one line: a check declared and registered here, in a few
lines, runs in `watcher once --json`, feeds its gauge and escalates with its own advice."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from checks.check import Advice, Check, Doc, GaugeSpec, Sources
from checks.registry import NAMES, Registry
from checks.result import Finding, Observation, Result, State
from tests.fakes import slack as slack_fake
from tests.fakes.slack import FakeSlack
from tests.support.clock import FakeClock
from watcher.cli import main as cli
from watcher.parts import Parts
from watcher.redact import Redactor
from watcher.settings import load_settings
from watcher.telemetry.metrics import Metrics

# -- the new check: what a module in checks/ would hold -------------------------------------


@dataclass(frozen=True)
class QueueObservation(Observation):
    depth: int


def probe(sources: Sources) -> int:
    return 42  # jobs waiting, as a real probe would read them from its source


def evaluate(depth: int, sources: Sources) -> Result:
    deep = [Finding("queue.deep", State.CRITICAL, f"{depth} jobs waiting")] if depth > 10 else []
    return Result.from_findings(deep, f"{depth} jobs waiting", QueueObservation(depth))


QUEUE = Check(
    name="queue",
    sop="7.1",
    probe=probe,
    evaluate=evaluate,
    advice=(("deep", Advice("7.1", "drain the job queue before the next deploy")),),
    gauges=(GaugeSpec("watcher_queue_depth", "jobs waiting in the queue", "depth"),),
    doc=Doc("the job queue", "over 10 jobs waiting"),
)

# -- the one line ---------------------------------------------------------------------------

CHECKS = Registry.default().with_checks(QUEUE)


def test_the_default_registry_declares_every_named_check_in_order() -> None:
    assert Registry.default().names == NAMES
    assert CHECKS.names == (*NAMES, "queue")


def test_the_new_check_is_in_once_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["once", "--json", "--check", "queue"], FakeClock(), CHECKS)
    data = json.loads(capsys.readouterr().out)
    assert code == 2
    (check,) = data["checks"]
    assert check["name"] == "queue" and check["sop"] == "7.1"
    assert check["metrics"] == {"depth": 42.0}
    assert check["findings"] == [
        {"id": "queue.deep", "state": "CRITICAL", "summary": "42 jobs waiting"}
    ]


def test_the_new_check_feeds_its_gauge_and_its_state() -> None:
    parts = Parts(load_settings(), FakeClock(), Redactor([]), CHECKS, CollectorRegistry())
    try:
        reports = parts.run_checks(["queue"])
    finally:
        parts.close()
    parts.metrics.observe(reports, FakeClock().now())
    value = parts.registry.get_sample_value
    assert value("watcher_queue_depth") == 42
    assert value("watcher_check_state", {"check": "queue"}) == 2


def test_a_registry_without_the_check_has_no_such_gauge() -> None:
    registry = CollectorRegistry()
    Metrics(registry, "0.1.0")
    assert registry.get_sample_value("watcher_queue_depth") is None


def test_the_new_check_escalates_with_its_own_advice(
    monkeypatch: pytest.MonkeyPatch, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack_fake.TOKEN)
    monkeypatch.setenv("WATCHER_SLACK_API_URL", slack.api_url)
    code = cli.main(["once", "--json", "--notify", "--check", "queue"], FakeClock(), CHECKS)
    data = json.loads(capsys.readouterr().out)
    assert (code, data["notifications"]["sent"]) == (2, 1)
    (posted,) = slack.top_level()
    assert "`queue.deep`" in json.dumps(posted.blocks)
    assert "RM-10 7.1: drain the job queue before the next deploy" in (posted.text or "")
