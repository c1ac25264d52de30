"""Finding line items: ``GET /lineItems`` (filters, keyset pages), ``GET /lineItems/{id}``
and an embedded line's URL."""

from __future__ import annotations

import json
from typing import Any

from raas._models import Catalog, DeliveryMethod

from . import line_states
from .errors import ApiError
from .line_views import line_detail, line_view
from .store import Store
from .wire import field_error

# query parameter -> SQL over LINE_SELECT's columns (equality)
EQUAL_FILTERS = {
    "referenceOrderID": "l.reference_order_id",
    "externalRefID": "o.external_ref_id",
    "utid": "l.utid",
    "status": "l.status",
    "emailStatus": line_states.EMAIL_STATUS,
    "deliveryMethod": "l.delivery_method",
    "deliveryStatus": "l.delivery_status",
    "orderStatus": "o.status",
    "accountIdentifier": "o.account_identifier",
    "campaign": "COALESCE(l.campaign, o.campaign)",
    "purchaseOrderNumber": "COALESCE(l.purchase_order_number, o.purchase_order_number)",
    "orderNotes": "COALESCE(l.order_notes, o.notes)",
    "recipientEmail": "json_extract(l.recipient_json, '$.email')",
    "recipientMobileNumber": "json_extract(l.recipient_json, '$.mobileNumber')",
    "recipientFirstName": "json_extract(l.recipient_json, '$.firstName')",
    "recipientLastName": "json_extract(l.recipient_json, '$.lastName')",
    "recipientStreetLine1": "json_extract(l.recipient_json, '$.address.streetLine1')",
    "recipientStreetLine2": "json_extract(l.recipient_json, '$.address.streetLine2')",
    "recipientCity": "json_extract(l.recipient_json, '$.address.city')",
    "recipientStateOrProvince": "json_extract(l.recipient_json, '$.address.stateOrProvince')",
    "recipientPostalCode": "json_extract(l.recipient_json, '$.address.postalCode')",
    "recipientCountry": "json_extract(l.recipient_json, '$.address.country')",
    "orderSource": "'RA'",
    "etid": "'E000000'",
    "ptid": "NULL",
}
ISSUED_AT = "COALESCE(l.date_issued, o.created_at)"
DEFAULT_BLOCK, MAX_BLOCK = 50, 500


