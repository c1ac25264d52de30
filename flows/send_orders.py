"""send-orders: submit and await one share of a batch's recorded orders.

fulfil-rewards records every order of a batch in the shared ledger before anything is sent.
With ``fan_out`` = N > 0 it then starts that many send-orders runs (the deployment
``send-orders/fan-out``), so workers on several machines share one large file; each run takes
every n-th open order of the batch from the ledger. Whatever a share leaves undone (a worker
died, a run was cancelled), the parent submits and awaits itself: every submission is
idempotent, so nothing is sent twice.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling

from rewards import progress
from rewards.errors import RewardsError
from rewards.params import RewardsSettings
from tasks.fulfil import await_completion, open_orders, submit_order
from tasks.tango import ledger

SEND_DEPLOYMENT = "send-orders/fan-out"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def send_and_await(
    refs: list[str],
    *,
    batch: str,
    ledger_url: str,
    submit_concurrency: int,
    timeout_seconds: float,
    poll_interval_seconds: float,
    mode: str,
) -> dict[str, int]:
    """Submit the orders among ``refs`` not yet accepted, ``submit_concurrency`` at a time,
    then wait until every one is final (or the timeout passes)."""
    states = {o["external_ref_id"]: o["state"] for o in ledger(ledger_url).batch_orders(batch)}
    planned = [r for r in refs if states.get(r) == "planned"]
    for start in range(0, len(planned), submit_concurrency):
        wave = planned[start : start + submit_concurrency]
        submit_order.map(wave, ledger_url=ledger_url).result()
        progress.report("orders submitted", start + len(wave), len(planned))
    return await_completion(
        refs,
        ledger_url=ledger_url,
        timeout_seconds=timeout_seconds,
        poll_interval_seconds=poll_interval_seconds,
        mode=mode,
        batch=batch,
        concurrency=submit_concurrency,
    )


@flow(name="send-orders")
def send_orders(
    batch: str,
    share: int,
    shares: int,
    submit_concurrency: int = 4,
    timeout_seconds: float = 3600,
    poll_interval_seconds: float = 2.0,
    completion_mode: str = "poll",
) -> dict[str, int]:
    """Share ``share`` of ``shares`` of batch ``batch``: every ``shares``-th open order."""
    ledger_url = RewardsSettings().ledger_url
    mine = open_orders(batch, ledger_url)[share::shares]
    get_run_logger().info(
        "Batch %s, share %d of %d: %d orders", batch, share + 1, shares, len(mine)
    )
    return send_and_await(
        mine,
        batch=batch,
        ledger_url=ledger_url,
        submit_concurrency=submit_concurrency,
        timeout_seconds=timeout_seconds,
        poll_interval_seconds=poll_interval_seconds,
        mode=completion_mode,
    )


def fan_out(
    batch: str,
    shares: int,
    *,
    submit_concurrency: int,
    timeout_seconds: float,
    poll_interval_seconds: float,
    mode: str,
) -> list[str]:
    """Start ``shares`` send-orders runs on the work pool and wait until each has ended (or the
    timeout passes); returns their final state names. A share that failed is not an error
    here: the caller finishes whatever is left."""
    logger = get_run_logger()
    common = {
        "batch": batch,
        "shares": shares,
        "submit_concurrency": submit_concurrency,
        "timeout_seconds": timeout_seconds,
        "poll_interval_seconds": poll_interval_seconds,
        "completion_mode": mode,
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
    deadline = time.monotonic() + timeout_seconds
    states: dict[Any, str] = {}
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for run in runs:
                if states.get(run.id) not in FINAL:
                    state = client.read_flow_run(run.id).state
                    states[run.id] = state.type.value if state else "PENDING"
            if all(s in FINAL for s in states.values()):
                break
            time.sleep(min(poll_interval_seconds, 5.0))
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
