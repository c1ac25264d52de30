"""The README's settings table is the one the settings classes make: none missing, none stale."""

from __future__ import annotations

from pathlib import Path

from deployments.settings import table


def test_the_readme_lists_every_setting_as_the_code_declares_it() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert table() in readme, "run `python -m deployments.settings` and paste it into README.md"
