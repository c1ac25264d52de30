"""scan-inbox: take each new spreadsheet in the inbox and announce it with a
``rewards.upload.created`` event: a recipients file as resource ``rewards.upload.<sha>``
(which starts fulfil-rewards/on-upload), an actions file as ``rewards.actions.<sha>`` (which
starts manage-rewards/on-upload)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.events import emit_event

from rewards.inbox import Inbox, Upload, UploadKind
from rewards.params import RewardsSettings

UPLOAD_EVENT = "rewards.upload.created"
RESOURCE = {UploadKind.RECIPIENTS: "rewards.upload", UploadKind.ACTIONS: "rewards.actions"}
STARTS = {
    UploadKind.RECIPIENTS: "fulfil-rewards/on-upload",
    UploadKind.ACTIONS: "manage-rewards/on-upload",
}


def announce(upload: Upload) -> None:
    emit_event(
        event=UPLOAD_EVENT,
        resource={
            "prefect.resource.id": f"{RESOURCE[upload.kind]}.{upload.sha256}",
            "prefect.resource.name": upload.name,
        },
        payload={
            "path": str(upload.path),
            "name": upload.name,
            "sha256": upload.sha256,
            "kind": upload.kind.value,
        },
    )


def run_for(upload: Upload, deployment: str | None = None) -> str | None:
    """The id of a run of ``deployment`` (by default the one its kind starts) for ``upload``
    (queued, running or over), if an
    announcement started one: the latest runs' ``source_path`` (a queued run has no name of
    its own yet)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            dep = client.read_deployment_by_name(deployment or STARTS[upload.kind])
        except ObjectNotFound:
            return None
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
    found = [r for r in runs if r.parameters.get("source_path") == str(upload.path)]
    return str(found[0].id) if found else None


def follow_up(box: Inbox, after_seconds: float, say: Callable[[str], None]) -> list[str]:
    """Uploads announced ``after_seconds`` ago or more: done with once a run has taken them,
    announced again otherwise (the event was lost, or nothing was listening for it)."""
    again = []
    for upload in box.waiting(after_seconds):
        if (run := run_for(upload)) is not None:
            box.started(upload, run)
            continue
        announce(upload)
        box.announced(upload)
        say(f"{upload.name}: no run has started for it yet; announced again")
        again.append(str(upload.path))
    return again


@flow(name="scan-inbox", log_prints=True)
def scan_inbox(
    inbox: str | None = None, settle_seconds: float = 5.0, reannounce_after_seconds: float = 120
) -> list[str]:
    """Announce each settled, never-seen spreadsheet in the inbox, and again each one whose
    announcement no run has taken up after ``reannounce_after_seconds``; returns the paths
    announced."""
    settings = RewardsSettings()
    box = Inbox(Path(inbox) if inbox else settings.inbox_dir, settings.ledger_url, settle_seconds)
    logger = get_run_logger()
    announced = []
    for upload in box.scan():
        if upload.duplicate:
            logger.warning(
                "%s has the content of a file taken before; set aside in %s",
                upload.name,
                upload.path.parent,
            )
            continue
        announce(upload)
        box.announced(upload)
        logger.info("Announced %s (%s; now %s)", upload.name, upload.kind, upload.path)
        announced.append(str(upload.path))
    announced += follow_up(box, reannounce_after_seconds, logger.warning)
    logger.info("%d spreadsheet(s) announced", len(announced))
    return announced
