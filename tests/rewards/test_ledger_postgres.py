"""The ledger on PostgreSQL: same schema, and claims that hold across processes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from rewards.ledger import Ledger, OrderState
from rewards.planning import plan_batch
from tests.rewards.test_identity_planning_ledger import _claim, valid_rows


def _worker(url: str, start: int, out: mp.Queue) -> None:
    rows = valid_rows(60).iloc[start:].reset_index(drop=True)
    plan = plan_batch(rows, account="acct", customer="cust", chunk_size=7)
    orders = _claim(Ledger(url), plan, f"worker-{start}.csv")
    out.put([li["externalRefLineItemID"] for o in orders for li in o.body["lineItems"]])


def test_processes_claiming_overlapping_batches_on_postgres(postgres_url: str) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(postgres_url, s, out)) for s in (0, 5, 10, 15, 20, 25)
    ]
    for p in procs:
        p.start()
    claimed = [lid for _ in procs for lid in out.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(claimed) == len(set(claimed)) == 60  # every line once, whoever won it


def test_postgres_ledger_round_trip(postgres_url: str, tmp_path: Path) -> None:
    book = Ledger(postgres_url)
    plan = plan_batch(valid_rows(3), account="acct-rt", customer="cust", chunk_size=2)
    recorded = _claim(book, plan, "rt.csv")
    assert [len(o.body["lineItems"]) for o in recorded] == [2, 1]
    ref = recorded[0].external_ref_id
    book.record_acceptance(ref, 202, {})
    assert book.order(ref).state is OrderState.ACCEPTED
    holders = book.holders("acct-rt", plan.to_send["line_id"].tolist())
    assert {h.source_name for h in holders.values()} == {"rt.csv"}
