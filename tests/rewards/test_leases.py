"""The ledger's leases and takeover, step by step, on SQLite and PostgreSQL: a run POSTs only
under its live lease; another batch takes lines over only from an expired lease whose epoch did
not change, and only by a compare-and-set (see rewards/ledger.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proof.postgres import fresh_database
from rewards.ledger import Claimed, LeaseKeeper, LeaseLostError, Ledger, LineState, OrderState
from rewards.planning import plan_batch
from rewards.standing import Positions, Standing, stand
from tests.rewards.test_identity_planning_ledger import valid_rows


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
        yield ledger
        ledger.close()
    else:
        with fresh_database() as url:
            ledger = Ledger(url)
            yield ledger
            ledger.close()


def claim(book: Ledger, rows, name: str, seconds: float, positions=None) -> tuple[object, Claimed]:
    plan = plan_batch(rows, account="acct", customer="cust", chunk_size=3, positions=positions)
    claimed = book.claim(
        batch=plan.batch,
        account="acct",
        customer="cust",
        source_name=name,
        source_sha256="0" * 64,
        planned=plan.new_orders(),
        lines=plan.new_lines,
        lease_seconds=seconds,
    )
    return plan, claimed


def test_a_run_may_submit_only_under_its_live_lease_with_time_to_spare(book: Ledger) -> None:
    _, a = claim(book, valid_rows(3), "a.csv", seconds=2.0)
    ref = a.orders[0].external_ref_id
    assert book.may_submit(ref, a.lease, margin=0.5)
    assert not book.may_submit(ref, a.lease, margin=5.0)  # not enough time left
    _, again = claim(book, valid_rows(3), "a.csv", seconds=2.0)  # a new run of the same batch
    assert again.lease.epoch == a.lease.epoch + 1
    assert not book.may_submit(ref, a.lease, margin=0.5)  # the old run lost it at once
    assert book.may_submit(ref, again.lease, margin=0.5)
    book.record_acceptance(ref, 202, {})
    assert not book.may_submit(ref, again.lease, margin=0.5)  # sent: never POSTed by us again


def test_renewal_keeps_a_lease_and_cannot_revive_an_expired_one(book: Ledger) -> None:
    _, a = claim(book, valid_rows(2), "a.csv", seconds=1.0)
    renewed = book.renew(a.lease, 1.0)
    assert renewed is not None and renewed.expires > a.lease.expires
    time.sleep(1.2)
    assert book.renew(renewed, 60) is None  # too late: someone may be acting on the expiry
    book.release(renewed)


def test_the_keeper_renews_while_alive_and_its_guard_refuses_once_lost(book: Ledger) -> None:
    _, a = claim(book, valid_rows(3), "a.csv", seconds=1.5)
    ref = a.orders[0].external_ref_id
    with LeaseKeeper(book, a.lease, seconds=1.5, margin=0.5) as keeper:
        time.sleep(2.5)  # past the first expiry: renewed meanwhile
        keeper.guard(ref)
        claim(book, valid_rows(3), "a.csv", seconds=1.5)  # another run takes the batch
        with pytest.raises(LeaseLostError):
            keeper.guard(ref)


def test_void_only_after_expiry_and_only_if_the_epoch_is_unchanged(book: Ledger) -> None:
    rows = valid_rows(4)
    plan_a, a = claim(book, rows, "a.csv", seconds=1.0)
    ref = a.orders[0].external_ref_id
    assert not book.void(ref, a.lease.epoch)  # the lease is live: no takeover
    time.sleep(1.2)
    seen = book.holders("acct", plan_a.line_ids.tolist())[plan_a.line_ids[0]]
    assert not seen.lease_live
    _, again = claim(book, rows, "a.csv", seconds=1.0)  # A restarted after we looked
    time.sleep(1.2)  # ...and died again: expired, but not the lease we saw
    assert not book.void(ref, seen.lease_epoch)
    assert book.order(ref).state is OrderState.PLANNED
    assert book.void(ref, again.lease.epoch)  # the lease as it is now: void
    assert book.order(ref).state is OrderState.VOID
    assert not book.void(ref, again.lease.epoch)  # once
    assert not book.may_submit(ref, again.lease, margin=0.0)  # a void order is never POSTed
    lines = {li.external_ref_line_item_id: li for li in book.batch_lines(plan_a.batch)}
    assert {lines[i].state for i in a.orders[0].line_ids} == {LineState.RELEASED}


def test_released_lines_go_to_the_next_batch_that_contains_them(book: Ledger) -> None:
    rows = valid_rows(4)
    _, a = claim(book, rows, "a.csv", seconds=0.5)
    time.sleep(0.7)
    for order in a.orders:
        assert book.void(order.external_ref_id, a.lease.epoch)
    bigger = valid_rows(5)
    ids = plan_batch(bigger, account="acct", customer="cust", chunk_size=3).line_ids
    holders = book.holders("acct", ids.tolist())
    positions = Positions({i: stand(holders.get(i), "b") for i in ids}, holders)
    assert set(positions.standing.values()) == {Standing.NEW}
    plan_b, b = claim(book, bigger, "b.csv", seconds=60, positions=positions)
    claimed = [lid for o in b.orders for lid in o.line_ids]
    assert sorted(claimed) == sorted(ids)  # all five: A's four released ones and the new one
    holders = book.holders("acct", ids.tolist())
    assert {h.batch_id for h in holders.values()} == {plan_b.batch}


def test_a_line_held_by_a_live_run_is_busy_and_by_a_dead_one_takeable(book: Ledger) -> None:
    rows = valid_rows(2)
    plan_a, a = claim(book, rows, "a.csv", seconds=1.0)
    lid = plan_a.line_ids[0]
    assert stand(book.holders("acct", [lid])[lid], "b") is Standing.BUSY
    assert stand(book.holders("acct", [lid])[lid], plan_a.batch) is Standing.RESUMED
    time.sleep(1.2)
    assert stand(book.holders("acct", [lid])[lid], "b") is Standing.TAKEABLE
    book.record_acceptance(a.orders[0].external_ref_id, 200, {})  # found at Tango after all
    assert stand(book.holders("acct", [lid])[lid], "b") is Standing.SENT_BEFORE


def test_an_expired_hold_is_left_alone_for_the_grace(book: Ledger) -> None:
    """A request sent just before a run died may still be on its way to Tango: its rows are
    taken over only ``grace`` seconds after the lease expired."""
    plan_a, a = claim(book, valid_rows(2), "a.csv", seconds=0.3)
    lid = plan_a.line_ids[0]
    time.sleep(0.5)
    holder = book.holders("acct", [lid])[lid]
    assert not holder.lease_live
    assert stand(holder, "b", grace=60) is Standing.BUSY
    assert not book.void(a.orders[0].external_ref_id, a.lease.epoch, grace=60)
    assert stand(holder, "b", grace=0.1) is Standing.TAKEABLE
    assert book.void(a.orders[0].external_ref_id, a.lease.epoch, grace=0.1)
