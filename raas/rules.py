"""Tango's business rules for one line item, as pure functions over a catalog item.

The sandbox enforces them (as Tango does) and the flow checks them before sending, so a bad
row is caught locally with a clear reason. Each returns ``None`` when the line is fine, else
a human reason. One place for each rule.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ._models import CatalogItem

SCHEDULE_MIN_DAYS = 7  # Tango: deliveryDate at least 7 days ahead
SCHEDULE_MAX_DAYS = 90  # Tango's portal: at most 90 days ahead
SCHEDULABLE_REWARD_TYPES = frozenset({"reward link", "choice"})
DIGITAL_METHODS = frozenset(
    {"EMAIL", "PHONE", "EMBEDDED", "EMBEDDED_COMPONENT", "NONE", "WHATSAPP"}
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Lengths of the text a line item carries, in characters, from Tango's OpenAPI document:
# maxLength where it gives one, else the limit the field's description states. For message
# and emailSubject it states none; we take its limit for an order's free text (campaign,
# notes: 1,024).
NAME_MAX_CHARS = 100  # recipient.firstName / lastName, digital rewards
PHYSICAL_NAME_MAX_CHARS = 25  # the same, physical rewards
NAME_FORBIDDEN = "<>/"  # "cannot use < or > or / in the name"
ADDRESS_MAX_CHARS = {  # AddressCriteria
    "streetLine1": 200,
    "streetLine2": 100,
    "city": 60,
    "stateOrProvince": 60,
    "postalCode": 12,
}
CAMPAIGN_MAX_CHARS = 1024  # CreateAsyncOrderCriteria.campaign
FREE_TEXT_MAX_CHARS = 1024  # LineItem.message, emailSubject


def delivery_methods(item: CatalogItem) -> frozenset[str]:
    """Methods the item supports. Tango's catalog states this per item in the sandbox's
    ``deliveryMethods`` extension; otherwise physical items ship, digital items do not."""
    explicit = getattr(item, "deliveryMethods", None)
    if isinstance(explicit, list) and explicit:
        return frozenset(str(m).upper() for m in explicit)
    if (item.fulfillmentType or "").upper() == "PHYSICAL":
        return frozenset({"ADDRESS"})
    return DIGITAL_METHODS


def is_schedulable(item: CatalogItem) -> bool:
    return item.rewardType.lower() in SCHEDULABLE_REWARD_TYPES


def is_active(item: CatalogItem) -> bool:
    return item.status.lower() == "active"


def item_problem(item: CatalogItem | None, utid: str) -> str | None:
    if item is None:
        return f"utid {utid} is not in the account's catalog"
    if not is_active(item):
        return f"utid {utid} ({item.rewardName}) is not active"
    return None


def amount_problem(item: CatalogItem, amount: Decimal) -> str | None:
    if amount <= 0:
        return "amount must be greater than 0"
    if item.valueType.upper() == "FIXED_VALUE":
        if item.faceValue is not None and amount != item.faceValue:
            return (
                f"{item.rewardName} has a fixed value of {item.faceValue:.2f} {item.currencyCode}"
            )
        return None
    if item.minValue is not None and amount < item.minValue:
        return f"amount is below the minimum {item.minValue:.2f} {item.currencyCode} for {item.rewardName}"
    if item.maxValue is not None and amount > item.maxValue:
        return f"amount is above the maximum {item.maxValue:.2f} {item.currencyCode} for {item.rewardName}"
    if item.isWholeAmountValueRequired and amount != amount.to_integral_value():
        return f"{item.rewardName} needs a whole amount"
    return None


def method_problem(item: CatalogItem, method: str) -> str | None:
    supported = delivery_methods(item)
    if method.upper() not in supported:
        return (
            f"{item.rewardName} cannot be delivered by {method}; "
            f"supported: {', '.join(sorted(supported))}"
        )
    return None


def contact_problem(
    method: str,
    *,
    email: str | None,
    mobile_number: str | None,
    has_address: bool,
    shipping_method: str | None,
) -> tuple[str, str] | None:
    """(field, reason) when the recipient's contact does not fit the delivery method."""
    method = method.upper()
    if method == "EMAIL" and not (email and EMAIL.match(email)):
        return "recipient.email", "EMAIL delivery needs a valid email address"
    if method in ("PHONE", "WHATSAPP") and not (mobile_number and E164.match(mobile_number)):
        return "recipient.mobileNumber", f"{method} delivery needs a mobile number in E.164 form"
    if method == "ADDRESS":
        if not has_address:
            return "recipient.address", "ADDRESS delivery needs a complete postal address"
        if not shipping_method:
            return "shippingMethod", "ADDRESS delivery needs a shipping method"
    return None


def parse_delivery_date(value: str) -> date:
    """``YYYY-MM-DD`` or an RFC 3339 date-time."""
    value = value.strip()
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()


def delivery_date_problem(item: CatalogItem, when: date, today: date | None = None) -> str | None:
    today = today or datetime.now(UTC).date()
    if not is_schedulable(item):
        return f"{item.rewardName} cannot be scheduled (only reward link / choice products can)"
    if when < today + timedelta(days=SCHEDULE_MIN_DAYS):
        return f"delivery date must be at least {SCHEDULE_MIN_DAYS} days ahead"
    if when > today + timedelta(days=SCHEDULE_MAX_DAYS):
        return f"delivery date must be at most {SCHEDULE_MAX_DAYS} days ahead"
    return None


def line_cost(item: CatalogItem, amount: Decimal, quantity: int = 1) -> tuple[Decimal, Decimal]:
    """(value, fee) charged for a line: FIXED fees are per unit, PERCENTAGE of the amount."""
    value = amount * quantity
    fee = Decimal("0")
    if item.fee and item.fee.value:
        kind = (item.fee.type or "").upper()
        if kind == "PERCENTAGE":
            fee = (value * item.fee.value / 100).quantize(Decimal("0.01"))
        else:
            fee = item.fee.value * quantity
    return value, fee
