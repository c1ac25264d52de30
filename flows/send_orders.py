"""send-orders: submit and await one share of a batch's recorded orders.

fulfil-rewards records every order of a batch in the shared ledger before anything is sent.
With ``fan_out`` = N > 0 it then starts that many send-orders runs (the deployment
``send-orders/fan-out``), so workers on several machines share one large file; each run takes
every n-th order of the batch from the ledger and POSTs only under the parent run's lease
(which the parent keeps renewing). Whatever a share leaves undone (a worker died, a run was
cancelled), the parent submits and awaits itself: every submission is idempotent, so nothing
is sent twice.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling

from rewards.errors import RewardsError
from rewards.ledger import Lease, LeaseKeeper, submit_margin
from rewards.params import CompletionMode, RewardsSettings, SendOptions
from rewards.steps import batch_refs
from tasks.completion import await_completion
from tasks.fulfil import submit_orders
from tasks.progress import ProgressCards
from tasks.tango import ledger, tango_client

SEND_DEPLOYMENT = "send-orders/fan-out"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@flow(name="send-orders")
def send_orders(
    batch: str,
    share: int,
    shares: int,
    lease_token: str,
    lease_epoch: int,
    submit_concurrency: int = 4,
    timeout_seconds: float = 3600,
    poll_interval_seconds: float = 2.0,
    completion_mode: CompletionMode = CompletionMode.POLL,
) -> dict[str, int]:
    """Share ``share`` of ``shares`` of batch ``batch``: every ``shares``-th order, sent under
    the lease ``lease_token`` / ``lease_epoch`` of the fulfil-rewards run that started it."""
    mine = batch_refs(ledger(), batch)[share::shares]

    get_run_logger().info(
        "Batch %s, share %d of %d: %d orders", batch, share + 1, shares, len(mine)
    )
    deadline = time.monotonic() + timeout_seconds
    lease = Lease(batch, lease_token, lease_epoch, expires=0.0)
    margin = submit_margin(tango_client().settings.timeout_seconds)
    seconds = RewardsSettings().lease_seconds
    cards = ProgressCards(len(mine))
    with LeaseKeeper(ledger(), lease, seconds, margin, renew=False) as keeper:
        submit_orders(mine, keeper, submit_concurrency, deadline, cards)
    return await_completion(
        mine,
        batch=batch,
        mode=completion_mode,
        deadline=deadline,
        poll_interval_seconds=poll_interval_seconds,
        concurrency=submit_concurrency,
        cards=cards,
    )


def fan_out(batch: str, shares: int, lease: Lease, options: SendOptions) -> list[str]:
    """Start ``shares`` send-orders runs on the work pool and wait until each has ended (or the
    timeout passes); returns their final state names. A share that failed is not an error
    here: the caller finishes whatever is left."""
    logger = get_run_logger()
    common = {
        "batch": batch,
        "shares": shares,
        "lease_token": lease.token,
        "lease_epoch": lease.epoch,
        "submit_concurrency": options.submit_concurrency,
        "timeout_seconds": options.timeout_seconds,
        "poll_interval_seconds": options.poll_interval_seconds,
        "completion_mode": options.completion_mode.value,
    }
    try:  # timeout=0: start them all, then wait below
        runs = [
            run_deployment(SEND_DEPLOYMENT, parameters={**common, "share": s}, timeout=0)
            for s in range(shares)
        ]
    except ObjectNotFound:
        raise RewardsError(
            f"fan_out={shares} needs the deployment {SEND_DEPLOYMENT}: register it with "
            "`rewards deploy --pool NAME` (or `rewards serve`) and start workers, or run "
            "with fan_out=0. Nothing was sent"
        ) from None
    logger.info("Started %d send-orders runs for batch %s", shares, batch)
    deadline = time.monotonic() + options.timeout_seconds
    states: dict[Any, str] = {}
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for run in runs:
                if states.get(run.id) not in FINAL:
                    state = client.read_flow_run(run.id).state
                    states[run.id] = state.type.value if state else "PENDING"
            if all(s in FINAL for s in states.values()):
                break
            time.sleep(min(options.poll_interval_seconds, 5.0))
        for run in runs:  # not started or not finished in time: this run takes over
            if states.get(run.id) not in FINAL:
                _cancel(client, run.id, states.get(run.id))
    names = [states.get(r.id, "PENDING") for r in runs]
    if any(n != "COMPLETED" for n in names):
        logger.warning("send-orders runs ended %s; finishing the rest in this run", names)
    return names


def _cancel(client: Any, run_id: Any, state: str | None) -> None:
    message = "fulfil-rewards stopped waiting for this share and finished it itself"
    # a running share is asked to stop (its worker kills it); one never started is cancelled
    new = Cancelling(message=message) if state == "RUNNING" else Cancelled(message=message)
    client.set_flow_run_state(run_id, new, force=True)
