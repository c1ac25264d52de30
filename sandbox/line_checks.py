"""Tango's checks of one line of an async order, as line-level failures (``failedLineItems``).

The rules themselves are ``raas.rules``'; this module names each failure with Tango's
``errorCodeName`` / ``errorCodeValue`` and the field it concerns, and is the sandbox's only
caller of ``raas.rules`` for order lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from raas import rules
from raas._models import CatalogItem, LineItem

# errorCodeValue / errorCodeName of line-level failures
LINE_ERRORS = {
    "UTID_NOT_FOUND": 1001,
    "ITEM_INACTIVE": 1002,
    "INVALID_AMOUNT": 1003,
    "DELIVERY_METHOD_NOT_SUPPORTED": 1004,
    "INVALID_RECIPIENT": 1005,
    "INVALID_DELIVERY_DATE": 1006,
    "DUPLICATE_LINE_ITEM": 1007,
    "CURRENCY_MISMATCH": 1008,
    "INVALID_QUANTITY": 1009,
}


def line_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {
        "field": field,
        "errorCodeValue": LINE_ERRORS[code],
        "errorCodeName": code,
        "message": message,
    }


def line_problems(line: LineItem, item: CatalogItem | None, currency: str) -> list[dict[str, Any]]:
    problem = rules.item_problem(item, line.utid)
    if problem or item is None:
        code = "UTID_NOT_FOUND" if item is None else "ITEM_INACTIVE"
        return [line_error("utid", code, problem or "unknown utid")]
    out = []
    if item.currencyCode != currency:
        out.append(
            line_error(
                "utid",
                "CURRENCY_MISMATCH",
                f"{item.rewardName} is in {item.currencyCode}, the account in {currency}",
            )
        )
    if problem := rules.amount_problem(item, line.amount):
        out.append(line_error("amount", "INVALID_AMOUNT", problem))
    qc = item.quantityConstraints
    qty = line.quantity or 1
    if qc and not (qc.minQuantity <= qty <= qc.maxQuantity):
        out.append(
            line_error(
                "quantity",
                "INVALID_QUANTITY",
                f"quantity must be {qc.minQuantity}..{qc.maxQuantity}",
            )
        )
    if problem := rules.method_problem(item, line.deliveryMethod.value):
        out.append(line_error("deliveryMethod", "DELIVERY_METHOD_NOT_SUPPORTED", problem))
    if found := rules.contact_problem(line.deliveryMethod.value, line):
        out.append(line_error(found[0], "INVALID_RECIPIENT", found[1]))
    if line.deliveryDate:
        try:
            when = rules.parse_delivery_date(line.deliveryDate)
        except ValueError:
            out.append(
                line_error(
                    "deliveryDate",
                    "INVALID_DELIVERY_DATE",
                    "deliveryDate is not a date (YYYY-MM-DD)",
                )
            )
        else:
            if problem := rules.delivery_date_problem(item, when):
                out.append(line_error("deliveryDate", "INVALID_DELIVERY_DATE", problem))
    return out


def line_cost(item: CatalogItem, line: LineItem) -> tuple[Decimal, Decimal]:
    """(value, fee) the line is charged."""
    return rules.line_cost(item, line.amount, line.quantity or 1)


def scheduled_date(line: LineItem) -> str:
    """A valid line's ``deliveryDate`` as the ``scheduledDeliveryDate`` Tango shows."""
    return rules.parse_delivery_date(line.deliveryDate or "").isoformat() + "T00:00:00Z"


# --- checks of the line-item actions (resend, reschedule) ----------------------------------

RESEND_FIELDS = {"recipient.email": "newEmail", "recipient.mobileNumber": "newMobileNumber"}


def resend_problems(
    item: CatalogItem | None, method: str, email: str | None, mobile: str | None
) -> list[dict[str, Any]]:
    """What stops a reward going again by ``method`` to this contact (``errors[]`` entries
    naming the resend's fields)."""
    out = []
    if item is not None and (problem := rules.method_problem(item, method)):
        out.append(_field("newDeliveryMethod", "DELIVERY_METHOD_NOT_SUPPORTED", problem))
    contact = {"recipient": {"email": email, "mobileNumber": mobile}}
    if found := rules.contact_problem(method, contact):
        out.append(_field(RESEND_FIELDS.get(found[0], found[0]), "INVALID_RECIPIENT", found[1]))
    return out


def reschedule_problem(item: CatalogItem | None, value: str) -> str | None:
    """Why a scheduled line cannot move to ``value``, if it cannot."""
    try:
        when = rules.parse_delivery_date(value)
    except ValueError:
        return "deliveryDate is not a date (YYYY-MM-DD)"
    if item is None:
        return "the line's reward is not in the catalog"
    return rules.delivery_date_problem(item, when)


def scheduled_at(value: str) -> str:
    """A valid ``deliveryDate`` as the ``scheduledDeliveryDate`` Tango shows."""
    return rules.parse_delivery_date(value).isoformat() + "T00:00:00Z"


def as_field_errors(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Line-level failures as a refusal's ``errors[]`` (path, code, message)."""
    return [_field(p["field"], p["errorCodeName"], p["message"]) for p in problems]


def _field(path: str, code: str, message: str) -> dict[str, Any]:
    return {"path": path, "code": code, "message": message}
