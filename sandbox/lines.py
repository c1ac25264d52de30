"""What can be done to a line item after its order was placed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .accounts import credit
from .errors import ApiError
from .fulfilment import Fulfilment
from .store import Store

CANCEL_REASONS = {
    "DELIVERY_INFO",
    "REWARD_AMOUNT",
    "REWARD_TYPE",
    "RECIPIENT",
    "CURRENCY",
    "RECIPIENT_REQUESTED",
    "RECIPIENT_OBLIGATIONS",
    "DUPLICATE",
    "FRAUD",
    "OTHER",
}


class Lines:
    def __init__(self, store: Store, fulfilment: Fulfilment) -> None:
        self.store = store
        self.fulfilment = fulfilment

    def cancel(self, ref_li: str, body: Any) -> str:
        if not isinstance(body, dict) or body.get("reasonCode") not in CANCEL_REASONS:
            raise ApiError(
                400,
                "reasonCode is required",
                [
                    {
                        "path": "reasonCode",
                        "code": "Enum",
                        "message": f"one of {sorted(CANCEL_REASONS)}",
                    }
                ],
            )
        with self.store.tx() as c:
            li = c.execute(
                "SELECT * FROM line_items WHERE reference_line_item_id=?", (ref_li,)
            ).fetchone()
            if not li:
                raise ApiError(400, f"Line item {ref_li} not found")
            if li["status"] != "PENDING":
                raise ApiError(422, f"Line item {ref_li} is {li['status']} and cannot be cancelled")
            order = c.execute(
                "SELECT * FROM orders WHERE reference_order_id=?", (li["reference_order_id"],)
            ).fetchone()
            credit(c, order["account_identifier"], Decimal(li["charged"]))  # refund
            c.execute(
                "UPDATE line_items SET status='CANCELLED', delivery_status='FAILED', "
                "charged='0' WHERE reference_line_item_id=?",
                (ref_li,),
            )
            if order["status"] == "PENDING":
                self.fulfilment.maybe_finish(c, li["reference_order_id"])
        return "Accepted"
