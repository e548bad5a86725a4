"""The documentation in docs/ and the README stays the code's: every setting, command, option,
finding id, pattern and metric the code has is documented, with the code's defaults, and the
generated parts are what `python -m watcher.cli.docs` renders now.

A failure here names what to document: a new setting (docs/settings.md and .env.example), a new
command or option (a `## \\`watcher NAME\\`` section of docs/commands.md), a new finding kind
(docs/checks.md), a new metric (docs/metrics.md's table), or a generated block to re-render.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from checks.registry import Registry
from watcher.cli import docs
from watcher.cli.main import _parser
from watcher.settings import Settings, env_name, load_settings
from watcher.telemetry.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"


def variables(field: str) -> list[str]:
    return re.findall(r"[A-Z][A-Z0-9_]+", env_name(field))


def documented_defaults() -> dict[str, str]:
    """Each variable of docs/settings.md's table with the default its row shows."""
    defaults: dict[str, str] = {}
    for line in (DOCS / "settings.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        values = cells[1].split(" / ") if " / " in cells[1] else [cells[1]] * len(names)
        for name, value in zip(names, values, strict=True):
            defaults[name] = value.strip().strip("`")
    return defaults


NONE = "\u2013"  # the docs' "no default"


def shown(default: object) -> str:
    """A default as the docs show it: an en dash for none, `900` for 900.0."""
    if default is None:
        return NONE
    if isinstance(default, SecretStr):
        return default.get_secret_value()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_setting_is_in_env_example_and_the_settings_page(field: str) -> None:
    example = (ROOT / ".env.example").read_text()
    page = (DOCS / "settings.md").read_text()
    for name in variables(field):
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} not in .env.example"
        assert f"`{name}`" in page, f"{name} not in docs/settings.md"


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_the_settings_page_shows_the_codes_default(field: str) -> None:
    name = variables(field)[0]
    documented, default = (
        documented_defaults().get(name),
        shown(Settings.model_fields[field].default),
    )
    if documented is not None and re.fullmatch(r"[\d.]+", documented):
        assert float(documented) == float(default), name  # `1.0` is the code's 1.0
    else:
        assert documented == default, name


def test_env_example_is_a_valid_configuration(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    settings = load_settings()
    assert settings.app == "raxx-api-prod"
    assert settings.slack_channel == "#ops-alerts"


def test_generated_blocks_are_what_the_code_renders_now() -> None:
    """The checks, advice, pattern and gauge tables and the sample escalation (text and
    picture): re-render them
    with `python -m watcher.cli.docs` after changing a check, the catalogue or Slack's text."""
    for path, generated in docs.blocks(Registry.default()).items():
        text = path.read_text()
        assert docs.render(text, generated) == text, f"{path.name}: run python -m watcher.cli.docs"
    for path, make in docs.files().items():
        assert path.read_text() == make(), f"{path.name}: run python -m watcher.cli.docs"
    checks_page = (DOCS / "checks.md").read_text()
    for name in Registry.default().names:
        assert f"| `{name}` |" in checks_page


def test_a_changed_check_makes_the_checks_page_stale() -> None:
    """The comparison above can fail: a registry with one check fewer renders another table."""
    fewer = Registry(Registry.default().checks[:-1])
    text = (DOCS / "checks.md").read_text()
    assert docs.render(text, docs.blocks(fewer)[DOCS / "checks.md"]) != text


def commands() -> dict[str, argparse.ArgumentParser]:
    (subparsers,) = (a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def command_section(name: str) -> str:
    """The `## \\`watcher NAME\\`` section of docs/commands.md."""
    text = (DOCS / "commands.md").read_text()
    heading = f"## `watcher {name}`"
    assert heading in text, f"docs/commands.md has no section {heading!r}"
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize("name", list(commands()))
def test_every_command_and_option_is_in_the_commands_page(name: str) -> None:
    section = command_section(name)
    table = (DOCS / "commands.md").read_text().split("\n## ", 1)[0]
    assert f"`watcher {name}" in table, f"docs/commands.md's first table has no `watcher {name}`"
    for action in commands()[name]._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help"):
                assert f"`{option}" in section, f"{option} of watcher {name} not documented"


def test_the_version_option_is_documented() -> None:
    assert "## `watcher --version`" in (DOCS / "commands.md").read_text()


def metric_names() -> set[str]:
    """Every metric family the watcher's registry exports, as scraped (counters with `_total`)."""
    registry = CollectorRegistry()
    Metrics(registry, "0")
    return {m.name + ("_total" if m.type == "counter" else "") for m in registry.collect()}


def test_every_metric_is_in_the_metrics_page_and_nothing_else() -> None:
    page = (DOCS / "metrics.md").read_text()
    table = {
        match
        for line in page.splitlines()
        if line.startswith("| `watcher_")
        for match in re.findall(r"^\| `(watcher_[a-z0-9_]+)", line)
    }
    names = metric_names()
    assert names - table == set(), "metrics missing from docs/metrics.md's table"
    assert table - names == set(), "docs/metrics.md names metrics the watcher does not export"
    mentioned = set(re.findall(r"\bwatcher_[a-z0-9_]+", page)) - {"watcher_check_state"}
    histogram_parts = {f"{n}{s}" for n in names for s in ("_bucket", "_sum", "_count")}
    assert mentioned - names - histogram_parts == set(), "docs/metrics.md mentions unknown names"


def finding_ids_in_the_code() -> set[str]:
    """Finding ids as the checks' modules spell them: `f"{NAME}.kind"` and healthz's
    `_finding("kind", ...)`, each module's NAME being its check's name."""
    ids = set()
    for path in (ROOT / "checks").rglob("*.py"):
        source = path.read_text()
        name = re.search(r'^NAME = "([a-z_]+)"', source, re.MULTILINE)
        if name is None:
            continue
        kinds = re.findall(r'f"\{NAME\}\.([a-z_]+)"', source)
        kinds += re.findall(r'_finding\(\s*"([a-z_]+)"', source)
        ids |= {f"{name.group(1)}.{kind}" for kind in kinds}
    return ids


# The ids whose construction the scan above cannot see (built from a variable, or per issue).
OTHER_FINDING_IDS = {
    "healthz.unreachable",
    "healthz.timeout",
    "pg_info.connections",
    "pg_connections.connections",
    "sentry.<sentry issue id>",
    "logs.<pattern id>",
}


def test_every_finding_id_is_in_the_checks_page() -> None:
    page = (DOCS / "checks.md").read_text()
    found = finding_ids_in_the_code()
    assert len(found) > 25, "the scan of checks/ for finding ids found too few"
    for finding in sorted(found | OTHER_FINDING_IDS):
        assert f"`{finding}`" in page, f"{finding} not in docs/checks.md"


def test_every_pattern_id_is_in_the_patterns_page() -> None:
    from checks.logparse.log_patterns import catalogue

    page = (DOCS / "patterns.md").read_text()
    for pattern in catalogue("raptor_app"):
        assert f"| `{pattern.id}` |" in page


USER_FACING = [
    "README.md",
    ".env.example",
    "app.json",
    "Procfile",
    *(str(p.relative_to(ROOT)) for p in sorted(DOCS.glob("*.md"))),
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "deploy").rglob("*")) if p.is_file()),
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "scripts").iterdir()) if p.is_file()),
]


