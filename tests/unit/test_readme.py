"""The README's configuration table is the settings object's, and its test command is what CI runs."""

from __future__ import annotations

from pathlib import Path

from callpulse.settings import render_markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- settings-table:start -->\n", 1)[1].split("<!-- settings-table:end -->", 1)[0]
    assert section == render_markdown_table(), "README table is stale: paste `python -m callpulse.settings`"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "python3 -m pip install -e '.[dev]' && python3 -m pytest"
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text()
