"""The fulfil-rewards steps without Prefect, for scripts (benchmarks, proof campaigns) that
want the same work minus orchestration. The flow in ``flows/`` remains the product."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from raas import RaasClient

from .identity import line_item_ids
from .ledger import Ledger
from .planning import Plan, plan_batch
from .reading import read_recipients
from .reconcile import Reconciliation, reconcile
from .sending import refresh, submit
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
) -> PlainRun:
    sheet = read_recipients(path, sheet_name)
    account = client.get_account()
    valid = validate(sheet.frame, client.get_catalog(), account.currencyCode, options)
    ids = line_item_ids(valid.valid, account.accountIdentifier)
    customer = client.settings.customer_identifier or ""
    plan = plan_batch(
        valid.valid,
        account=account.accountIdentifier,
        customer=customer,
        chunk_size=chunk,
        ids=ids,
        owners=book.owners(account.accountIdentifier, ids.tolist()),
    )
    rows = {
        r["line_id"]: (r["row_number"], r["amount"], r["currency"])
        for r in plan.to_send.to_dict("records")
    }
    book.claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=path.name,
        source_sha256="-",
        planned=plan.new_orders,
        rows=rows,
    )
    refs = [o["external_ref_id"] for o in book.batch_orders(plan.batch)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda r: submit(client, book, r), refs))
    waiting = [
        o["external_ref_id"] for o in book.batch_orders(plan.batch) if o["state"] == "accepted"
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
        to_send=plan.to_send,
        already_sent=plan.already_sent,
        ledger_lines=book.batch_lines(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
    )
    return PlainRun(valid, plan, result)
