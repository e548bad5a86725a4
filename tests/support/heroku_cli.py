"""The real Heroku CLI (npm package `heroku`), as scripts/setup installs it, pointed at the fakes.

Pinned to one version; installed into `.tools/heroku-cli` (git-ignored). It runs with a
temporary HOME, so nothing of the machine's (credentials, config, caches) is read, and with its
update checks, analytics and telemetry off (the variables its own source reads:
DISABLE_TELEMETRY in dist/lib/analytics-telemetry/telemetry-utils.js, HEROKU_SKIP_ANALYTICS in
herokulytics-config.js, HEROKU_SKIP_NEW_VERSION_CHECK in @oclif/plugin-warn-if-update-available).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from tests.fakes import heroku as heroku_fake

VERSION = "11.10.0"  # the pin; scripts/setup installs exactly this
ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".tools" / "heroku-cli"
BIN = PREFIX / "node_modules" / ".bin"


def executable() -> Path:
    """The installed CLI; fails with the fix when it is missing or not the pinned version."""
    package = PREFIX / "node_modules" / "heroku" / "package.json"
    if not package.exists():
        raise AssertionError(f"the Heroku CLI is not installed in {PREFIX}: run scripts/setup")
    installed = json.loads(package.read_text())["version"]
    if installed != VERSION:
        raise AssertionError(
            f"Heroku CLI {installed} installed, {VERSION} pinned: run scripts/setup"
        )
    return BIN / "heroku"


def environment(platform_url: str, home: Path) -> dict[str, str]:
    """The CLI's environment: the fakes' Platform and Data APIs on one port, a fresh HOME."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "HEROKU_HOST": platform_url,
        # A host name only: the CLI takes the scheme and port from HEROKU_HOST.
        "HEROKU_DATA_HOST": urlsplit(platform_url).hostname or "127.0.0.1",
        "HEROKU_API_KEY": heroku_fake.TOKEN,
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_ANALYTICS": "1",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
    }
