"""Line items as ``GET /lineItems``, ``GET /lineItems/{id}`` and a reissue's answer show them,
from rows read with ``line_states.LINE_SELECT``."""

from __future__ import annotations

import json
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._line_items import RewardStatus
from raas._models import CatalogItem

from .line_states import refusal, shows_credentials
from .views import ETID, EXPIRATION, line_money, recipient
from .wire import clean

ORDER_SOURCE = "RA"  # placed through the RaaS API


def _sender(li: Row) -> dict[str, Any] | None:
    raw = li["sender_json"] or li["order_sender_json"]
    return json.loads(raw) if raw else None


def _errors(li: Row) -> list[dict[str, Any]]:
    stored = json.loads(li["errors_json"]) if li["errors_json"] else []
    return [{"error_code": e["errorCode"], "error_message": e["errorMessage"]} for e in stored]


def line_view(li: Row) -> dict[str, Any]:
    """``LineItemView``."""
    money = line_money(li)
    return clean(
        {
            "referenceLineItemID": li["reference_line_item_id"],
            "externalReferenceLineItemID": li["external_ref_line_item_id"],
            "referenceOrderID": li["reference_order_id"],
            "orderSource": ORDER_SOURCE,
            "status": li["status"],
            "orderStatus": li["order_status"],
            "emailStatus": li["email_status"],
            "deliveryMethod": li["delivery_method"],
            "deliveryStatus": li["delivery_status"],
            "rewardStatus": li["reward_state"],
            "canCancel": refusal("cancel", li) is None,
            "canFreeze": refusal("freeze", li) is None,
            "lineNumber": li["seq"] + 1,
            "rewardName": li["reward_name"] or "",
            "amountIssued": money,
            "amountCharged": money,
            "remainingBalance": Decimal(str(li["remaining"])),
            "dateIssued": li["date_issued"] or li["order_created_at"],
            "expirationDate": EXPIRATION,
            "accountNumber": li["account_number"],
            "accountIdentifier": li["account_identifier"],
            "etid": ETID,
            "utid": li["utid"] or "",
            "customerIdentifier": li["customer_identifier"],
            "recipient": recipient(li),
            "sender": _sender(li),
            "purchaseOrderNumber": li["purchase_order_number"] or li["order_po"],
            "campaign": li["campaign"] or li["order_campaign"],
            "orderNotes": li["order_notes"] or li["order_notes_text"],
            "lineItemActionReason": li["action_reason"],
            "reissuedFromReferenceLineItemId": li["reissued_from"],
            "reissuedToReferenceLineItemId": li["reissued_to"],
            "lineItemErrors": _errors(li),
            "quantity": li["quantity"],
        }
    )


def reward_view(li: Row, item: CatalogItem | None) -> dict[str, Any]:
    """SECRET: ``RewardView``, the credentials of an active (or redeemed) reward."""
    creds = json.loads(li["credentials_json"]) if li["credentials_json"] else []
    if not shows_credentials(li):
        creds = []
    return {
        "credentials": "; ".join(f"{c['label']}: {c['value']}" for c in creds),
        "credentialList": creds,
        "redemptionInstructions": item.redemptionInstructions if item else "",
    }


def line_detail(c: Connection, li: Row, item: CatalogItem | None) -> dict[str, Any]:
    """SECRET: ``LineItemViewVerbose``, with the line's histories and its reward."""
    ref = li["reference_line_item_id"]
    resends = c.execute(
        "SELECT * FROM resends WHERE reference_line_item_id=? ORDER BY id", (ref,)
    ).fetchall()
    actions = c.execute(
        "SELECT * FROM line_actions WHERE reference_line_item_id=? ORDER BY id", (ref,)
    ).fetchall()
    return {
        **line_view(li),
        "reward": reward_view(li, item),
        "resendHistory": [_resend_record(r) for r in resends],
        "redemptionHistory": [],
        "lineItemActionHistory": [_action_record(ref, a) for a in actions],
        "rewardViewHistory": _reward_history(li, actions),
    }


def _resend_record(r: Row) -> dict[str, Any]:
    return clean(
        {
            "dateIssued": r["created_at"],
            "recipient": {"email": r["email"], "mobileNumber": r["mobile_number"]},
            "deliveryMethod": r["delivery_method"],
            "deliveryStatus": r["delivery_status"],
            "etid": ETID,
            "reasonCode": r["reason_code"],
            "otherReason": r["other_reason"],
        }
    )


def _action_record(ref: str, a: Row) -> dict[str, Any]:
    return clean(
        {
            "action": a["action"],
            "reason": a["other_reason"] or a["reason_code"],
            "actionDate": a["at"],
            "oldReferenceLineItemId": ref if a["new_reference_line_item_id"] else None,
            "newReferenceLineItemId": a["new_reference_line_item_id"],
        }
    )


REWARD_AFTER = {"CANCEL": "CANCELLED", "FREEZE": "FROZEN", "UNFREEZE": "ACTIVE"}


def _reward_history(li: Row, actions: list[Row]) -> list[dict[str, Any]]:
    """When the reward was issued, then each change an action made to it."""
    if not li["date_issued"]:
        return []
    out = [{"date": li["date_issued"], "status": RewardStatus.ACTIVE.value}]
    for a in actions:
        if after := REWARD_AFTER.get(a["action"]):
            out.append({"date": a["at"], "status": after})
    return out


def reissued_view(li: Row, item: CatalogItem | None, created_at: str) -> dict[str, Any]:
    """``OrderViewSummary`` of the line a reissue created (at ``created_at``; not issued yet,
    so no credential)."""
    money = line_money(li)
    return clean(
        {
            "referenceOrderID": li["reference_order_id"],
            "referenceLineItemID": li["reference_line_item_id"],
            "externalRefID": li["external_ref_id"],
            "customerIdentifier": li["customer_identifier"],
            "accountIdentifier": li["account_identifier"],
            "amountCharged": money,
            "denomination": {
                "value": Decimal(li["amount"]),
                "currencyCode": li["currency_code"],
            },
            "utid": li["utid"],
            "rewardName": li["reward_name"] or "",
            "reward": reward_view(li, item),
            "sender": _sender(li) or {},
            "recipient": recipient(li),
            "emailSubject": li["email_subject"] or "",
            "message": li["message"] or "",
            "deliveryMethod": li["delivery_method"],
            "status": li["status"],
            "campaign": li["campaign"] or li["order_campaign"] or "",
            "purchaseOrderNumber": li["purchase_order_number"] or li["order_po"],
            "createdAt": created_at,
        }
    )
