"""Sending recorded orders and reading their outcome back: Prefect-free.

``submit`` POSTs an order exactly as the ledger holds it (safe to repeat: the same
``externalRefID`` makes Tango return the original), only while the run's lease allows it.
``refresh`` reads the order summary (never credentials) into the ledger and says whether the
order is final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

from raas import (
    AsyncOrderDetailView,
    CreateAsyncOrderCriteria,
    InsufficientFundsError,
    InvalidRequestError,
    RaasClient,
    RetryPolicy,
)

from .errors import GateError
from .ledger import LeaseKeeper, LeaseLostError, Ledger, LineStatus, OrderState

log = logging.getLogger("rewards")


class Submitted(StrEnum):
    ACCEPTED = "accepted"
    KNOWN = "accepted (already known to Tango)"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # not planned any more (sent, rejected or void)
    LEASE_LOST = "lease lost"  # another run of this batch took over; it sends this order


def submit(
    client: RaasClient,
    book: Ledger,
    external_ref_id: str,
    keeper: LeaseKeeper,
    retry: RetryPolicy | None = None,
    by: str | None = None,
) -> Submitted:
    """POST the order if it is still planned and the lease allows; ``by``: this run's id,
    kept in the ledger beside the order Tango accepted."""
    row = book.order(external_ref_id)
    if row is None or row.state is not OrderState.PLANNED:
        return Submitted.SKIPPED
    try:
        result = client.create_async_order(
            CreateAsyncOrderCriteria.model_validate(row.body),
            retry=retry,
            before_attempt=lambda: keeper.guard(external_ref_id),
        )
    except LeaseLostError as exc:
        log.warning("%s", exc)
        return Submitted.LEASE_LOST
    except InvalidRequestError as exc:
        book.record_rejection(external_ref_id, exc.http_code or 400, str(exc))
        log.error("Tango rejected order %s: %s", external_ref_id, exc)
        return Submitted.REJECTED
    except InsufficientFundsError as exc:
        raise GateError(
            f"Tango refused order {external_ref_id} for lack of funds ({exc}); "
            "fund the account and run the same file again to send the rest"
        ) from exc
    failed = {
        f.externalRefLineItemID: "; ".join(f"{e.field}: {e.message}" for e in f.errors)
        for f in result.order.failedLineItems
        if f.externalRefLineItemID
    }
    book.record_acceptance(external_ref_id, result.http_code, failed, by)
    return Submitted.ACCEPTED if result.created else Submitted.KNOWN


def read_status(
    summary: AsyncOrderDetailView,
) -> tuple[str, str | None, str | None, list[LineStatus], bool]:
    """(order status, reference order id, charged total, lines, final) from a summary: the
    arguments of :meth:`Ledger.record_status` after the order's id."""
    status = summary.orderStatus or "PENDING"
    lines = [
        LineStatus(
            line_id=li.externalRefLineItemID or "",
            status=li.lineItemStatus,
            delivery=li.deliveryStatus,
            reference=li.referenceLineItemId,
            charged=(
                li.amountCharged.total
                if li.amountCharged and li.amountCharged.total is not None
                else Decimal(0)
            ),
            scheduled=li.scheduledDeliveryDate,
            error="; ".join(e.errorMessage or e.errorCode or "" for e in li.lineItemErrors) or None,
        )
        for li in summary.lineItems
    ]
    total = summary.amountCharged.total if summary.amountCharged else None
    charged = f"{total:.2f}" if total is not None else None
    return status, summary.referenceOrderID, charged, lines, status != "PENDING"


def refresh(
    client: RaasClient, book: Ledger, external_ref_id: str, retry: RetryPolicy | None = None
) -> bool:
    order = book.order(external_ref_id)
    summary = client.get_async_order_summary(
        external_ref_id,
        customer=order.customer_identifier if order else None,
        account=order.account_identifier if order else None,
        retry=retry,
    )
    status, reference, charged, lines, final = read_status(summary)
    book.record_status(external_ref_id, status, reference, charged, lines, final)
    return final


def patient(until: float, say: Callable[[str], None]) -> RetryPolicy:
    """Retries of transient failures (connection, 5xx, 429, timeouts) until ``until``
    (``time.monotonic()``), with a line for each: an outage costs time, not the run."""
    return RetryPolicy(max_attempts=1_000_000, max_delay=10.0, deadline=until, notify=say)
