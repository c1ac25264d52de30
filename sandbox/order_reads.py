"""Reading async orders back: the summary (never a credential), the line items with their
credentials, the list."""

from __future__ import annotations

import json
from sqlite3 import Connection, Row
from typing import Any

from raas._models import Catalog

from .errors import ApiError
from .line_states import REWARD_STATE
from .store import Store
from .views import line_summary, line_with_credentials, order_money
from .wire import clean, cursor_page, decode_cursor, page_bounds


class OrderReads:
    def __init__(self, store: Store, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def _row(self, c: Connection, customer: str, account: str, ref: str) -> Row:
        row = c.execute(
            "SELECT * FROM orders WHERE customer_identifier=? AND account_identifier=? AND "
            "external_ref_id=?",
            (customer, account, ref),
        ).fetchone()
        if not row:
            raise ApiError(404, f"Async order {ref} not found on account {account}")
        return row

    def summary(
        self, customer: str, account: str, ref: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The order and one page of its line items, without any credential."""
        with self.store.tx() as c:
            row = self._row(c, customer, account, ref)
            lines, pagination = _line_page(c, row, params)
            total = c.execute(
                "SELECT COUNT(*) FROM line_items WHERE reference_order_id=?",
                (row["reference_order_id"],),
            ).fetchone()[0]
            return clean(
                {
                    "referenceOrderID": row["reference_order_id"],
                    "externalRefID": row["external_ref_id"],
                    "orderStatus": row["status"],
                    "createdAt": row["created_at"],
                    "completedAt": row["completed_at"],
                    "customerIdentifier": row["customer_identifier"],
                    "accountIdentifier": row["account_identifier"],
                    "sender": json.loads(row["sender_json"]) if row["sender_json"] else None,
                    "amountCharged": order_money(c, row),
                    "campaign": row["campaign"],
                    "purchaseOrderNumber": row["purchase_order_number"],
                    "notes": row["notes"],
                    "totalLineItems": total,
                    "pagination": pagination,
                    "orderErrors": [],
                    "lineItems": [line_summary(li) for li in lines],
                }
            )

    def line_items(
        self, customer: str, account: str, ref: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The order's line items *with credentials* (Tango's ``.../lineItems`` view)."""
        with self.store.tx() as c:
            row = self._row(c, customer, account, ref)
            lines, pagination = _line_page(c, row, params)
            items = [
                line_with_credentials(li, row, self.catalog.item(li["utid"] or "")) for li in lines
            ]
            return clean(
                {
                    "referenceOrderID": row["reference_order_id"],
                    "externalRefID": row["external_ref_id"],
                    "accountIdentifier": row["account_identifier"],
                    "customerIdentifier": row["customer_identifier"],
                    "amountCharged": order_money(c, row),
                    "campaign": row["campaign"],
                    "orderNotes": row["notes"],
                    "orderStatus": row["status"],
                    "orderErrors": [],
                    "pagination": pagination,
                    "lineItems": items,
                }
            )

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /asyncOrders``: FAILED orders are left out, as Tango does."""
        size = page_bounds(params.get("maxResults"), 50, 500)
        offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
        where, args = ["o.status != 'FAILED'"], []
        for param, column in LIST_FILTERS:
            if params.get(param):
                where.append(f"o.{column}=?")
                args.append(params[param])
        sql = " AND ".join(where)
        with self.store.tx() as c:
            total = c.execute(f"SELECT COUNT(*) FROM orders o WHERE {sql}", args).fetchone()[0]
            rows = c.execute(
                f"SELECT o.*, a.account_number FROM orders o JOIN accounts a ON "
                f"a.account_identifier=o.account_identifier WHERE {sql} ORDER BY o.seq "
                f"LIMIT ? OFFSET ?",
                [*args, size, offset],
            ).fetchall()
            orders = [_order_view(c, row) for row in rows]
        return clean(
            {**cursor_page(offset, size, len(rows), total), "maxResults": size, "orders": orders}
        )


LIST_FILTERS = (
    ("accountIdentifier", "account_identifier"),
    ("customerIdentifier", "customer_identifier"),
    ("externalRefID", "external_ref_id"),
    ("orderStatus", "status"),
    ("campaign", "campaign"),
)


def _line_page(c: Connection, row: Row, params: dict[str, Any]) -> tuple[list[Row], dict[str, Any]]:
    size = page_bounds(params.get("maxResults"), 100, 1000)
    offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
    where = "reference_order_id=?"
    args: list[Any] = [row["reference_order_id"]]
    if str(params.get("failedOnly", "")).lower() == "true":
        where += " AND status='FAILED'"
    for param, column in (
        ("externalRefLineItemIDs", "external_ref_line_item_id"),
        ("referenceLineItemIDs", "reference_line_item_id"),
    ):
        if params.get(param):
            ids = str(params[param]).split(",")
            where += f" AND {column} IN ({','.join('?' * len(ids))})"
            args += ids
    total = c.execute(f"SELECT COUNT(*) FROM line_items WHERE {where}", args).fetchone()[0]
    lines = c.execute(
        f"SELECT l.*, {REWARD_STATE} AS reward_state FROM line_items l WHERE {where} "
        "ORDER BY seq LIMIT ? OFFSET ?",
        [*args, size, offset],
    ).fetchall()
    pagination = clean(
        {
            **cursor_page(offset, size, len(lines), total),
            "maxResults": size,
            "numberOfElements": len(lines),
        }
    )
    return lines, pagination


def _order_view(c: Connection, row: Row) -> dict[str, Any]:
    """An order as ``GET /asyncOrders`` lists it."""
    count = c.execute(
        "SELECT COUNT(*) FROM line_items WHERE reference_order_id=?",
        (row["reference_order_id"],),
    ).fetchone()[0]
    return clean(
        {
            "createdAt": row["created_at"],
            "referenceOrderID": row["reference_order_id"],
            "externalRefID": row["external_ref_id"],
            "customerIdentifier": row["customer_identifier"],
            "accountIdentifier": row["account_identifier"],
            "accountNumber": row["account_number"],
            "campaign": row["campaign"] or "",
            "notes": row["notes"],
            "purchaseOrderNumber": row["purchase_order_number"],
            "orderStatus": row["status"],
            "totalLineItemsRows": count,
            "amountCharged": order_money(c, row),
        }
    )
