"""Stored orders and line items as Tango shows them: the summary's line (never a credential),
the ``.../lineItems`` line (with credentials) and an order's money."""

from __future__ import annotations

import json
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._models import CatalogItem

from .line_states import refusal, shows_credentials
from .wire import clean

EXPIRATION = "2099-12-31T00:00:00Z"  # sandbox rewards do not expire
ETID = "E000000"  # the default email template


def recipient(li: Row) -> dict[str, Any]:
    return json.loads(li["recipient_json"])


def line_errors(li: Row) -> list[dict[str, Any]]:
    return json.loads(li["errors_json"]) if li["errors_json"] else []


def order_money(c: Connection, row: Row) -> dict[str, Any]:
    lines = c.execute(
        "SELECT amount, quantity, fee, charged FROM line_items WHERE "
        "reference_order_id=? AND status != 'FAILED'",
        (row["reference_order_id"],),
    ).fetchall()
    value = sum((Decimal(li["amount"]) * li["quantity"] for li in lines), Decimal(0))
    total = sum((Decimal(li["charged"]) for li in lines), Decimal(0))
    return {
        "currencyCode": row["currency_code"],
        "value": value,
        "total": total,
        "shippingFee": Decimal(0),
    }


def line_money(li: Row) -> dict[str, Any]:
    """``amountCharged`` of a line: nothing once it was refunded (failed, cancelled)."""
    value = Decimal(li["amount"]) * li["quantity"]
    charged = Decimal(li["charged"])
    return {
        "value": value if charged else Decimal(0),
        "currencyCode": li["currency_code"],
        "exchangeRate": Decimal(1),
        "fee": Decimal(li["fee"]) if charged else Decimal(0),
        "total": charged,
    }


def line_summary(li: Row) -> dict[str, Any]:
    return clean(
        {
            "referenceLineItemId": li["reference_line_item_id"],
            "externalRefLineItemID": li["external_ref_line_item_id"],
            "lineItemStatus": li["status"],
            "deliveryStatus": li["delivery_status"],
            "recipient": recipient(li),
            "deliveryMethod": li["delivery_method"],
            "rewardName": li["reward_name"],
            "quantity": li["quantity"],
            "amount": Decimal(li["amount"]),
            "amountCharged": line_money(li),
            "scheduledDeliveryDate": li["scheduled_delivery_date"],
            "lineItemErrors": line_errors(li),
        }
    )


def line_with_credentials(li: Row, order: Row, item: CatalogItem | None) -> dict[str, Any]:
    """SECRET: a line of ``.../{externalRefID}/lineItems``, its reward's credentials included
    (none once the reward is frozen or cancelled). ``li`` has ``reward_state``."""
    money = line_money(li)
    creds = json.loads(li["credentials_json"]) if li["credentials_json"] else []
    if not shows_credentials(li):
        creds = []
    rewards = [
        {
            "rewardStatus": li["reward_state"],
            "credentialList": creds,
            "redemptionInstructions": item.redemptionInstructions if item else "",
        }
    ]
    return clean(
        {
            "referenceLineItemID": li["reference_line_item_id"],
            "externalRefLineItemID": li["external_ref_line_item_id"],
            "lineItemStatus": li["status"],
            "lineItemErrors": line_errors(li),
            "deliveryStatus": li["delivery_status"],
            "deliveryMethod": li["delivery_method"],
            "scheduledDeliveryDate": li["scheduled_delivery_date"],
            "etid": ETID,
            "utid": li["utid"],
            "canCancel": refusal("cancel", li) is None,
            "canFreeze": refusal("freeze", li) is None,
            "rewardName": li["reward_name"] or "",
            "quantity": li["quantity"],
            "shippingMethod": li["shipping_method"],
            "amountIssued": money,
            "amountCharged": money,
            "dateIssued": li["date_issued"] or order["created_at"],
            "expirationDate": EXPIRATION,
            "recipient": recipient(li),
            "emailSubject": li["email_subject"],
            "message": li["message"],
            "lineItemNotes": li["line_item_note"],
            "rewards": rewards if creds else [],
        }
    )
