"""From valid rows to async orders: line-item bodies, chunks, and what was sent before."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from .columns import ROW
from .identity import batch_id, line_item_ids, order_ref
from .ledger import Owner, PlannedOrder

ADDRESS_FIELDS = {
    "street_line_1": "streetLine1",
    "street_line_2": "streetLine2",
    "city": "city",
    "state_or_province": "stateOrProvince",
    "postal_code": "postalCode",
    "country": "country",
}


def line_item_body(row: dict[str, Any]) -> dict[str, Any]:
    """One row as a Tango ``LineItem`` (wire names; empty values left out)."""
    recipient: dict[str, Any] = {
        k: v
        for k, v in (
            ("firstName", row["first_name"]),
            ("lastName", row["last_name"]),
            ("email", row["email"]),
            ("mobileNumber", row["mobile_number"]),
        )
        if v
    }
    if row["delivery_method"] == "ADDRESS":
        recipient["address"] = {wire: row[col] for col, wire in ADDRESS_FIELDS.items() if row[col]}
    body: dict[str, Any] = {
        "externalRefLineItemID": row["line_id"],
        "utid": row["utid"],
        "amount": float(Decimal(row["amount"])),
        "deliveryMethod": row["delivery_method"],
        "recipient": recipient,
    }
    if int(row["quantity"]) != 1:
        body["quantity"] = int(row["quantity"])
    for col, wire in (
        ("delivery_date", "deliveryDate"),
        ("message", "message"),
        ("email_subject", "emailSubject"),
        ("shipping_method", "shippingMethod"),
    ):
        if row[col]:
            body[wire] = row[col]
    return body


@dataclass
class Plan:
    batch: str
    account: str
    customer: str
    line_ids: pd.Series  # aligned with the valid rows
    new_orders: list[PlannedOrder]  # to be claimed in the ledger
    already_sent: pd.DataFrame  # valid rows another batch holds, with where
    to_send: pd.DataFrame  # valid rows this batch sends (new or resumed)
    costs: dict[str, Decimal] = field(default_factory=dict)  # per currency, value + fees


def plan_batch(
    valid: pd.DataFrame,
    *,
    account: str,
    customer: str,
    chunk_size: int,
    owners: dict[str, Owner] | None = None,
    order_notes: str | None = None,
    first_chunk: int = 0,
    ids: pd.Series | None = None,
) -> Plan:
    """Split the valid rows into this batch's orders. ``owners`` (from the ledger) says which
    line ids are held already; those held by another batch are "already sent", those held by
    this batch are resumed as they were planned."""
    ids = line_item_ids(valid, account) if ids is None else ids
    batch = batch_id(ids.tolist(), account)
    owners = owners or {}
    owner_batch = ids.map({k: o.batch_id for k, o in owners.items()})
    elsewhere = owner_batch.notna() & (owner_batch != batch)
    fresh = owner_batch.isna()
    rows = valid.assign(line_id=ids)

    already = rows[elsewhere].copy()
    if len(already):
        info = already["line_id"].map(owners)
        already["sent_in_batch"] = [o.batch_id for o in info]
        already["sent_in_order"] = [o.external_ref_id for o in info]
        already["sent_from_file"] = [o.source_name for o in info]
        already["sent_at"] = [o.created_at for o in info]
        already["sent_status"] = [o.line_item_status or o.state for o in info]

    new_orders: list[PlannedOrder] = []
    chunk = first_chunk
    pending = rows[fresh].sort_values(["campaign", ROW], kind="stable")
    for campaign, group in pending.groupby("campaign", sort=True):
        records = group.to_dict("records")
        for start in range(0, len(records), chunk_size):
            part = records[start : start + chunk_size]
            ref = order_ref(batch, chunk)
            body: dict[str, Any] = {
                "externalRefID": ref,
                "customerIdentifier": customer,
                "accountIdentifier": account,
                "lineItems": [line_item_body(r) for r in part],
            }
            if campaign:
                body["campaign"] = campaign
            if order_notes:
                body["notes"] = order_notes
            new_orders.append(PlannedOrder(ref, chunk, body))
            chunk += 1
    to_send = rows[~elsewhere]
    # what this run may still charge: new lines, and resumed lines never accepted by Tango
    owner_state = ids.map({k: o.state for k, o in owners.items()})
    chargeable = rows[fresh | (~elsewhere & (owner_state == "planned"))]
    value = chargeable["amount"].map(Decimal) * chargeable["quantity"] + chargeable["fee"].map(
        Decimal
    )
    costs = {cur: sum(v, Decimal(0)) for cur, v in value.groupby(chargeable["currency"])}
    return Plan(
        batch=batch,
        account=account,
        customer=customer,
        line_ids=ids,
        new_orders=new_orders,
        already_sent=already,
        to_send=to_send,
        costs=costs,
    )
