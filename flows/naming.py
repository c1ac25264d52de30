"""What runs are called in the UI's list: the file, and whether it is a dry run."""

from __future__ import annotations

from pathlib import Path

from prefect import runtime


def run_name() -> str:
    """``recipients.csv · dry run``: runs told apart in the UI's list."""
    params = runtime.flow_run.parameters
    name = Path(str(params.get("source_path") or "no file")).name
    return f"{name} · dry run" if params.get("dry_run") else name
