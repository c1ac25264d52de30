"""scan-inbox: take each new spreadsheet in the inbox and announce it with a
``rewards.upload.created`` event: a recipients file as resource ``rewards.upload.<sha>``
(which starts fulfil-rewards/on-upload), an actions file as ``rewards.actions.<sha>`` (which
starts manage-rewards/on-upload)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, runtime
from prefect.events import emit_event

from rewards.inbox import Inbox, Upload, UploadKind
from rewards.params import RewardsSettings

UPLOAD_EVENT = "rewards.upload.created"
UPLOAD_DEPLOYMENT = "on-upload"  # the deployment each announcement starts, of either flow
RESOURCE = {UploadKind.RECIPIENTS: "rewards.upload", UploadKind.ACTIONS: "rewards.actions"}
STARTS = {
    UploadKind.RECIPIENTS: f"fulfil-rewards/{UPLOAD_DEPLOYMENT}",
    UploadKind.ACTIONS: f"manage-rewards/{UPLOAD_DEPLOYMENT}",
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
    mine = upload.path.resolve()
    found = [r for r in runs if Path(r.parameters.get("source_path") or "/").resolve() == mine]
    return str(found[-1].id) if found else None  # the first run started for it


def taken_by_another_run(source_path: str) -> str | None:
    """A run started by an upload claims it; an upload announced twice starts two runs, and
    only the first may ask for approval or send (a rejected upload stays rejected). None: go
    on; else what this run says before it ends."""
    if runtime.deployment.name != UPLOAD_DEPLOYMENT or not runtime.flow_run.id:
        return None
    settings = RewardsSettings()
    box = Inbox(settings.inbox_dir, settings.ledger_url)
    other = box.claim(Path(source_path), str(runtime.flow_run.id))
    if other is None:
        return None
    said = f"{Path(source_path).name} is handled by run {other}; this run sends nothing"
    get_run_logger().warning(said)
    return said


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
