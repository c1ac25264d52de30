"""Deployments for a Prefect **work pool** (``rewards deploy``): the same deployments as
``rewards serve``, registered so that ``prefect worker start --pool NAME`` on any machine with
this project installed picks their runs up. Also creates the global concurrency limit that
paces Tango requests across all workers."""

from __future__ import annotations

import contextlib
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
)
from prefect.deployments.runner import EntrypointType
from prefect.exceptions import ObjectAlreadyExists

from flows.fulfil_rewards import fulfil_rewards
from flows.manage_rewards import manage_rewards
from flows.scan_inbox import UPLOAD_DEPLOYMENT, scan_inbox
from flows.send_orders import send_orders
from rewards.inbox import UploadKind
from rewards.params import RewardsSettings

from .serve import MANAGE_SETTINGS, approval_floor, upload_trigger
from .zombies import ensure_automation, heartbeat_env


def ensure_pool_and_limit(pool: str, limit_name: str | None, per_second: float) -> None:
    with get_client(sync_client=True) as client:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        if limit_name:
            slots = max(int(per_second), 1)
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(
                        name=limit_name, limit=slots, slot_decay_per_second=per_second
                    )
                )
            except ObjectAlreadyExists:
                client.update_global_concurrency_limit(
                    limit_name,
                    GlobalConcurrencyLimitUpdate(limit=slots, slot_decay_per_second=per_second),
                )


def deploy(
    pool: str,
    *,
    cron: str = "0 * * * *",
    inbox: str | None = None,
    limit_name: str | None = "tango-api",
    per_second: float = 10.0,
    defaults: dict[str, Any] | None = None,
) -> list[str]:
    """Register the deployments to ``pool`` (workers import the flows from this installed
    project: no image, no remote storage)."""
    ensure_pool_and_limit(pool, limit_name, per_second)
    ensure_automation(RewardsSettings().silent_run_seconds)

    common = {
        "work_pool_name": pool,
        "job_variables": {"env": heartbeat_env() | approval_floor(defaults)},
        "entrypoint_type": EntrypointType.MODULE_PATH,
        "build": False,
        "push": False,
        "print_next_steps": False,
    }
    team = {k: v for k, v in (defaults or {}).items() if k in MANAGE_SETTINGS}
    ids = [
        fulfil_rewards.deploy(name="manual", parameters=defaults or {}, tags=["manual"], **common),
        fulfil_rewards.deploy(
            name=UPLOAD_DEPLOYMENT,
            triggers=[upload_trigger()],
            parameters=defaults or {},
            tags=["upload"],
            **common,
        ),
        manage_rewards.deploy(name="manual", parameters=team, tags=["manual"], **common),
        manage_rewards.deploy(
            name=UPLOAD_DEPLOYMENT,
            triggers=[upload_trigger(UploadKind.ACTIONS)],
            parameters=team,
            tags=["upload"],
            **common,
        ),
        scan_inbox.deploy(
            name="scheduled", cron=cron, parameters={"inbox": inbox} if inbox else {}, **common
        ),
        send_orders.deploy(name="fan-out", **common),
    ]
    return [str(i) for i in ids]
