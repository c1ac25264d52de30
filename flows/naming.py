"""What runs are called and tagged in the UI's list: the file, whether it is a dry run, the
account (both flows, fulfil-rewards and manage-rewards)."""

from __future__ import annotations

from pathlib import Path

from prefect import runtime
from prefect.client.orchestration import get_client

from rewards.inbox import uploaded_name


def run_name() -> str:
    """``recipients.csv · dry run``: runs told apart in the UI's list."""
    params = runtime.flow_run.parameters
    name = uploaded_name(Path(str(params.get("source_path") or "no file")))
    return f"{name} · dry run" if params.get("dry_run") else name


def tag_run(account: str, *, campaign: str = "", dry_run: bool = False) -> None:
    """Tags the run list can filter on: the account, the campaign, a dry run."""
    run = runtime.flow_run
    tags = [*run.tags, f"account:{account}"]
    tags += [f"campaign:{campaign}"] if campaign else []
    tags += ["dry-run"] if dry_run else []
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, tags=sorted(set(tags)))
