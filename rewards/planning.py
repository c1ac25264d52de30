"""From valid rows to async orders: line-item bodies, chunks, and what was sent before."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from raas import rules

from .columns import ADDRESS, ROW, WIRED, Column, Kind
from .identity import batch_id, line_item_ids, order_ref, recipient_keys
from .ledger import CLAIMED_COLUMNS, Holder, PlannedOrder
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
    # a line per line of the new orders (to be claimed in the ledger), order by order: what
    # the ledger records of each (NEW_LINE_COLUMNS), indexed by its row's label in ``rows``
    new_lines: pd.DataFrame
    already_sent: pd.DataFrame  # valid rows another batch sent, with where and when
    busy: pd.DataFrame  # valid rows a live run of another batch is sending
    rows: pd.DataFrame  # the valid rows with their line_id (sharing the valid rows' columns)
    costs: dict[str, Decimal] = field(default_factory=dict)  # not yet at Tango: value + fees
    voided: list[str] = field(default_factory=list)  # dead runs' orders whose rows it took over
    order_notes: str | None = None

    @property
    def order_count(self) -> int:
        """New orders planned."""
        return int(self.new_lines["external_ref_id"].nunique())

    def new_orders(self) -> Iterator[PlannedOrder]:
        """The new orders' requests, made one at a time when asked: a million rows' requests
        at once were half a gigabyte of text the ledger then held anyway."""
        refs = self.new_lines["external_ref_id"].to_numpy(object)
        if not len(refs):  # every row was sent or planned before
            return
        bounds = [0, *(np.flatnonzero(refs[1:] != refs[:-1]) + 1), len(refs)]
        # the rows in the orders' order, taken once (a take per order re-joins Arrow's chunks)
        rows = self.rows.loc[self.new_lines.index]
        for start, stop in itertools.pairwise(bounds):
            lines = self.new_lines.iloc[start:stop]
            part = rows.iloc[start:stop].to_dict("records")
            ref = str(refs[start])
            body: dict[str, Any] = {
                "externalRefID": ref,
                "customerIdentifier": self.customer,
                "accountIdentifier": self.account,
                "lineItems": [line_item_body(r) for r in part],
            }
            if campaign := part[0]["campaign"]:
                body["campaign"] = campaign
            if self.order_notes:
                body["notes"] = self.order_notes
            yield PlannedOrder.of(ref, int(lines["chunk_index"].iloc[0]), body)

    @property
    def to_send(self) -> pd.DataFrame:
        """Valid rows this batch sends, resumes or awaits (made when asked: a copy of a
        million rows held through the run was 300 MB nobody read)."""
        return self.rows[~self.standing.isin([Standing.SENT_BEFORE, Standing.BUSY])]

    @property
    def unsent(self) -> int:
        """Rows this run would still have to send (the cost covers exactly these)."""
        return int(self.standing.isin(TO_SEND).sum())


NEW_LINE_COLUMNS = [*CLAIMED_COLUMNS, "chunk_index"]  # what a claim records, and the order's place


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

    placed: list[pd.Index] = []  # each new order's rows (labels of ``rows``)
    fresh = standing.isin([Standing.NEW, Standing.TAKEABLE])
    pending = rows.loc[fresh, ["campaign", ROW]].sort_values(["campaign", ROW], kind="stable")
    for _, group in pending.groupby("campaign", sort=True):  # an order has one campaign
        placed += [group.index[at : at + chunk_size] for at in range(0, len(group), chunk_size)]
    del pending
    return Plan(
        batch=batch,
        account=account,
        customer=customer,
        line_ids=ids,
        recipients=recipients,
        standing=standing,
        new_lines=_new_lines(batch, rows, recipients, placed, first_chunk),
        already_sent=_where(rows[standing == Standing.SENT_BEFORE], positions.holders),
        busy=_where(rows[standing == Standing.BUSY], positions.holders),
        rows=rows,
        costs=_costs(rows[standing.isin(TO_SEND)]),
        voided=list(positions.voided),
        order_notes=order_notes,
    )


def _new_lines(
    batch: str,
    rows: pd.DataFrame,
    recipients: pd.Series,
    placed: list[pd.Index],
    first_chunk: int,
) -> pd.DataFrame:
    """The new orders' lines as columns, order by order (``placed``: each order's rows)."""
    if not placed:
        return pd.DataFrame(columns=NEW_LINE_COLUMNS)
    at = placed[0].append(placed[1:])
    sizes = [len(p) for p in placed]
    chunks = range(first_chunk, first_chunk + len(placed))
    lines = rows.loc[at, ["line_id", ROW, "amount", "currency"]]
    return lines.assign(
        external_ref_id=pd.array(np.repeat([order_ref(batch, c) for c in chunks], sizes), "str"),
        chunk_index=np.repeat(chunks, sizes),
        recipient_key=recipients.loc[at],
    )[NEW_LINE_COLUMNS]


def _costs(chargeable: pd.DataFrame) -> dict[str, Decimal]:
    """Per currency, the amounts times their quantities plus the fees, exact: the amounts in
    integer cents row by row, the fees as decimals once per distinct fee."""
    if chargeable.empty:
        return {}
    value = chargeable["amount_cents"] * chargeable["quantity"]
    amounts = value.groupby(chargeable["currency"]).sum()
    fees = chargeable.groupby(["currency", "fee"]).size()
    costs = {str(c): Decimal(int(v)).scaleb(-2) for c, v in amounts.items()}
    for (currency, fee), n in fees.items():
        costs[str(currency)] += Decimal(fee) * n
    return costs
