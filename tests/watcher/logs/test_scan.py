"""`watcher scan` end to end, and the chunk reader under it."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.heroku_log import lines
from checks.logparse.log_patterns import LogMatcher, catalogue
from checks.logparse.log_tally import LogTally
from tests.conftest import LOOPBACK_DEFAULTS
from watcher.logs.scan import scan, windows

ROOT = Path(__file__).resolve().parents[3]
T = "2026-05-16T14:31:02.114233+00:00"
LOG = "".join(
    line + "\n"
    for line in (
        f"{T} app[web.1]: GET /healthz 200",
        f"{T} app[web.1]: psycopg2.errors.InsufficientPrivilege: permission denied for table historical_bars",
        f"{T} app[web.2]: sqlalchemy.exc.OperationalError: server closed the connection unexpectedly",
        f'{T} heroku[router]: at=info method=GET path="/OperationalError" host=api.raxx.app status=404',
        f"{T} app[worker.1]: permission denied for table users (the watcher quoting a match)",
        "2026-05-16T15:01:00.000000+00:00 app[web.1]: permission denied for table users",
    )
)


def watcher(
    *args: str, stdin: bytes | None = None, cwd: Path, **env: str
) -> subprocess.CompletedProcess[bytes]:
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **LOOPBACK_DEFAULTS, **env}
    return subprocess.run(
        [sys.executable, "-m", "watcher", "scan", *args],
        input=stdin,
        capture_output=True,
        env=base,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_json_lists_every_pattern_with_counts(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text(LOG)
    done = watcher("app.log", "--json", cwd=tmp_path, DYNO="worker.1")
    assert done.returncode == 2
    data = json.loads(done.stdout)
    assert set(data) == {"lines", "state", "exit_code", "patterns", "findings"}
    assert data["findings"] == []
    assert (data["lines"], data["state"], data["exit_code"]) == (6, "CRITICAL", 2)
    patterns = {p["id"]: p for p in data["patterns"]}
    assert len(patterns) == 12
    assert set(patterns["sqlite"]) == {"id", "state", "count", "first", "last", "sample"}
    assert patterns["permission_denied"] | {"sample": None} == {
        "id": "permission_denied",
        "state": "CRITICAL",
        "count": 2,
        "first": "2026-05-16T14:31:02Z",
        "last": "2026-05-16T15:01:00Z",
        "sample": None,
    }
    assert patterns["permission_denied"]["sample"].endswith("permission denied for table users")
    assert patterns["operational_error"]["count"] == 1  # not the router path
    assert patterns["sqlite"] == {
        "id": "sqlite",
        "state": "OK",
        "count": 0,
        "first": None,
        "last": None,
        "sample": None,
    }


def test_times_with_offsets_are_shown_in_utc(tmp_path: Path) -> None:
    # Dev Center, "Heroku Error Codes", H10 (stamped -07:00).
    h10 = (
        '2010-10-06T21:51:12-07:00 heroku[router]: at=error code=H10 desc="App crashed"'
        ' method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect='
        " service= status=503 bytes=\n"
    )
    (tmp_path / "app.log").write_text(h10)
    data = json.loads(watcher("app.log", "--json", cwd=tmp_path).stdout)
    crash = next(p for p in data["patterns"] if p["id"] == "crash")
    assert (crash["first"], crash["last"]) == ("2010-10-07T04:51:12Z", "2010-10-07T04:51:12Z")
    table = watcher("app.log", cwd=tmp_path).stdout.decode()
    assert "2010-10-07 04:51:12Z to 2010-10-07 04:51:12Z" in table.splitlines()[0]


def test_table_and_exit_code_for_warnings_only(tmp_path: Path) -> None:
    (tmp_path / "w.log").write_text(f"{T} heroku[web.1]: Error R14 (Memory quota exceeded)\n")
    done = watcher("w.log", cwd=tmp_path)
    assert done.returncode == 1
    text = done.stdout.decode()
    assert text.startswith("CUTOVER-WATCHER SCAN WARNING: 1 lines")
    assert "WARNING   memory" in text


def test_clean_log_exits_0(tmp_path: Path) -> None:
    (tmp_path / "ok.log").write_text(f"{T} app[web.1]: GET /healthz 200\n")
    assert watcher("ok.log", cwd=tmp_path).returncode == 0


def test_gzip_and_stdin_give_the_same_counts(tmp_path: Path) -> None:
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(LOG.encode()))
    from_gzip = json.loads(watcher("a.log.gz", "--json", cwd=tmp_path).stdout)
    from_stdin = json.loads(watcher("-", "--json", stdin=LOG.encode(), cwd=tmp_path).stdout)
    gz_stdin = json.loads(watcher("--json", stdin=gzip.compress(LOG.encode()), cwd=tmp_path).stdout)
    assert from_gzip == from_stdin == gz_stdin
    assert from_gzip["lines"] == 6


def test_missing_or_broken_file_exits_3(tmp_path: Path) -> None:
    done = watcher("nope.log", cwd=tmp_path)
    assert done.returncode == 3
    assert b"cannot read nope.log: No such file or directory" in done.stderr
    (tmp_path / "cut.gz").write_bytes(gzip.compress(LOG.encode())[:40])
    assert watcher("cut.gz", cwd=tmp_path).returncode == 3


def test_empty_log_and_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    assert json.loads(watcher("empty.log", "--json", cwd=tmp_path).stdout)["lines"] == 0
    (tmp_path / "bad.log").write_bytes(b"\xff\xfe app[web.1]: sqlite \xc3\x28\n")
    data = json.loads(watcher("bad.log", "--json", cwd=tmp_path).stdout)
    assert data["lines"] == 1 and data["state"] == "CRITICAL"


NOT_A_LOG = "scan.no_heroku_lines"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the input is empty: no log line to scan"),
        (bytes(range(256)) * 40, "none of the 41 line(s) has a Heroku log line's shape"),
        (b"hello\nworld\n", "none of the 2 line(s) has a Heroku log line's shape"),
        (b'{"level": "info", "msg": "GET /healthz 200"}\n', "none of the 1 line(s) has"),
    ],
    ids=["empty", "binary", "other-text", "json-lines"],
)
def test_input_that_is_no_heroku_log_is_unknown_and_says_so(
    tmp_path: Path, content: bytes, says: str
) -> None:
    (tmp_path / "x.log").write_bytes(content)
    done = watcher("x.log", "--json", cwd=tmp_path)
    assert done.returncode == 3
    data = json.loads(done.stdout)
    assert data["state"] == "UNKNOWN" and data["exit_code"] == 3
    (finding,) = data["findings"]
    assert finding["id"] == NOT_A_LOG and finding["state"] == "UNKNOWN"
    assert finding["summary"].startswith(says)
    table = watcher("x.log", cwd=tmp_path)
    assert table.returncode == 3
    assert table.stdout.decode().startswith("CUTOVER-WATCHER SCAN UNKNOWN: ")
    assert f"\nUNKNOWN   {NOT_A_LOG}: {says}" in table.stdout.decode()


def test_a_critical_match_in_another_format_still_wins(tmp_path: Path) -> None:
    (tmp_path / "x.log").write_bytes(b"ERROR sqlite3.OperationalError: database is locked\n")
    done = watcher("x.log", "--json", cwd=tmp_path)
    assert done.returncode == 2
    data = json.loads(done.stdout)
    assert data["state"] == "CRITICAL"
    assert [f["id"] for f in data["findings"]] == [NOT_A_LOG]


@pytest.mark.parametrize(
    "line",
    [
        f"{T} app[web.1]: GET /healthz 200",
        "app[web.1]: GET /healthz 200",  # `heroku logs` without its time
        "83 <190>1 2026-05-16T14:31:02.114233+00:00 host app web.1 - GET /healthz 200",  # a drain
    ],
    ids=["heroku-logs", "no-timestamp", "syslog-drain"],
)
def test_a_heroku_log_has_no_finding_about_its_shape(tmp_path: Path, line: str) -> None:
    (tmp_path / "x.log").write_text("header of an export\n" + line + "\n")
    done = watcher("x.log", "--json", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["findings"] == []


@pytest.mark.parametrize("size", [7, 64, 1000, 1 << 20])
def test_chunking_never_splits_or_loses_a_line(size: int) -> None:
    text = "".join(line + "\n" for line in lines(3000, seed=7)) + f"{T} app[web.1]: sqlite tail"
    matcher = LogMatcher(catalogue("raptor_app"), "worker.1")
    tally = LogTally()
    scan(windows(io.BytesIO(text.encode()), size), matcher, tally, datetime.now(UTC))
    reference = LogTally()
    reference_matcher = LogMatcher(catalogue("raptor_app"), "worker.1")
    scan(
        windows(io.BytesIO(text.encode()), 1 << 24), reference_matcher, reference, datetime.now(UTC)
    )
    assert tally.lines == reference.lines == 3001
    assert {k: v.total for k, v in tally.patterns.items()} == {
        k: v.total for k, v in reference.patterns.items()
    }
    assert tally.patterns["sqlite"].total >= 1


def test_endless_text_without_newlines_stays_bounded() -> None:
    from watcher.logs.scan import MAX_LINE_BYTES

    garbage = io.BytesIO(b"x" * (MAX_LINE_BYTES * 3 + 10))
    sizes = [w.end - w.start for w in windows(garbage, 1 << 16)]
    assert max(sizes) <= MAX_LINE_BYTES + (1 << 16) + 1
    assert sum(sizes) == MAX_LINE_BYTES * 3 + 10 + len(sizes)  # every byte, one newline each


def test_corrupt_gzip_exits_3_with_one_line(tmp_path: Path) -> None:
    good = gzip.compress(LOG.encode() * 50)
    corrupt = good[:10] + bytes(b ^ 0x5A for b in good[10:200]) + good[200:]
    (tmp_path / "corrupt.gz").write_bytes(corrupt)
    done = watcher("corrupt.gz", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.decode().count("\n") == 1
    assert b"cannot read corrupt.gz" in done.stderr


def test_control_characters_in_samples_do_not_reach_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "esc.log").write_bytes(
        f"{T} app[web.1]: sqlite \x1b]0;pwned\x07 \x1b[2J done\rFAKE\n".encode()
    )
    table = watcher("esc.log", cwd=tmp_path).stdout
    assert b"\x1b" not in table and b"\x07" not in table and b"\r" not in table
    data = json.loads(watcher("esc.log", "--json", cwd=tmp_path).stdout)
    assert "\x1b]0;pwned" in data["patterns"][2]["sample"]  # JSON keeps the data, escaped


def test_scan_needs_only_its_own_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATCHER_APP_ROLE=Raptor_App\n")
    (tmp_path / "r.log").write_text(f'{T} app[web.1]: FATAL:  role "Raptor_App" does not exist\n')
    done = watcher("r.log", "--json", cwd=tmp_path, WATCHER_PG_CONNECTION_LIMIT="abc")
    assert done.returncode == 2  # an unrelated bad setting does not stop a scan
    assert json.loads(done.stdout)["patterns"][1]["count"] == 1


def test_secrets_in_scanned_lines_are_masked(tmp_path: Path) -> None:
    (tmp_path / "s.log").write_text(
        f"{T} app[web.1]: sqlite fallback, DATABASE_URL=postgres://u:Pw-8c1e9@db/raxx\n"
    )
    done = watcher("s.log", cwd=tmp_path, DATABASE_URL="postgres://u:Pw-8c1e9@db/raxx")
    assert b"Pw-8c1e9" not in done.stdout + done.stderr
    assert b"[redacted]" in done.stdout


def test_unreadable_dotenv_stops_a_scan_with_exit_3(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"WATCHER_APP_ROLE=\xff\n")
    (tmp_path / "ok.log").write_text(f"{T} app[web.1]: GET / 200\n")
    done = watcher("ok.log", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        b"configuration error: .env cannot be read (UnicodeDecodeError)\n",
    )
