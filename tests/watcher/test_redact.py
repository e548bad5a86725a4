from __future__ import annotations

import json
import logging
import sys

from watcher.redact import MASK, RedactingFormatter, Redactor


def test_masks_raw_and_url_encoded_forms() -> None:
    redact = Redactor(["p@ss/word+1"])
    assert redact("password p@ss/word+1 here") == f"password {MASK} here"
    assert redact("url postgres://u:p%40ss%2Fword%2B1@h/d") == f"url postgres://u:{MASK}@h/d"
    assert redact("form p%40ss%2Fword%2B1") == f"form {MASK}"


def test_a_url_is_masked_whole_before_its_password() -> None:
    url = "postgres://owner:hunter22@db:5432/raxx"
    redact = Redactor([url, "hunter22"])
    assert redact(f"cannot connect to {url}") == f"cannot connect to {MASK}"


def test_very_short_values_are_left_alone() -> None:
    assert Redactor(["ab", ""])("a cab and a crab") == "a cab and a crab"


def test_formatter_masks_messages_and_tracebacks() -> None:
    formatter = RedactingFormatter(Redactor(["tok-3141592"]))
    try:
        raise RuntimeError("rejected tok-3141592")
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "sent %s", ("tok-3141592",), sys.exc_info()
        )
    text = formatter.format(record)
    assert "tok-3141592" not in text
    assert f"sent {MASK}" in text
    assert f"RuntimeError: rejected {MASK}" in text


def test_json_escaped_forms_are_masked() -> None:
    redact = Redactor(['pw"Secret\\9'])
    assert redact(json.dumps({"db": 'x pw"Secret\\9 y'})) == json.dumps({"db": f"x {MASK} y"})


def test_scrub_masks_every_string_of_a_json_value() -> None:
    redact = Redactor(["tok-161803"])
    value = {"checks": [{"summary": "bad tok-161803", "metrics": {"n": 1.0}}], "tok-161803": True}
    assert redact.scrub(value) == {
        "checks": [{"summary": f"bad {MASK}", "metrics": {"n": 1.0}}],
        MASK: True,
    }
