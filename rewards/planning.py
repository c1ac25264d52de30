"""From valid rows to async orders: line-item bodies, chunks, and what was sent before."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from raas import rules

from .columns import ADDRESS, ROW, WIRED, Column, Kind
from .identity import batch_id, line_item_ids, order_ref, recipient_keys
from .ledger import Holder, PlannedOrder
from .standing import TO_SEND, Positions, Standing


def _money(value: str) -> float:
    return float(Decimal(value))


def _count(value: int) -> int | None:
    return int(value) if int(value) != 1 else None  # 1 is Tango's default: left out


# A line item's layout, walked per row: (wire key, column, conversion, nested layout)
Layout = list[tuple[str, str, Callable[[Any], Any] | None, "Layout | None"]]
_CONVERT: dict[Kind, Callable[[Any], Any]] = {Kind.MONEY: _money, Kind.INT: _count}


def _layout(columns: Iterable[Column], depth: int = 0) -> Layout:
    """The wire paths of ``columns`` as a tree, keys in the order the columns come."""
    out: Layout = []
    nested: dict[str, list[Column]] = {}
    for c in columns:
        assert c.wire is not None
        key = c.wire[depth]
        if len(c.wire) == depth + 1:
            out.append((key, c.name, _CONVERT.get(c.kind), None))
        elif key in nested:
            nested[key].append(c)
        else:
            nested[key] = [c]
            out.append((key, "", None, []))
    return [
        (k, n, f, _layout(nested[k], depth + 1) if k in nested else sub) for k, n, f, sub in out
    ]


_MAILING = frozenset(rules.methods_needing(rules.POSTAL_ADDRESS.paths[0]))  # ADDRESS
_MAILED = _layout(WIRED)
_NOT_MAILED = _layout(c for c in WIRED if c.wire is not None and c.wire[: len(ADDRESS)] != ADDRESS)


def _fill(layout: Layout, row: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    for key, name, convert, nested in layout:
        if nested is not None:  # containers always: an empty recipient is sent as {}
            out[key] = _fill(nested, row, {})
        elif value := row[name]:  # empty values left out
            if convert is None:
                out[key] = value
            elif (converted := convert(value)) is not None:
                out[key] = converted
    return out


def line_item_body(row: dict[str, Any]) -> dict[str, Any]:
    """One row as a Tango ``LineItem``: each column at its wire path (rewards.columns), empty
    values left out; the postal address only for a method that needs it (ADDRESS)."""
    layout = _MAILED if row["delivery_method"] in _MAILING else _NOT_MAILED
    return _fill(layout, row, {"externalRefLineItemID": row["line_id"]})


@dataclass
class Plan:
    batch: str
    account: str
    customer: str
    line_ids: pd.Series  # aligned with the valid rows
    recipients: pd.Series  # each valid row's recipient key (identity.recipient_keys) or None
    standing: pd.Series  # each valid row's Standing, aligned with the valid rows
    new_orders: list[PlannedOrder]  # to be claimed in the ledger
    already_sent: pd.DataFrame  # valid rows another batch sent, with where and when
    busy: pd.DataFrame  # valid rows a live run of another batch is sending
    to_send: pd.DataFrame  # valid rows this batch sends, resumes or awaits
    costs: dict[str, Decimal] = field(default_factory=dict)  # not yet at Tango: value + fees
    voided: list[str] = field(default_factory=list)  # dead runs' orders whose rows it took over

    @property
    def recipient_of(self) -> dict[str, str | None]:
        """Line id -> recipient key (for :meth:`rewards.ledger.Ledger.holders`)."""
        return dict(zip(self.line_ids, self.recipients, strict=True))

    @property
    def unsent(self) -> int:
        """Rows this run would still have to send (the cost covers exactly these)."""
        return int(self.standing.isin(TO_SEND).sum())


def _where(rows: pd.DataFrame, holders: dict[str, Holder]) -> pd.DataFrame:
    """The rows, with the batch, order, file, date and status of whoever holds each."""
    out = rows.copy()
    info = [holders[i] for i in out["line_id"]]
    out["sent_in_batch"] = [h.batch_id for h in info]
    out["sent_in_order"] = [h.external_ref_id for h in info]
    out["sent_from_file"] = [h.source_name for h in info]
    out["sent_at"] = [h.created_at for h in info]
    out["sent_status"] = [h.status for h in info]
    return out


def plan_batch(
    valid: pd.DataFrame,
    *,
    account: str,
    customer: str,
    chunk_size: int,
    positions: Positions | None = None,
    order_notes: str | None = None,
    first_chunk: int = 0,
    ids: pd.Series | None = None,
    recipients: pd.Series | None = None,
) -> Plan:
    """Split the valid rows into this batch's orders. ``positions`` (from
    :func:`rewards.standing.settle`) says where each line stands: lines sent by another batch
    are "already sent", lines a live run of another batch holds are "busy", lines this batch
    holds are resumed as they were planned, and the rest go into new orders."""
    ids = line_item_ids(valid, account) if ids is None else ids
    recipients = recipient_keys(valid, account) if recipients is None else recipients
    batch = batch_id(ids.tolist(), account)
    positions = positions or Positions({}, {})
    standing = ids.map(lambda i: positions.standing.get(i, Standing.NEW))
    rows = valid.assign(line_id=ids)
    elsewhere = standing.isin([Standing.SENT_BEFORE, Standing.BUSY])

    new_orders: list[PlannedOrder] = []
    chunk = first_chunk
    fresh = standing.isin([Standing.NEW, Standing.TAKEABLE])
    pending = rows[fresh].sort_values(["campaign", ROW], kind="stable")
    for campaign, group in pending.groupby("campaign", sort=True):
        for start in range(0, len(group), chunk_size):
            # an order's rows as dicts at a time: a million rows as dicts would not fit
            part = group.iloc[start : start + chunk_size].to_dict("records")

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
            new_orders.append(PlannedOrder.of(ref, chunk, body))
            chunk += 1
    chargeable = rows[standing.isin(TO_SEND)]
    value = chargeable["amount"].map(Decimal) * chargeable["quantity"] + chargeable["fee"].map(
        Decimal
    )
    costs = {cur: sum(v, Decimal(0)) for cur, v in value.groupby(chargeable["currency"])}
    return Plan(
        batch=batch,
        account=account,
        customer=customer,
        line_ids=ids,
        recipients=recipients,
        standing=standing,
        new_orders=new_orders,
        already_sent=_where(rows[standing == Standing.SENT_BEFORE], positions.holders),
        busy=_where(rows[standing == Standing.BUSY], positions.holders),
        to_send=rows[~elsewhere],
        costs=costs,
        voided=list(positions.voided),
    )
