"""Where each valid row stands before a run sends: sent before, being sent by a live run, or
this run's to send — after asking Tango about orders whose run died (see :mod:`.ledger`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from raas import NotFoundError, RaasClient, RaasError

from .ledger import Holder, Ledger, OrderRow, OrderState
from .sending import read_status


class Standing(StrEnum):
    NEW = "new"  # nobody holds it, or its order was void: this run sends it in a new order
    RESUMED = "resumed"  # this batch holds it in an order Tango has not confirmed: resend it
    SENT_HERE = "sent_here"  # this batch holds it and Tango has it: await it
    SENT_BEFORE = "sent_before"  # another batch holds it and Tango has it (or refused it)
    BUSY = "busy"  # another batch holds it and that batch's run is alive: not ours to send
    TAKEABLE = "takeable"  # (dry runs) a dead run held it, Tango never got it: would be sent


TO_SEND = frozenset({Standing.NEW, Standing.RESUMED, Standing.TAKEABLE})  # not at Tango yet


@dataclass
class Positions:
    """Each valid line's standing and, where a batch holds it, its holder."""

    standing: dict[str, Standing]
    holders: dict[str, Holder]
    found: list[str] = field(default_factory=list)  # orders found at Tango the ledger missed
    voided: list[str] = field(default_factory=list)  # orders that never reached Tango

    def busy(self) -> dict[str, Holder]:
        return {k: self.holders[k] for k, s in self.standing.items() if s is Standing.BUSY}


def stand(holder: Holder | None, batch: str, grace: float = 0.0) -> Standing:
    """``grace``: how long after its lease expired another batch's order is still left to it
    (a request it sent may still be on its way to Tango; see :mod:`.ledger`)."""
    if holder is None or holder.free or (holder.renamed and holder.batch_id == batch):
        return Standing.NEW

    if holder.batch_id == batch:
        return Standing.SENT_HERE if holder.sent else Standing.RESUMED
    if holder.sent:
        return Standing.SENT_BEFORE
    return Standing.TAKEABLE if holder.lease_gone_for(grace) else Standing.BUSY


ClientFor = Callable[[OrderRow], RaasClient]


def settle(
    book: Ledger,
    client_for: ClientFor,
    account: str,
    line_ids: list[str],
    batch: str,
    write: bool,
    grace: float = 0.0,
    recipients: Mapping[str, str | None] | None = None,
) -> Positions:
    """Each line's standing. Orders of other batches whose lease expired are settled with
    Tango: found there, they count as sent (and, with ``write``, the ledger learns it);
    not found, they are void and their lines free (with ``write``; a dry run only says
    ``TAKEABLE``). ``recipients``: see :meth:`rewards.ledger.Ledger.holders`."""
    found: list[str] = []
    voided: list[str] = []
    holders = book.holders(account, line_ids, recipients)
    stale = {
        h.external_ref_id: h.lease_epoch
        for h in holders.values()
        if stand(h, batch, grace) is Standing.TAKEABLE
    }
    for ref, epoch in stale.items():
        order = book.order(ref)
        if order is None or order.state is not OrderState.PLANNED:
            continue
        client = client_for(order)
        try:
            summary = client.get_async_order_summary(
                ref, customer=order.customer_identifier, account=order.account_identifier
            )
        except NotFoundError:
            if write and book.void(ref, epoch, grace):
                voided.append(ref)
            continue
        found.append(ref)
        if write:
            book.record_acceptance(ref, 200, {})
            book.record_status(ref, *read_status(summary))
    if write and (found or voided):
        holders = book.holders(account, line_ids, recipients)
    standing = {lid: stand(holders.get(lid), batch, grace) for lid in line_ids}
    if not write:  # what a dry run learnt from Tango, without writing it down
        at_tango = set(found)
        for lid, s in standing.items():
            if s is Standing.TAKEABLE and holders[lid].external_ref_id in at_tango:
                standing[lid] = Standing.SENT_BEFORE
    return Positions(standing, holders, found, voided)


def settle_waiting(
    book: Ledger,
    client_for: ClientFor,
    account: str,
    line_ids: list[str],
    batch: str,
    *,
    deadline: float,
    say: Callable[[str], None],
    grace: float = 0.0,
    pause: float = 1.0,
    recipients: Mapping[str, str | None] | None = None,
) -> Positions:
    """:func:`settle`, waiting while other batches still hold some of these lines: until
    Tango has them (then they are sent before) or their lease has been expired for ``grace``
    seconds (then they are settled), or ``deadline`` (``time.monotonic()``) passes."""
    told: set[str] = set()
    while True:
        positions = settle(
            book,
            client_for,
            account,
            line_ids,
            batch,
            write=True,
            grace=grace,
            recipients=recipients,
        )

        busy = positions.busy()
        if not busy or time.monotonic() >= deadline:
            return positions
        for other in sorted({h.batch_id for h in busy.values()} - told):
            held = [h for h in busy.values() if h.batch_id == other]
            first = held[0]
            until = first.lease_expires + grace - first.seen_at
            say(
                f"{len(held)} of these rows are held by batch {other} (from "
                f"{first.source_name}) and not yet at Tango; waiting until Tango has them, or "
                f"for up to {max(until, 0):.0f} s more if its run has stopped renewing its hold"
            )
            told.add(other)
        time.sleep(pause)


def arrived_late(
    book: Ledger, client_for: ClientFor, voided: list[str]
) -> dict[str, list[str] | None]:
    """The orders of ``voided`` that Tango has after all (a request held somewhere longer
    than the grace), with their line ids: each of those rewards went out twice (None: Tango
    could not be asked). The ledger keeps a note of it in the audit trail."""
    late: dict[str, list[str] | None] = {}
    for ref in voided:
        order = book.order(ref)
        if order is None:
            continue
        try:
            summary = client_for(order).get_async_order_summary(
                ref, customer=order.customer_identifier, account=order.account_identifier
            )
        except NotFoundError:
            continue
        except RaasError:  # Tango is away: the check cannot be made now
            late[ref] = None
            continue

        late[ref] = [li.externalRefLineItemID or "" for li in summary.lineItems]
        book.note(order.batch_id, "arrived after void", None, {"order": ref, "lines": late[ref]})
    return late
