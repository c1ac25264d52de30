"""Where a run may read its spreadsheet from: under the configured roots, links resolved.

A run's ``source_path`` comes from whoever can start a deployment (the UI's form, an upload
event). Unconfined, anyone who can set it makes the worker read any file the worker can
read, and its first line comes back in the run's state message and logs. So the flow reads
only under ``REWARDS_SOURCE_ROOTS`` (default: the inbox and the data folder). ``rewards
validate`` is run by a local user on their own files and is not confined.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import InputError
from .params import RewardsSettings


def _default_roots() -> list[Path]:
    return [RewardsSettings().inbox_dir, Path("data")]


class SourceSettings(BaseSettings):
    """Per installation, from the environment (``REWARDS_SOURCE_ROOTS``)."""

    model_config = SettingsConfigDict(env_prefix="REWARDS_", extra="ignore")

    source_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=_default_roots,
        description="folders the flow may read spreadsheets from, separated by "
        f"{os.pathsep!r} (default: the inbox and the data folder)",
    )

    @field_validator("source_roots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p) for p in value.split(os.pathsep) if p.strip()]
        return value


def confine(path: str | Path, roots: list[Path] | None = None) -> Path:
    """``path`` with every link resolved, if that lies under one of ``roots`` (default: the
    configured ones); else one line naming the file and the setting, nothing else (not
    where it leads, not the roots)."""
    resolved = Path(path).resolve()
    for root in SourceSettings().source_roots if roots is None else roots:
        if resolved.is_relative_to(Path(root).resolve()):
            return resolved
    raise InputError(
        f"{Path(path).name}: not in a folder spreadsheets are read from; put it in the inbox "
        "or add its folder to REWARDS_SOURCE_ROOTS"
    )


def allow(path: str | Path) -> None:
    """Add ``path`` to this process's source roots: ``rewards run FILE`` starts the flow in
    its own process on a file its local user named."""
    roots = [*SourceSettings().source_roots, Path(path).resolve()]
    os.environ["REWARDS_SOURCE_ROOTS"] = os.pathsep.join(str(r) for r in roots)
