"""Changes that deliver nothing: a line's delivery date, sender and note
(``PATCH /asyncOrders/lineItems/{id}``), a line's bookkeeping fields (``PATCH /lineItems/{id}``)
and an order's (``PATCH /asyncOrders/.../{externalRefID}``). Each sets values, so repeating one
changes nothing more."""

from __future__ import annotations

import json
from typing import Any

from raas._line_items import (
    UpdateAsyncLineItemCriteria,
    UpdateAsyncOrderCriteria,
    UpdateLineItemCriteria,
)
from raas._models import Catalog

from . import line_states
from .errors import ApiError
from .line_checks import reschedule_problem, scheduled_at
from .order_reads import OrderReads
from .store import Store, update_given
from .wire import clean, field_error, parse


class LineUpdates:
    def __init__(self, store: Store, catalog: Catalog, order_reads: OrderReads) -> None:
        self.store = store
        self.catalog = catalog
        self.order_reads = order_reads

    def update_async_line(self, ref_li: str, body: Any) -> dict[str, Any]:
        """Move a scheduled line's date (7-90 days ahead, as when placed), change the sender
        of a line not yet delivered, or its note."""
        change = parse(UpdateAsyncLineItemCriteria, body)
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 404)
            when = None
            if change.deliveryDate is not None:
                line_states.refuse(li, line_states.refusal("reschedule", li), 400)
                item = self.catalog.item(li["utid"] or "")
                if problem := reschedule_problem(item, change.deliveryDate):
                    raise ApiError(400, problem, [field_error("deliveryDate", "Invalid", problem)])
                when = scheduled_at(change.deliveryDate)
            sender = None
            if change.senderInfo is not None:
                if li["status"] != "PENDING":
                    raise ApiError(
                        400,
                        f"Line item {ref_li} is {line_states.state(li)}: the sender changes "
                        "only before delivery",
                        [field_error("senderInfo", "LINE_ITEM_STATUS", li["status"])],
                    )
                sender = change.senderInfo.model_dump_json(exclude_none=True)
            values = {
                "scheduled_delivery_date": when,
                "sender_json": sender,
                "line_item_note": change.lineItemNote,
            }
            update_given(c, "line_items", "reference_line_item_id", ref_li, values)
            now = line_states.find(c, ref_li)
        assert now is not None
        raw_sender = now["sender_json"] or now["order_sender_json"]
        return clean(
            {
                "deliveryDate": now["scheduled_delivery_date"],
                "note": now["line_item_note"],
                "senderInfo": json.loads(raw_sender) if raw_sender else None,
            }
        )

    def update_line(self, ref_li: str, body: Any) -> str:
        """A line's own campaign, purchase order number and order notes (shown instead of
        its order's)."""
        change = parse(UpdateLineItemCriteria, body)
        values = {
            "campaign": change.campaign,
            "purchase_order_number": change.purchaseOrderNumber,
            "order_notes": change.orderNotes,
        }
        with self.store.tx() as c:
            line_states.get(c, ref_li, 400)
            update_given(c, "line_items", "reference_line_item_id", ref_li, values)
        return "Accepted"

    def update_order(
        self, customer: str, account: str, ref: str, body: Any, params: dict[str, Any]
    ) -> dict[str, Any]:
        """An order's campaign, purchase order number and notes; answers its summary."""
        change = parse(UpdateAsyncOrderCriteria, body)
        values = {
            "campaign": change.campaign,
            "purchase_order_number": change.purchaseOrderNumber,
            "notes": change.notes,
        }
        with self.store.tx() as c:
            row = c.execute(
                "SELECT reference_order_id FROM orders WHERE customer_identifier=? AND "
                "account_identifier=? AND external_ref_id=?",
                (customer, account, ref),
            ).fetchone()
            if row is None:  # the document lists no 404 for this operation
                raise ApiError(
                    400,
                    f"Async order {ref} not found on account {account}",
                    [field_error("externalRefID", "NotFound", f"no order {ref}")],
                )
            update_given(c, "orders", "reference_order_id", row["reference_order_id"], values)
        return self.order_reads.summary(customer, account, ref, params)
