"""A real headless Chromium (Debian's `chromium`, installed by scripts/setup) for the tests.

`render` opens a local HTML file, takes a screenshot and collects what the browser logged:
console messages (`--enable-logging=stderr`) and every file it loaded (`--v=1` names each
`file://` load). Name resolution is mapped to nothing and the proxy is a closed port, so
neither the page nor Chromium's own background services reach beyond the machine.
`png_colours` decodes the screenshot with zlib alone (no imaging library) to count colours.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

RENDER_TIMEOUT = 60.0
_CONSOLE = re.compile(r":CONSOLE[:(]")
_FILE_LOAD = re.compile(r"FileURLLoader::Start: (file://\S+)")


@dataclass(frozen=True)
class Rendered:
    """One page load: the screenshot, the console lines, the files the browser loaded."""

    screenshot: Path
    console: list[str]
    files_loaded: list[str]
    stderr: str


def chromium() -> str:
    """The browser binary; a missing one fails the test (scripts/setup installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")
    if found is None:
        raise RuntimeError("chromium not found: run scripts/setup, which installs it")
    return found


def render(page: Path, screenshot: Path, width: int, height: int) -> Rendered:
    """Open `page` in a fresh profile, screenshot the first `width` x `height` pixels."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=1",
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False
        )
    if done.returncode != 0 or not screenshot.exists():
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = done.stderr.splitlines()
    return Rendered(
        screenshot,
        [line for line in lines if _CONSOLE.search(line)],
        [m[1] for line in lines if (m := _FILE_LOAD.search(line))],
        done.stderr,
    )


def png_colours(path: Path) -> int:
    """How many distinct colours an 8-bit RGB or RGBA PNG has (a blank page has one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), f"unexpected PNG format {depth}/{colour_type}"
    pixel = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * pixel
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, pixel
        )
        colours.update(bytes(line[i : i + pixel]) for i in range(0, stride, pixel))
        previous = line
    return len(colours)


def _unfilter(kind: int, line: bytearray, above: bytearray, pixel: int) -> bytearray:
    """PNG's five row filters (RFC 2083, section 6)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    for i in range(len(line)):
        left = line[i - pixel] if i >= pixel else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + above[i]) >> 1)) & 0xFF
        elif kind == 4:
            up_left = above[i - pixel] if i >= pixel else 0
            p = left + above[i] - up_left
            pa, pb, pc = abs(p - left), abs(p - above[i]), abs(p - up_left)
            predictor = left if pa <= pb and pa <= pc else above[i] if pb <= pc else up_left
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter {kind}")
    return line


def temporary_png() -> Path:
    return Path(tempfile.mkstemp(suffix=".png")[1])
