"""scan-inbox: take each new spreadsheet in the inbox and announce it with a
``rewards.upload.created`` event (which starts fulfil-rewards/on-upload)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.events import emit_event

from rewards.inbox import Inbox, Upload
from rewards.params import RewardsSettings

UPLOAD_EVENT = "rewards.upload.created"


def announce(upload: Upload) -> None:
    emit_event(
        event=UPLOAD_EVENT,
        resource={
            "prefect.resource.id": f"rewards.upload.{upload.sha256}",
            "prefect.resource.name": upload.name,
        },
        payload={"path": str(upload.path), "name": upload.name, "sha256": upload.sha256},
    )


@flow(name="scan-inbox", log_prints=True)
def scan_inbox(inbox: str | None = None, settle_seconds: float = 5.0) -> list[str]:
    """Announce each settled, never-seen spreadsheet in the inbox; returns their new paths."""
    settings = RewardsSettings()
    box = Inbox(Path(inbox) if inbox else settings.inbox_dir, settings.ledger_url, settle_seconds)
    announced = []
    for upload in box.scan():
        if upload.duplicate:
            get_run_logger().warning(
                "%s has the content of a file taken before; set aside in %s",
                upload.name,
                upload.path.parent,
            )
            continue
        announce(upload)
        announced.append(str(upload.path))
    get_run_logger().info("%d new spreadsheet(s) announced", len(announced))
    return announced
