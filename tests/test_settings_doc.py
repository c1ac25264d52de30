"""The README's settings and columns tables are the ones the code declares: none missing, none stale."""

from __future__ import annotations

from pathlib import Path

from deployments.settings import table
from rewards.columns import header_table


def test_the_readme_lists_every_setting_as_the_code_declares_it() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert table() in readme, "run `python -m deployments.settings` and paste it into README.md"


def test_the_readme_lists_every_column_and_the_headers_read_as_it() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert header_table() in readme, "run `python -m rewards.columns` and paste it into README.md"
