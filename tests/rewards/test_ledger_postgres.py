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
    out.put([lid for o in orders for lid in o.line_ids])


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
    assert [len(o.line_ids) for o in recorded] == [2, 1]
    ref = recorded[0].external_ref_id
    book.record_acceptance(ref, 202, {})
    assert book.order(ref).state is OrderState.ACCEPTED
    holders = book.holders("acct-rt", plan.to_send["line_id"].tolist())
    assert {h.source_name for h in holders.values()} == {"rt.csv"}
    ids = plan.to_send["line_id"].tolist()
    recipient = dict(zip(plan.line_ids, plan.recipients, strict=True))
    table = book.holder_table("acct-rt", ids, [recipient[i] for i in ids])

    assert set(table["line_id"]) == set(holders) and set(table["source_name"]) == {"rt.csv"}
    assert set(book.line_table(plan.batch)["external_ref_line_item_id"]) == set(holders)


def test_a_failed_delivery_is_kept_once_and_a_line_found_by_either_id(postgres_url: str) -> None:
    """What ``rewards history`` reads, on PostgreSQL: the failure Tango reported, once however
    often it is polled, still known after a resend made the line COMPLETE."""
    from decimal import Decimal

    from rewards.ledger import LineStatus

    book = Ledger(postgres_url)
    plan = plan_batch(valid_rows(2), account="acct-fail", customer="cust", chunk_size=2)
    [order] = _claim(book, plan, "fail.csv")
    ref = order.external_ref_id
    book.record_acceptance(ref, 202, {})
    one, two = plan.to_send["line_id"].tolist()

    def status(line: str, state: str, number: str) -> LineStatus:
        error = "mailbox full" if state == "FAILED" else None
        return LineStatus(line, state, state, number, Decimal(0), None, error)

    failed = [status(one, "FAILED", "RA-1"), status(two, "COMPLETE", "RA-2")]
    book.record_status(ref, "PARTIAL", "RO-1", "5.00", failed, final=True)
    book.record_status(ref, "PARTIAL", "RO-1", "5.00", failed, final=True)  # polled again
    resent = [status(one, "COMPLETE", "RA-1"), status(two, "COMPLETE", "RA-2")]
    book.record_status(ref, "COMPLETE", "RO-1", "10.00", resent, final=True)
    [failure] = book.delivery_failures("RA-1")
    assert failure["reason"] == "mailbox full" and failure["line"] == one and failure["at"]
    assert book.delivery_failures("RA-2") == []
    by_reference, by_external = book.sent_line("RA-1"), book.sent_line(one)
    assert by_reference and by_external and by_reference == by_external
    assert by_reference["reference_line_item_id"] == "RA-1"
