"""The fulfil-rewards steps as Prefect tasks: thin wrappers over ``rewards`` and ``raas``.

No Prefect retries here: the client already retries what is safe to retry (Tango's rules),
and stacking retries would only multiply attempts. Caching is off: the ledger, not Prefect,
decides what has been done. An expected stop (a file that cannot be used, a gate) is a
:class:`~rewards.errors.RewardsError`; :func:`expected` turns it into a failed task state with
its one-line message, so no traceback reaches the run's log.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import ParamSpec, TypeVar

from prefect import get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from raas import Account, Catalog, RaasError
from rewards import progress, sending, sources
from rewards.errors import RewardsError, explain
from rewards.identity import batch_id, line_item_ids
from rewards.ledger import Claimed, LeaseKeeper, OrderState
from rewards.planning import Plan, plan_batch
from rewards.reading import Sheet, read_recipients
from rewards.reconcile import Mode, Reconciliation, reconcile
from rewards.sending import Submitted
from rewards.standing import Positions, settle, settle_waiting
from rewards.summary import CostPreview
from rewards.validation import Validated, ValidationOptions, validate

from .tango import client_for, ledger, tango_client

P = ParamSpec("P")
R = TypeVar("R")


def step(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A task that may stop the run for an expected reason: a :class:`RewardsError`, or Tango
    failing after every retry, ends the task Failed with one line (no traceback), and the
    caller gets a RewardsError with that line."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except RaasError as exc:
                failure = RewardsError(explain(exc))
            except RewardsError as exc:
                failure = exc
            get_run_logger().error("%s", failure)
            return Failed(message=str(failure))  # type: ignore[return-value]

        run = task(name=name, cache_policy=NO_CACHE)(guarded)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            state = run(*args, return_state=True, **kwargs)
            if state.is_failed():
                raise RewardsError(state.message or f"{name} failed")
            return state.result()

        return call

    return decorate


@step("load-spreadsheet")
def load_spreadsheet(path: str, sheet_name: str | None) -> Sheet:
    sheet = read_recipients(sources.confine(path), sheet_name)
    get_run_logger().info(
        "Read %d rows from %s (%s)",
        len(sheet.frame),
        Path(path).name,
        sheet.encoding or f"sheet {sheet.sheet_name!r}",
    )
    return sheet


@step("fetch-account-and-catalog")
def fetch_account_and_catalog(customer: str | None, account: str | None) -> tuple[Account, Catalog]:
    client = tango_client(customer, account)
    return client.get_account(), client.get_catalog()


@task(name="validate-rows", cache_policy=NO_CACHE)
def validate_rows(
    sheet: Sheet, catalog: Catalog, currency: str, options: ValidationOptions
) -> Validated:
    result = validate(sheet.frame, catalog, currency, options)
    get_run_logger().info("%d rows valid, %d rejected", len(result.valid), len(result.rejected))
    return result


@step("plan-orders")
def plan_orders(
    validated: Validated, *, account: str, customer: str, chunk_size: int, wait_until: float | None
) -> Plan:
    """Where each valid row stands (settled with Tango where a run died), then this batch's
    orders. ``wait_until`` (monotonic): wait while live runs of other batches send some of
    these rows; None (a dry run) looks once and writes nothing."""
    book = ledger()
    ids = line_item_ids(validated.valid, account)
    batch = batch_id(ids.tolist(), account)
    logger = get_run_logger()
    if wait_until is None:
        positions: Positions = settle(book, client_for, account, ids.tolist(), batch, False)
    else:
        positions = settle_waiting(
            book, client_for, account, ids.tolist(), batch, deadline=wait_until, say=logger.info
        )
    for ref in positions.found:
        logger.info(
            "Order %s is at Tango although its run never heard: its rows count as sent", ref
        )
    for ref in positions.voided:
        logger.info("Order %s never reached Tango and its run is gone: its rows are free", ref)
    existing = book.batch_orders(batch)
    plan = plan_batch(
        validated.valid,
        account=account,
        customer=customer,
        chunk_size=chunk_size,
        positions=positions,
        ids=ids,
        first_chunk=max((o.chunk_index for o in existing), default=-1) + 1,
    )
    logger.info(
        "Batch %s: %d rows to send in %d new orders, %d sent before, %d being sent by other runs",
        plan.batch,
        plan.unsent,
        len(plan.new_orders),
        len(plan.already_sent),
        len(plan.busy),
    )
    return plan


@task(name="check-balance", cache_policy=NO_CACHE)
def check_balance(plan: Plan, account: Account) -> CostPreview:
    preview = CostPreview(
        currency=account.currencyCode,
        cost=plan.costs.get(account.currencyCode, Decimal(0)),
        balance=account.currentBalance,
        rows=plan.unsent,
        account=account.accountIdentifier,
    )
    get_run_logger().info("Cost: %s", preview.text())
    return preview


@task(name="record-orders", cache_policy=NO_CACHE)
def record_orders(plan: Plan, sheet: Sheet, lease_seconds: float) -> Claimed:
    """Write the batch's orders into the ledger before anything is sent, and take the batch's
    lease (see :mod:`rewards.ledger`)."""
    rows = {
        r["line_id"]: (int(r["row_number"]), r["amount"], r["currency"])
        for r in plan.to_send[["line_id", "row_number", "amount", "currency"]].to_dict("records")
    }
    return ledger().claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=Path(sheet.source).name,
        source_sha256=_sha256(sheet.source),
        planned=plan.new_orders,
        rows=rows,
        lease_seconds=lease_seconds,
    )


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_refs(batch: str) -> list[str]:
    """The batch's orders that exist or may still be sent, in chunk order (what the report
    covers): not void."""
    return [
        o.external_ref_id for o in ledger().batch_orders(batch) if o.state is not OrderState.VOID
    ]


def orders_to_await(plan: Plan) -> list[str]:
    """The batch's orders, and the unfinished orders of other batches that hold rows of this
    file (a run that died after Tango took them never learnt how they ended: this run does,
    for the ledger and for its report)."""
    book = ledger()
    theirs = sorted(set(plan.already_sent.get("sent_in_order", [])))
    unfinished = [r for r in theirs if (o := book.order(r)) and o.state is OrderState.ACCEPTED]
    return batch_refs(plan.batch) + unfinished


@step("submit-orders")
def submit_orders(
    refs: list[str], keeper: LeaseKeeper, concurrency: int, deadline: float
) -> dict[str, int]:
    """POST each of ``refs`` still planned, ``concurrency`` at a time, riding out Tango
    outages until ``deadline`` (monotonic); returns how many ended how."""
    book, logger = ledger(), get_run_logger()
    planned = [r for r in refs if (o := book.order(r)) and o.state is OrderState.PLANNED]
    retry = sending.patient(deadline, logger.warning)
    me = str(runtime.flow_run.id)

    def one(ref: str) -> Submitted:
        order = book.order(ref)
        assert order is not None
        return sending.submit(client_for(order), book, ref, keeper, retry, by=me)

    counts: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done, outcome in enumerate(pool.map(one, planned), start=1):
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
            progress.report("orders submitted", done, len(planned))
    if planned:
        logger.info("Submitted %d orders: %s", len(planned), counts)
    return counts


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile_batch(
    sheet: Sheet,
    validated: Validated,
    plan: Plan,
    mode: Mode = Mode.SEND,
    unsent_reason: str = "not submitted",
) -> Reconciliation:
    book = ledger()
    return reconcile(
        original=sheet.frame,
        rejected=validated.rejected,
        valid=validated.valid.assign(line_id=plan.line_ids),
        batch=plan.batch,
        holders=book.holders(plan.account, plan.line_ids.tolist()),
        ledger_lines=book.batch_lines(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
        mode=mode,
        extra_columns=sheet.unknown_columns,
        unsent_reason=unsent_reason,
    )
