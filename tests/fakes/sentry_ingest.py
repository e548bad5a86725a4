"""Sentry's ingest endpoint as the SDK talks to it: envelopes in, items recorded.

`POST /api/<project id>/envelope/`, gzip or plain, authenticated by the DSN's public key in
`X-Sentry-Auth`. An envelope is a JSON header line, then items: a JSON item header line and
a payload, `length` bytes long when the header says so, else up to the next newline.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeServer, Reply, Request, json_reply

PUBLIC_KEY = "5f1e0c3b9a7d4e21b8c6a0d2f4e6a8b0"
PROJECT_ID = "4507"


@dataclass
class EnvelopeItem:
    """One item of an envelope: `type` is `event`, `check_in`, `client_report`..."""

    type: str
    headers: dict[str, Any]
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[EnvelopeItem]]:
    """The envelope header and its items."""
    header_line, _, rest = body.partition(b"\n")
    items: list[EnvelopeItem] = []
    while rest:
        item_line, _, rest = rest.partition(b"\n")
        if not item_line.strip():
            continue
        item_headers = json.loads(item_line)
        length = item_headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:].removeprefix(b"\n")
        items.append(EnvelopeItem(str(item_headers.get("type")), item_headers, payload))
    return json.loads(header_line), items


class FakeSentryIngest(FakeServer):
    """Accepts envelopes for PROJECT_ID signed with PUBLIC_KEY; keeps their items."""

    def __init__(self) -> None:
        self.items: list[EnvelopeItem] = []
        # Every envelope as it arrived, decompressed: where to look for a leaked secret.
        self.bodies: list[bytes] = []
        super().__init__(self._answer)

    @property
    def dsn(self) -> str:
        return self.url.replace("http://", f"http://{PUBLIC_KEY}@", 1) + f"/{PROJECT_ID}"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The JSON payloads of every item of one type, in arrival order."""
        return [item.json() for item in self.items if item.type == kind]

    def events(self) -> list[dict[str, Any]]:
        return self.of_type("event")

    def check_ins(self) -> list[dict[str, Any]]:
        return self.of_type("check_in")

    def text(self) -> str:
        """Everything received, decompressed, as one string."""
        return b"\n".join(self.bodies).decode("utf-8", errors="replace")

    def _answer(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != f"/api/{PROJECT_ID}/envelope/":
            return json_reply({"detail": "not found"}, 404)
        auth = request.headers.get("x-sentry-auth", "")
        if re.search(rf"\bsentry_key={PUBLIC_KEY}\b", auth) is None:
            return json_reply({"detail": "invalid api key"}, 401)
        body = request.body
        encoding = request.headers.get("content-encoding", "identity")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding != "identity":
            return json_reply({"detail": f"unsupported encoding {encoding}"}, 415)
        header, items = parse_envelope(body)
        self.bodies.append(body)
        self.items.extend(items)
        return json_reply({"id": header.get("event_id")})