@pytest.mark.parametrize("document", USER_FACING)
def test_no_user_facing_file_points_outside_the_repository(document: str) -> None:
    """The project stands alone: no `../shared`, no "SPEC section N" of a file users never see."""
    text = (ROOT / document).read_text()
    assert "../shared" not in text
    assert not re.search(r"\bSPEC\b", text), f"{document} refers to a SPEC; point to docs/"


def test_no_command_help_points_outside_the_repository() -> None:
    texts = [_parser().format_help()] + [p.format_help() for p in commands().values()]
    for text in texts:
        assert "../shared" not in text
        assert not re.search(r"\bSPEC\b", text), text


@pytest.mark.parametrize(
    "document", ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))]
)
def test_every_relative_link_resolves(document: str) -> None:
    path = ROOT / document
    assert path.read_text().count("```") % 2 == 0, f"{document}: a code block is not closed"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{document} links to {target}, which is not there"


def test_readme_keeps_the_sections_others_fill_and_tests_name() -> None:
    readme = (ROOT / "README.md").read_text()
    for heading in (
        "## Quick start",
        "## Before T0: checklist",
        "## Contents",
        "## Deploying to Heroku",
        "## Architecture",
        "### How to add a check",
        "### How to add a channel",
    ):
        assert f"\n{heading}\n" in readme, heading
    # The first screen: what it is, the report's picture, the sample escalation, the quick start.
    first = readme[: readme.index("## Before T0: checklist")]
    assert "docs/report.png" in first
    assert "](docs/escalation.svg)" in first
    assert "scripts/try-locally" in first and "scripts/test" in first
    # The README's short table of checks names every check, in the registry's order.
    section = readme[readme.index("## What it checks") :]
    rows = re.findall(r"^\| `([a-z_0-9]+)` \|", section.split("\n## ", 1)[0], re.MULTILINE)
    assert tuple(rows) == Registry.default().names


def test_every_docs_page_is_in_the_index() -> None:
    """docs/README.md lists every page of docs/ (add a row for a new one)."""
    index = (DOCS / "README.md").read_text()
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not list {page.name}"


def test_the_escalation_picture_is_an_svg_of_the_composers_words() -> None:
    from xml.etree import ElementTree

    from watcher.cli import sample_escalation

    # Our own generated file, not outside input.
    svg = ElementTree.fromstring((DOCS / "escalation.svg").read_text())  # noqa: S314
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    drawn = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for post in sample_escalation.posts():
        assert post.where in drawn
    assert "grants.table_privileges" in drawn and "RESOLVED" in drawn
