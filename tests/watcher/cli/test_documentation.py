"""Every setting is documented where users look: `.env.example` and the README's table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from checks.registry import Registry
from watcher.cli import docs
from watcher.settings import Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[3]


def variables(field: str) -> list[str]:
    return re.findall(r"[A-Z][A-Z0-9_]+", env_name(field))


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_setting_is_in_env_example_and_readme(field: str) -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in variables(field):
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} not in .env.example"
        assert f"`{name}`" in readme, f"{name} not in README"


def test_env_example_is_a_valid_configuration(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    settings = load_settings()
    assert settings.app == "raxx-api-prod"
    assert settings.slack_channel == "#ops-alerts"


def test_readme_tables_are_the_registrys() -> None:
    """The checks table and the gauges table are generated (`python -m watcher.cli.docs`)."""
    readme = (ROOT / "README.md").read_text()
    assert docs.render(readme, Registry.default()) == readme
    for name in Registry.default().names:
        assert f"| `{name}` |" in readme
