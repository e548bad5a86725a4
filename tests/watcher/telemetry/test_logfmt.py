"""logfmt lines: one per event, quoted where needed, secrets masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote as url_quote

import pytest

from watcher.redact import MASK, Redactor
from watcher.telemetry.logfmt import LogfmtFormatter, configure, quote

SECRET = 'xoxb-"s3cr3t"/token+1'


def record(
    msg: str,
    *args: object,
    level: int = logging.INFO,
    fields: dict[str, object] | None = None,
    exc: BaseException | None = None,
) -> logging.LogRecord:
    exc_info = None if exc is None else (type(exc), exc, exc.__traceback__)
    made = logging.LogRecord("watcher.test", level, __file__, 1, msg, args, exc_info)
    if fields is not None:
        made.fields = fields
    return made


def fmt(made: logging.LogRecord, secrets: tuple[str, ...] = (SECRET,)) -> str:
    return LogfmtFormatter(Redactor(secrets)).format(made)


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_level_logger_and_message() -> None:
    assert fmt(record("stopped")) == "at=info logger=watcher.test msg=stopped"
    levels = {
        logging.DEBUG: "debug",
        logging.INFO: "info",
        logging.WARNING: "warning",
        logging.ERROR: "error",
        logging.CRITICAL: "critical",
    }
    for level, name in levels.items():
        assert fmt(record("x", level=level)).startswith(f"at={name} logger=watcher.test ")


def test_message_arguments_are_applied() -> None:
    assert fmt(record("cycle %d of %s", 3, "raxx")).endswith('msg="cycle 3 of raxx"')


def test_fields_follow_the_message() -> None:
    at = datetime(2026, 5, 16, 14, 48, 42, tzinfo=UTC)
    line = fmt(
        record(
            "watch started",
            fields={"t0": at, "requeued": 0, "ok": True, "gone": None, "ratio": 0.5},
        )
    )
    assert line == (
        'at=info logger=watcher.test msg="watch started" '
        "t0=2026-05-16T14:48:42+00:00 requeued=0 ok=true gone=null ratio=0.5"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("cr\rtab\t", '"cr\\rtab\\t"'),
        ("bell\x07", '"bell\\u0007"'),
        ("sep\u2028para\u2029nel\x85", '"sep\\u2028para\\u2029nel\\u0085"'),
        ("caf\u00e9", "caf\u00e9"),
    ],
)
def test_quoting_and_escaping(value: str, written: str) -> None:
    assert quote(value) == written


def test_odd_keys_cannot_break_the_line() -> None:
    line = fmt(record("x", fields={'a key="x"': 1, "": 2}))
    assert line.endswith("a_key__x_=1 _=2")


def test_one_line_per_event_whatever_the_text() -> None:
    exc = raised(ValueError("first\nsecond\r\nthird\u2028fourth"))
    line = fmt(record("multi\nline\x85message", fields={"f": "a\nb"}, exc=exc, level=40))
    assert len(line.splitlines()) == 1
    assert 'exc="ValueError: first\\nsecond\\r\\nthird\\u2028fourth"' in line
    assert "exc_at=test_logfmt.py:" in line
    assert "Traceback" not in line


def test_a_secret_is_masked_in_message_fields_and_exception() -> None:
    exc = raised(RuntimeError(f"auth failed with {SECRET}"))
    line = fmt(
        record(
            "posting with %s",
            SECRET,
            fields={"url": f"https://h/?t={url_quote(SECRET, safe='')}", "token": SECRET},
            exc=exc,
        )
    )
    assert SECRET not in line
    assert url_quote(SECRET, safe="") not in line
    assert "s3cr3t" not in line
    assert f'msg="posting with {MASK}"' in line
    assert f"token={MASK}" in line
    assert f'exc="RuntimeError: auth failed with {MASK}"' in line


def test_a_secret_split_by_escaping_is_still_masked() -> None:
    # As written, the secret has a quote; escaped in the line it reads \" and is still found.
    line = fmt(record("x", fields={"note": f"was {SECRET} here"}), secrets=(SECRET,))
    assert "s3cr3t" not in line


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure() replaces the root logger's handlers: put them back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "apscheduler")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("root_logging")
def test_configure_makes_one_logfmt_handler_on_the_stream() -> None:
    stream = io.StringIO()
    configure(Redactor([SECRET]), "INFO", stream)
    configure(Redactor([SECRET]), "INFO", stream)  # again: still one handler
    assert len(logging.getLogger().handlers) == 1
    log = logging.getLogger("watcher.daemon")
    log.debug("not shown")
    log.info("stopped", extra={"fields": {"seconds": 0.4}})
    log.warning("token %s rejected", SECRET)
    try:
        raise OSError("refused\nagain")
    except OSError:
        log.exception("delivery failed; trying again")
    logging.getLogger("httpx").info("HTTP Request: GET https://logs/sessions/secret-session")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "at=info logger=watcher.daemon msg=stopped seconds=0.4"
    assert lines[1] == f'at=warning logger=watcher.daemon msg="token {MASK} rejected"'
    assert lines[2].startswith(
        'at=error logger=watcher.daemon msg="delivery failed; trying again" '
        'exc="OSError: refused\\nagain" exc_at=test_logfmt.py:'
    )
    # A request log line would carry a session URL: only warnings of httpx get through.
    assert len(lines) == 3


@pytest.mark.usefixtures("root_logging")
def test_configure_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    configure(Redactor([]), logging.DEBUG)
    logging.getLogger("watcher.x").debug("hello")
    assert capsys.readouterr().out == "at=debug logger=watcher.x msg=hello\n"
