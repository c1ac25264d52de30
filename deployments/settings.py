"""Every setting the project reads from the environment, as one table for the README:
``python -m deployments.settings`` prints it, and a test keeps the README's copy equal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from raas import TangoSettings
from rewards.limits import ReadLimits
from rewards.params import RewardsSettings
from rewards.sources import SourceSettings
from sandbox.config import SandboxConfig
from webhooks.config import ReceiverSettings

CLASSES: tuple[type[BaseSettings], ...] = (
    TangoSettings,
    RewardsSettings,
    SourceSettings,
    ReadLimits,
    ReceiverSettings,
    SandboxConfig,
)
ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- settings table: python -m deployments.settings -->"
END = "<!-- end of settings table -->"


def rows() -> list[tuple[str, str, str]]:
    """(variable, default, what it is) for each setting, in the order the classes declare."""
    out = []
    for cls in CLASSES:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        for name, field in cls.model_fields.items():
            shown = _shown(field.get_default(call_default_factory=True), name)
            text = " ".join((field.description or "").split())
            out.append((prefix + name.upper(), shown, text))
    return out


def _shown(default: Any, name: str) -> str:
    """A default as the README shows it: paths relative to the project, no secrets."""
    if default is PydanticUndefined:
        return "(required)"
    if default is None:
        return ""
    if "key" in name or "secret" in name:
        return "(a default for the sandbox)" if default else ""
    if isinstance(default, BaseModel):
        return "none"
    if isinstance(default, Path):
        return str(default.relative_to(ROOT) if default.is_relative_to(ROOT) else default)
    if isinstance(default, list):
        return os.pathsep.join(_shown(d, name) for d in default)
    return str(default)


def table() -> str:
    lines = [BEGIN, "| variable | default | what it is |", "|---|---|---|"]
    lines += [f"| `{v}` | {d.replace('|', '/')} | {t.replace('|', '/')} |" for v, d, t in rows()]
    return "\n".join([*lines, END])


if __name__ == "__main__":
    print(table())
