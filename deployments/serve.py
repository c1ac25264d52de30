"""The deployments, served by one process (``rewards serve``) against a Prefect server.

- ``fulfil-rewards/manual``: no schedule; start it from the UI's parameter form.
- ``fulfil-rewards/on-upload``: started by each ``rewards.upload.created`` event, with the
  file's path from the event; every other parameter is the deployment's own (``defaults``, and
  whatever a team sets on it in the UI), since the trigger passes ``source_path`` alone.
- ``manage-rewards/manual`` and ``manage-rewards/on-upload``: the same for actions files
  (resend, reissue, cancel...); an upload whose header is an actions file's is announced as
  ``rewards.actions.<sha>`` and starts this one instead.
- ``scan-inbox/scheduled``: a cron schedule (hourly by default) that announces new files.
- ``send-orders/fan-out``: one share of a batch's orders, started by fulfil-rewards when its
  ``fan_out`` parameter is above 1.
"""

from __future__ import annotations

from typing import Any

from prefect.events import DeploymentEventTrigger

from flows.fulfil_rewards import fulfil_rewards
from flows.manage_rewards import manage_rewards
from flows.scan_inbox import RESOURCE, UPLOAD_DEPLOYMENT, UPLOAD_EVENT, scan_inbox
from flows.send_orders import send_orders
from rewards.inbox import UploadKind

# Only the path: Prefect merges a triggered run's parameters over the deployment's, key by key.
ON_UPLOAD_PARAMETERS = {"source_path": "{{ event.payload.path }}"}


def upload_trigger(kind: UploadKind = UploadKind.RECIPIENTS) -> DeploymentEventTrigger:
    """Start the flow for each announced spreadsheet of ``kind``, with its path."""
    return DeploymentEventTrigger(
        name="new spreadsheet" if kind is UploadKind.RECIPIENTS else "new actions file",
        expect={UPLOAD_EVENT},
        match={"prefect.resource.id": f"{RESOURCE[kind]}.*"},
        parameters=ON_UPLOAD_PARAMETERS,
    )


MANAGE_SETTINGS = ("approval_threshold", "account_identifier", "customer_identifier")


def build(
    cron: str = "0 * * * *", inbox: str | None = None, defaults: dict[str, Any] | None = None
) -> list[Any]:
    """``defaults``: fulfil-rewards parameters a team sets once (approval threshold, account,
    campaign, completion mode...) for the manual and on-upload deployments."""
    manual = fulfil_rewards.to_deployment(
        name="manual",
        description="Send the rewards of one spreadsheet; fill in the form.",
        parameters=defaults or {},
        tags=["manual"],
    )
    on_upload = fulfil_rewards.to_deployment(
        name=UPLOAD_DEPLOYMENT,
        description="Started by a rewards.upload.created event (scan-inbox or rewards watch).",
        triggers=[upload_trigger()],
        parameters=defaults or {},
        tags=["upload"],
    )

    scheduled = scan_inbox.to_deployment(
        name="scheduled",
        cron=cron,
        parameters={"inbox": inbox} if inbox else {},
        description="Announce spreadsheets that landed in the inbox.",
    )
    shares = send_orders.to_deployment(
        name="fan-out", description="One share of a batch's orders (fulfil-rewards fan_out)."
    )
    team = {k: v for k, v in (defaults or {}).items() if k in MANAGE_SETTINGS}
    manage = manage_rewards.to_deployment(
        name="manual",
        description="Resend, reissue, cancel, reschedule... rewards already sent, from an "
        "actions file (a report's failed_deliveries.csv is one); fill in the form.",
        parameters=team,
        tags=["manual"],
    )
    manage_on_upload = manage_rewards.to_deployment(
        name=UPLOAD_DEPLOYMENT,
        description="Started by an actions file announced from the inbox.",
        triggers=[upload_trigger(UploadKind.ACTIONS)],
        parameters=team,
        tags=["upload"],
    )
    deployments = [manual, on_upload, manage, manage_on_upload, scheduled, shares]
    for deployment in deployments:
        _labelled(deployment)
    return deployments


def _labelled(deployment: Any) -> None:
    """The run form's labels in words ("Source path", not "source_path"): Prefect titles each
    parameter with its name, whatever the Field says, and the form shows the title."""
    for name, schema in deployment._parameter_openapi_schema.properties.items():
        schema["title"] = name.replace("_", " ").capitalize()


def serve(
    cron: str = "0 * * * *", inbox: str | None = None, defaults: dict[str, Any] | None = None
) -> None:
    """Serve the deployments from this process: its runs send heartbeats, and a run whose
    process dies is marked Crashed by the automation (see :mod:`deployments.zombies`)."""
    import os

    from prefect import serve as prefect_serve

    from rewards.params import RewardsSettings

    from .report_server import start as serve_reports
    from .zombies import ensure_automation, heartbeat_env

    os.environ.update(heartbeat_env())  # the runs this process starts inherit it
    os.environ.update(approval_floor(defaults))

    serve_reports(RewardsSettings())  # the links on the runs' pages point at it

    ensure_automation(RewardsSettings().silent_run_seconds)

    prefect_serve(*build(cron, inbox, defaults))


def approval_floor(defaults: dict[str, Any] | None) -> dict[str, str]:
    """The team's approval threshold (``--approval-threshold``) as the environment of the runs
    this installation starts: there it is a floor (rewards.params.Approval) that a run's form
    can lower but not raise or remove, as it could while it was only a parameter's default."""
    from decimal import Decimal

    from rewards.params import RewardsSettings

    team = (defaults or {}).get("approval_threshold")
    if team is None:
        return {}
    floor = Decimal(str(team))
    installed = RewardsSettings().approval_threshold
    if installed is not None:
        floor = min(floor, installed)
    return {"REWARDS_APPROVAL_THRESHOLD": str(floor)}
