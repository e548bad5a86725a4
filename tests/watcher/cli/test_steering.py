"""`watcher ack`, `watcher snooze` and `watcher status` (SPEC 4 and 9) in-process on a state store
the watcher writes (tests/support/steering.py): usage errors, the ids, the JSON, the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.clock import FakeClock
from tests.support.steering import (
    OUTAGE,
    Watcher,
    outage,
    report,
)
from watcher.cli.main import main


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["ack"], "nothing to acknowledge: no incident is open"),
        (["snooze", "nope", "--for", "1h", "--reason", "x"], "'nope' names no check"),
        (["snooze", "healthz.nope", "--for", "1h", "--reason", "x"], "names no finding kind"),
        (["snooze", "healthz", "--for", "5h", "--reason", "x"], "longer than WATCHER_SNOOZE_MAX"),
        (["snooze", "healthz", "--for", "soon", "--reason", "x"], "is not a duration"),
        (["snooze", "healthz", "--reason", "x"], "--for DURATION is missing"),
        (["snooze", "healthz", "--for", "1h", "--reason", "  "], "--reason is empty"),
        (["snooze", "--cancel", "healthz"], "no snooze of 'healthz' is in force"),
        (["snooze", "--list", "healthz"], "give one of TARGET"),
        (["snooze", "healthz", "--for"], "expected one argument"),
        (["ack", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_3_with_one_line(
    watcher: Watcher,
    argv: list[str],
    problem: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watcher.cycle([report("tables")])  # the store exists
    capsys.readouterr()
    with pytest.raises(SystemExit) if argv[-1] == "--for" else _no_raise() as raised:
        code = watcher.cli(*argv)
    if raised is not None:
        code = raised.value.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and problem in err, err


def test_ack_names_the_open_ids_when_the_id_is_unknown_or_ambiguous(
    watcher: Watcher, capsys: pytest.CaptureFixture[str]
) -> None:
    watcher.cycle(outage())
    capsys.readouterr()
    assert watcher.cli("ack", "pg_") == 0  # a unique prefix
    assert watcher.cli("ack", "x") == 3
    err = capsys.readouterr().err
    assert "unknown alert id 'x'; open: healthz.unhealthy, pg_connections.connections" in err


def test_status_json_shape(watcher: Watcher, capsys: pytest.CaptureFixture[str]) -> None:
    watcher.cycle(outage(), minutes=1)
    assert watcher.cli("snooze", "pg_activity", "--for", "1h", "--reason", "vacuum") == 0
    watcher.parts.watch().beat()  # type: ignore[union-attr]
    capsys.readouterr()
    assert watcher.cli("status", "--json") == 2
    data = json.loads(capsys.readouterr().out)
    assert {
        "t0",
        "phase",
        "gate",
        "incident",
        "snoozes",
        "checks",
        "outbox",
        "daemon_seen_at",
    } <= set(data)
    assert data["t0"] == "2026-05-16T14:48:42Z" and data["phase"] == "active"
    assert data["gate"]["open"] is False and data["gate"]["reasons"]
    assert data["incident"]["acknowledged_by"] is None
    assert [a["id"] for a in data["incident"]["alerts"]] == [f.id for _, f in OUTAGE]
    assert {a["state"] for a in data["incident"]["alerts"]} == {"CRITICAL"}
    assert data["snoozes"] == [
        {
            "target": "pg_activity",
            "until": "2026-05-16T15:49:42Z",
            "reason": "vacuum",
            "by": "alice",
        }
    ]
    assert data["outbox"] == {"pending": 0, "failed": []}
    assert data["daemon_seen_at"] == "2026-05-16T14:49:42Z" and data["daemon_running"] is True
    watcher.clock.advance(3 * 900)
    assert watcher.cli("status") == 2
    table = capsys.readouterr().out
    assert "NOT acknowledged" in table and "daemon: NOT running" in table


def test_status_never_creates_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATCHER_STATE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["status", "--json"], clock=FakeClock()) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "state store has not been created" in captured.err
    assert not (tmp_path / "none.db").exists()


def test_the_metrics_show_the_incident_and_the_snoozes(watcher: Watcher) -> None:
    assert watcher.parts is not None
    registry = watcher.parts.registry
    names = ("watcher_incident_open", "watcher_incident_acknowledged", "watcher_snoozes_active")
    assert [registry.get_sample_value(n) for n in names] == [0, 0, 0]  # from the first scrape
    watcher.cycle(outage(), minutes=1)
    assert watcher.cli("ack") == 0
    assert watcher.cli("snooze", "logs.", "--for", "1h", "--reason", "restart") == 0
    watcher.deliver()
    assert [registry.get_sample_value(n) for n in names] == [1, 1, 1]


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False
