"""The watched app's `/healthz` (runbook 5.1), answering whatever the test sets."""

from __future__ import annotations

from tests.fakes.http import FakeServer, Reply, Request, json_reply

# The shape of Heroku's maintenance-mode answer: a static HTML page with status 503.
MAINTENANCE_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta charset="utf-8">
    <title>Offline for Maintenance</title>
    <style media="screen">
      html,body,iframe{margin:0;padding:0}html,body{height:100%;overflow:hidden}
      iframe{width:100%;height:100%;border:0}
    </style>
  </head>
  <body>
    <iframe src="//www.herokucdn.com/error-pages/maintenance.html"></iframe>
  </body>
</html>
"""


def healthy(db: str = "postgresql", status: str = "ok", version: str = "1.4.2") -> Reply:
    return json_reply({"status": status, "db": db, "version": version})


def maintenance() -> Reply:
    return Reply(503, MAINTENANCE_PAGE, {"Content-Type": "text/html; charset=utf-8"})


class FakeHealthz(FakeServer):
    """Serves `/healthz` with `self.reply`; any other path is 404."""

    def __init__(self) -> None:
        self.reply = healthy()
        super().__init__(self._answer)

    @property
    def healthz_url(self) -> str:
        return f"{self.url}/healthz"

    def _answer(self, request: Request) -> Reply:
        if request.path != "/healthz":
            return json_reply({"error": "not found"}, 404)
        return self.reply