def _where(params: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The SQL conditions the query's filters make (every filter of the document)."""
    where: list[str] = []
    args: list[Any] = []
    for name, column in EQUAL_FILTERS.items():
        if params.get(name):
            where.append(f"{column} = ?")
            args.append(params[name])
    if params.get("startDate"):
        where.append(f"{ISSUED_AT} >= ?")
        args.append(params["startDate"])
    if params.get("endDate"):
        where.append(f"{ISSUED_AT} <= ?")
        args.append(params["endDate"])
    for name, op in (("minRemainingBalance", ">="), ("maxRemainingBalance", "<=")):
        if params.get(name):
            where.append(f"{line_states.REMAINING} {op} ?")
            args.append(_number(params, name))
    if params.get("hasRemainingBalance"):
        op = ">" if params["hasRemainingBalance"].lower() == "true" else "="
        where.append(f"{line_states.REMAINING} {op} 0")
    return where, args


def _number(params: dict[str, Any], name: str) -> float:
    try:
        return float(params[name])
    except ValueError as exc:
        raise ApiError(
            400, f"{name} must be a number", [field_error(name, "Type", "number")]
        ) from exc


def _block(params: dict[str, Any]) -> int:
    raw = params.get("elementsPerBlock") or DEFAULT_BLOCK
    try:
        size = int(raw)
    except ValueError as exc:
        raise ApiError(
            400,
            "elementsPerBlock must be a number",
            [field_error("elementsPerBlock", "Type", "integer")],
        ) from exc
    if size < 1:
        raise ApiError(
            400,
            "elementsPerBlock must be at least 1",
            [field_error("elementsPerBlock", "Min", ">= 1")],
        )
    return min(size, MAX_BLOCK)


class LineReads:
    def __init__(self, store: Store, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def get(self, ref_li: str) -> dict[str, Any]:
        """SECRET: ``GET /lineItems/{id}`` carries the reward's credentials, as Tango's does."""
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 404)
            return line_detail(c, li, self.catalog.item(li["utid"] or ""))

    def embedded_url(self, ref_li: str) -> dict[str, str]:
        """SECRET: the URL an embedded reward is shown at (it grants the reward)."""
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 400)
        embedded = li["delivery_method"] in (
            DeliveryMethod.EMBEDDED,
            DeliveryMethod.EMBEDDED_COMPONENT,
        )
        if not embedded or li["reward_state"] != "ACTIVE":
            raise ApiError(
                400,
                f"Line item {ref_li} is {line_states.state(li)} by {li['delivery_method']}: "
                "only an active embedded reward has a URL",
                [
                    field_error(
                        "referenceLineItemID", "LINE_ITEM_STATUS", "not an active embedded reward"
                    )
                ],
            )
        creds = json.loads(li["credentials_json"] or "[]")
        urls = [cr["value"] for cr in creds if cr.get("type") == "url"]
        token = creds[0]["value"] if creds else ref_li
        return {"url": urls[0] if urls else f"https://rewards.sandbox.invalid/embed/{token}"}

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /lineItems``: newest first unless ``columnSortAscending``; pages by keys."""
        sort = params.get("columnSortName") or "dateIssued"
        if sort != "dateIssued":
            raise ApiError(
                400,
                f"The sandbox sorts line items by dateIssued only, not {sort}",
                [field_error("columnSortName", "Enum", "dateIssued")],
            )
        ascending = str(params.get("columnSortAscending", "false")).lower() == "true"
        backwards = str(params.get("pagePrevious", "false")).lower() == "true"
        size = _block(params)
        where, args = _where(params)
        with self.store.tx() as c:
            total = c.execute(
                f"SELECT COUNT(*) FROM ({line_states.LINE_SELECT}{_and(where)})", args
            ).fetchone()[0]
            rows = _keyset_page(c, where, args, params.get("pageKeys"), ascending, backwards, size)
            page = rows[:size]
            if backwards:
                page.reverse()
            keys = _page_keys(c, where, args, page, ascending)
        return {
            "keysetPage": {**keys, "resultCount": len(page), "totalCount": total},
            "lineItems": [line_view(li) for li in page],
        }


def _and(where: list[str]) -> str:
    return (" WHERE " + " AND ".join(where)) if where else ""


def _keyset_page(
    c: Any,
    where: list[str],
    args: list[Any],
    page_keys: str | None,
    ascending: bool,
    backwards: bool,
    size: int,
) -> list[Any]:
    """Up to ``size + 1`` rows after (or, going back, before) the key, in reading order
    (reversed when going back)."""
    forward_up = ascending != backwards  # walking towards larger keys
    conditions = list(where)
    bound = list(args)
    if page_keys:
        key = _key(page_keys)
        conditions.append("l.rowid > ?" if forward_up else "l.rowid < ?")
        bound.append(key)
    order = "ASC" if forward_up else "DESC"
    return c.execute(
        f"{line_states.LINE_SELECT}{_and(conditions)} ORDER BY l.rowid {order} LIMIT ?",
        [*bound, size + 1],
    ).fetchall()


def _key(page_keys: str) -> int:
    try:
        return int(str(page_keys).split(",")[0])
    except ValueError as exc:
        raise ApiError(
            400, "Unknown page key", [field_error("pageKeys", "Invalid", "unknown page key")]
        ) from exc


def _page_keys(
    c: Any, where: list[str], args: list[Any], page: list[Any], ascending: bool
) -> dict[str, list[str]]:
    """``nextPageKeys`` / ``previousPageKeys``: the last / first key shown, when there are lines
    beyond it."""
    if not page:
        return {"nextPageKeys": [], "previousPageKeys": []}
    first, last = page[0]["line_key"], page[-1]["line_key"]
    after, before = ("l.rowid > ?", "l.rowid < ?") if ascending else ("l.rowid < ?", "l.rowid > ?")

    def exists(condition: str, key: int) -> bool:
        sql = f"SELECT 1 FROM ({line_states.LINE_SELECT}{_and([*where, condition])}) LIMIT 1"
        return c.execute(sql, [*args, key]).fetchone() is not None

    return {
        "nextPageKeys": [str(last)] if exists(after, last) else [],
        "previousPageKeys": [str(first)] if exists(before, first) else [],
    }
