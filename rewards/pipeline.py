"""The fulfil-rewards steps without Prefect, for scripts (benchmarks, proof campaigns) that
want the same work minus orchestration. The flow in ``flows/`` remains the product."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from raas import RaasClient

from .identity import batch_id, line_item_ids
from .ledger import LeaseKeeper, Ledger, OrderState, submit_margin
from .planning import Plan, plan_batch
from .reading import read_recipients
from .reconcile import Reconciliation, reconcile
from .sending import refresh, submit
from .standing import settle
from .validation import Validated, ValidationOptions, validate


@dataclass
class PlainRun:
    validated: Validated
    plan: Plan
    result: Reconciliation


def run_plain(
    path: Path,
    client: RaasClient,
    book: Ledger,
    *,
    chunk: int = 250,
    options: ValidationOptions | None = None,
    timeout_s: float = 300,
    sheet_name: str | None = None,
    lease_seconds: float = 300,
) -> PlainRun:
    sheet = read_recipients(path, sheet_name)
    account = client.get_account()
    valid = validate(sheet.frame, client.get_catalog(), account.currencyCode, options)
    ids = line_item_ids(valid.valid, account.accountIdentifier)
    customer = client.settings.customer_identifier or ""
    batch = batch_id(ids.tolist(), account.accountIdentifier)
    positions = settle(
        book, lambda _order: client, account.accountIdentifier, ids.tolist(), batch, True
    )
    plan = plan_batch(
        valid.valid,
        account=account.accountIdentifier,
        customer=customer,
        chunk_size=chunk,
        ids=ids,
        positions=positions,
    )
    rows = {
        r["line_id"]: (r["row_number"], r["amount"], r["currency"])
        for r in plan.to_send.to_dict("records")
    }
    claimed = book.claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=path.name,
        source_sha256="-",
        planned=plan.new_orders,
        rows=rows,
        lease_seconds=lease_seconds,
    )
    refs = [o.external_ref_id for o in book.batch_orders(plan.batch)]
    margin = submit_margin(client.settings.timeout_seconds)
    with (
        LeaseKeeper(book, claimed.lease, lease_seconds, margin) as keeper,
        ThreadPoolExecutor(4) as pool,
    ):
        list(pool.map(lambda r: submit(client, book, r, keeper), refs))
    waiting = [
        o.external_ref_id for o in book.batch_orders(plan.batch) if o.state is OrderState.ACCEPTED
    ]
    deadline, pause = time.monotonic() + timeout_s, 0.05
    while waiting and time.monotonic() < deadline:
        waiting = [r for r in waiting if not refresh(client, book, r)]
        if waiting:
            time.sleep(pause)
            pause = min(pause * 1.5, 5)
    result = reconcile(
        original=sheet.frame,
        rejected=valid.rejected,
        valid=valid.valid.assign(line_id=ids),
        batch=plan.batch,
        holders=book.holders(plan.account, ids.tolist()),
        ledger_lines=book.batch_lines(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
    )
    return PlainRun(valid, plan, result)
