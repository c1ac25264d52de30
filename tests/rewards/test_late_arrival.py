"""A dead run's order that reaches Tango after its rows were taken over (a request held in a
network queue past the grace): the run that took them over says so, loudly, and names the
rows that went out twice. The sandbox over HTTP; the late POST is made by hand."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from raas import CreateAsyncOrderCriteria, RaasClient
from rewards import steps
from rewards.ledger import LeaseKeeper, Ledger
from rewards.reading import Sheet
from rewards.validation import Validated
from tests.helpers import ACCOUNT, CUSTOMER
from tests.rewards.test_identity_planning_ledger import valid_rows


def test_an_order_that_arrives_after_its_rows_were_taken_over_is_reported(
    client: RaasClient, tmp_path: Path, campaign: str
) -> None:
    book = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ctx = steps.Context(book, lambda _order: client)
    rows = valid_rows(3, campaign=campaign)
    sheet = Sheet(frame=rows[["row_number"]].copy(), source=str(tmp_path / "a.csv"))
    (tmp_path / "a.csv").write_text("x")

    def plan_and_claim(lease: float):
        plan = steps.plan(
            ctx,
            rows,
            account=ACCOUNT,
            customer=CUSTOMER,
            chunk_size=10,
            wait_until=time.monotonic() + 30,
        )
        return plan, steps.record(ctx, plan, sheet, lease)

    dead_plan, _ = plan_and_claim(lease=0.5)  # a run that dies before it POSTs
    held = book.order(steps.batch_refs(book, dead_plan.batch)[0])  # ...but its request is
    assert held is not None  # held somewhere on the way

    time.sleep(0.7)
    # another file with the same rows: the dead run's order is void, its rows sent again
    bigger = pd.concat([rows, valid_rows(4, campaign=campaign).tail(1)], ignore_index=True)
    plan = steps.plan(
        ctx,
        bigger,
        account=ACCOUNT,
        customer=CUSTOMER,
        chunk_size=10,
        wait_until=time.monotonic() + 30,
    )
    assert plan.voided == [held.external_ref_id] and plan.unsent == 4
    claimed = steps.record(ctx, plan, sheet, 60)
    with LeaseKeeper(book, claimed.lease, 60, margin=1) as keeper:
        steps.submit(
            ctx,
            steps.batch_refs(book, plan.batch),
            keeper,
            concurrency=2,
            deadline=time.monotonic() + 30,
        )
    client.create_async_order(CreateAsyncOrderCriteria.model_validate(held.body))  # arrives late
    validated = Validated(
        valid=bigger,
        rejected=bigger.head(0).assign(problems=""),
        problems=pd.DataFrame(),
        rows_in=4,
    )
    result = steps.reconcile_batch(
        ctx, Sheet(frame=bigger[["row_number"]], source="b.csv"), validated, plan
    )
    assert not result.balanced
    (said,) = [d for d in result.discrepancies if held.external_ref_id in d]
    assert "3 reward(s) went out twice" in said and "cancel" in said
    assert any(e["kind"] == "arrived after void" for e in book.audit_trail(dead_plan.batch))
