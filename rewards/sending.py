"""Sending recorded orders and reading their outcome back: Prefect-free.

``submit`` POSTs an order exactly as the ledger holds it (safe to repeat: the same
``externalRefID`` makes Tango return the original). ``refresh`` reads the order summary
(never credentials) into the ledger and says whether the order is final.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from raas import CreateAsyncOrderCriteria, InsufficientFundsError, InvalidRequestError, RaasClient

from .errors import GateError
from .ledger import Ledger

log = logging.getLogger("rewards")


def submit(client: RaasClient, book: Ledger, external_ref_id: str) -> str:
    row = book.order(external_ref_id)
    if row is None or row["state"] != "planned":
        return row["state"] if row else "missing"
    body = json.loads(row["request_json"])
    try:
        result = client.create_async_order(CreateAsyncOrderCriteria.model_validate(body))
    except InvalidRequestError as exc:
        book.record_rejection(external_ref_id, exc.http_code or 400, str(exc))
        log.error("Tango rejected order %s: %s", external_ref_id, exc)
        return "rejected"
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
    book.record_acceptance(external_ref_id, result.http_code, failed)
    return "accepted" if result.created else "accepted (already known to Tango)"


def refresh(client: RaasClient, book: Ledger, external_ref_id: str) -> bool:
    summary = client.get_async_order_summary(external_ref_id)
    final = (summary.orderStatus or "PENDING") != "PENDING"
    lines = []
    for li in summary.lineItems:
        money = li.amountCharged
        charged = money.total if money and money.total is not None else Decimal(0)
        lines.append(
            {
                "id": li.externalRefLineItemID,
                "status": li.lineItemStatus,
                "delivery": li.deliveryStatus,
                "reference": li.referenceLineItemId,
                "charged": f"{charged:.2f}",
                "scheduled": li.scheduledDeliveryDate,
                "error": "; ".join(e.errorMessage or e.errorCode or "" for e in li.lineItemErrors)
                or None,
            }
        )
    total = summary.amountCharged.total if summary.amountCharged else None
    book.record_status(
        external_ref_id,
        summary.orderStatus or "PENDING",
        summary.referenceOrderID,
        f"{total:.2f}" if total is not None else None,
        lines,
        final,
    )
    return final
