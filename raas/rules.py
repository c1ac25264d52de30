"""Tango's business rules for one line item, as pure functions over a catalog item.

The sandbox enforces them (as Tango does) and the flow checks them before sending, so a bad
row is caught locally with a clear reason. Each returns ``None`` when the line is fine, else
a human reason. One place for each rule.

:data:`METHODS` is the one table of delivery methods (how a spreadsheet writes each, the
contact a line needs, which are digital): the sandbox applies it to one line at a time
(``contact_problem``), validation to a whole file at once (``methods_needing``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ._line_items import ReissueDeliveryMethod, ResendDeliveryMethod
from ._models import CatalogItem, DeliveryMethod, ShippingMethod

SCHEDULE_MIN_DAYS = 7  # Tango: deliveryDate at least 7 days ahead
SCHEDULE_MAX_DAYS = 90  # Tango's portal: at most 90 days ahead
SCHEDULABLE_REWARD_TYPES = frozenset({"reward link", "choice"})
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Need:
    """What a delivery method needs of a line: the wire paths it must fill, the field Tango
    names when they are not, and (for one path) the shape a value must have."""

    field: str
    paths: tuple[str, ...]
    what: str  # "EMAIL delivery needs <what>"
    shape: re.Pattern[str] | None = None


EMAIL_ADDRESS = Need("recipient.email", ("recipient.email",), "a valid email address", EMAIL)
MOBILE_NUMBER = Need(
    "recipient.mobileNumber", ("recipient.mobileNumber",), "a mobile number in E.164 form", E164
)
POSTAL_ADDRESS = Need(
    "recipient.address",
    tuple(f"recipient.address.{f}" for f in ("streetLine1", "city", "postalCode", "country")),
    "a complete postal address",
)
SHIPPING = Need("shippingMethod", ("shippingMethod",), "a shipping method")


@dataclass(frozen=True)
class Method:
    """A delivery method: how a spreadsheet writes it, what a line sent by it needs, whether
    a digital reward can go by it."""

    name: DeliveryMethod
    aliases: tuple[str, ...] = ()  # lower case, single spaces; none: written by its name only
    needs: tuple[Need, ...] = ()
    digital: bool = True
    hint: str | None = None  # a word people know it by, shown with its name


METHODS: dict[str, Method] = {
    m.name.value: m
    for m in (
        Method(
            DeliveryMethod.EMAIL,
            ("email", "e-mail", "e mail", "mail to inbox", "inbox"),
            (EMAIL_ADDRESS,),
        ),
        Method(
            DeliveryMethod.PHONE,
            ("phone", "sms", "text", "text message", "mobile", "sms/text"),
            (MOBILE_NUMBER,),
            hint="sms",
        ),
        Method(
            DeliveryMethod.ADDRESS,
            (
                "address",
                "mail",
                "postal",
                "post",
                "postal mail",
                "ship",
                "shipping",
                "mailed",
                "physical",
            ),
            (POSTAL_ADDRESS, SHIPPING),
            digital=False,
            hint="mail",
        ),
        Method(
            DeliveryMethod.EMBEDDED,
            ("embedded", "link", "url", "embedded link", "reward link"),
            hint="link",
        ),
        Method(DeliveryMethod.NONE, ("none", "no delivery", "code only")),
        Method(DeliveryMethod.EMBEDDED_COMPONENT),
        Method(DeliveryMethod.WHATSAPP, needs=(MOBILE_NUMBER,)),
    )
}
METHOD_ALIASES = {a: m.name.value for m in METHODS.values() for a in m.aliases}
DIGITAL_METHODS = frozenset(m.name.value for m in METHODS.values() if m.digital)
PHYSICAL_METHODS = sorted(m.name.value for m in METHODS.values() if not m.digital)
SHIPPING_METHODS = frozenset(m.value for m in ShippingMethod)
# what Tango's document lets a resend and a reissue go by, among the methods known here (a
# resend by NONE would send nothing, so it is not offered)
RESEND_METHODS = tuple(
    m.value
    for m in ResendDeliveryMethod
    if m.value in METHODS and m is not ResendDeliveryMethod.NONE
)
REISSUE_METHODS = tuple(m.value for m in ReissueDeliveryMethod if m.value in METHODS)


def methods_needing(path: str) -> list[str]:
    """The methods whose lines must fill the wire field ``path``."""
    return [n for n, m in METHODS.items() if any(path in need.paths for need in m.needs)]


def methods_listed(hints: bool = False) -> str:
    """The methods a spreadsheet names, as a sentence lists them: "EMAIL, PHONE (sms), ..." """
    names = [
        f"{m.name.value} ({m.hint})" if hints and m.hint else m.name.value for m in METHODS.values()
    ]

    return ", ".join(names[:-1]) + " or " + names[-1]


def method_named(written: str) -> str | None:
    """The method a spreadsheet cell names: by an alias (any case, spacing), or by the exact
    name of a method that has none."""
    spaced = " ".join(written.lower().split())
    if spaced in METHOD_ALIASES:
        return METHOD_ALIASES[spaced]
    named = METHODS.get(written.upper())
    return named.name.value if named is not None and not named.aliases else None


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


@dataclass(frozen=True)
class AmountRule:
    """What amounts an item takes, and what is said of one it does not: read by the sandbox
    per line (:func:`amount_problem`) and by validation over every distinct amount at once
    (:func:`amount_verdicts`)."""

    fixed: Decimal | None  # the face value of a fixed-value item
    low: Decimal | None
    high: Decimal | None
    whole: bool
    said: tuple[str, str, str, str]  # not the face value, below, above, not whole


def amount_rule(item: CatalogItem) -> AmountRule:
    cur, name = item.currencyCode, item.rewardName
    fixed = item.valueType.upper() == "FIXED_VALUE"
    return AmountRule(
        fixed=item.faceValue if fixed else None,
        low=None if fixed else item.minValue,
        high=None if fixed else item.maxValue,
        whole=not fixed and bool(item.isWholeAmountValueRequired),
        said=(
            f"{name} has a fixed value of {item.faceValue or 0:.2f} {cur}",
            f"amount is below the minimum {item.minValue or 0:.2f} {cur} for {name}",
            f"amount is above the maximum {item.maxValue or 0:.2f} {cur} for {name}",
            f"{name} needs a whole amount",
        ),
    )


NOT_FACE, BELOW, ABOVE, NOT_WHOLE = range(4)  # AmountRule.said, in the order they are judged


def amount_problem(item: CatalogItem, amount: Decimal) -> str | None:
    if amount <= 0:
        return "amount must be greater than 0"
    rule = amount_rule(item)
    if rule.fixed is not None:
        return rule.said[NOT_FACE] if amount != rule.fixed else None
    if rule.low is not None and amount < rule.low:
        return rule.said[BELOW]
    if rule.high is not None and amount > rule.high:
        return rule.said[ABOVE]
    if rule.whole and amount != amount.to_integral_value():
        return rule.said[NOT_WHOLE]
    return None


def method_problem(item: CatalogItem, method: str) -> str | None:
    supported = delivery_methods(item)
    if method.upper() not in supported:
        return (
            f"{item.rewardName} cannot be delivered by {method}; "
            f"supported: {', '.join(sorted(supported))}"
        )
    return None


def wire_value(line: object, path: str) -> Any:
    """The value at a dotted wire path ("recipient.address.city") of a line: a ``LineItem``
    or a mapping of the same shape; ``None`` where a part is missing."""
    for part in path.split("."):
        line = line.get(part) if isinstance(line, Mapping) else getattr(line, part, None)
        if line is None:
            return None
    return line


def contact_problem(method: str, line: object) -> tuple[str, str] | None:
    """(field, reason) when ``line`` (a ``LineItem`` or a mapping of its shape) does not give
    the contact ``method`` needs (see :data:`METHODS`)."""
    known = METHODS.get(method.upper())
    for need in known.needs if known is not None else ():
        values = [wire_value(line, path) for path in need.paths]
        if not all(values) or (need.shape is not None and not need.shape.match(values[0])):
            return need.field, f"{method.upper()} delivery needs {need.what}"
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


# --- what a sent line allows (docs/tango/DECISIONS.md, "What each action allows") -------------


@dataclass(frozen=True)
class LineFacts:
    """What decides which after-sending actions a line allows: its status, its reward's
    status, whether its delivery failed (refunded; not refused when placed) and whether it
    waits for a delivery date (None: not known — Tango's line views do not show the date)."""

    status: str | None
    reward: str | None
    delivery_failed: bool = False
    scheduled: bool | None = None
    replaced_by: str | None = None  # the line a reissue replaced it with

    @property
    def issued(self) -> bool:
        """Its reward exists and was not redeemed or cancelled."""
        return self.status == "COMPLETE" and self.reward in ("ACTIVE", "FROZEN")

    @property
    def shown(self) -> str:
        """How a refusal names the state: ``COMPLETE (reward FROZEN)``."""
        return f"{self.status}" + (f" (reward {self.reward})" if self.reward else "")


def failed_in_delivery(status: str | None, delivery: str | None, error_codes: list[str]) -> bool:
    """A line whose delivery failed (its delivery status, or Tango's ``DELIVERY_FAILED``
    error), not one refused when its order was placed."""
    return status == "FAILED" and (delivery == "FAILED" or "DELIVERY_FAILED" in error_codes)


# Each returns None when the action is allowed, else (errors[].code, reason).
Refusal = tuple[str, str] | None


def _cancel(line: LineFacts) -> Refusal:
    if line.status == "CANCELLED" or line.reward == "CANCELLED":
        return "ALREADY_CANCELLED", "is cancelled already"
    if line.status == "PENDING" or line.issued:
        return None
    return "LINE_ITEM_STATUS", "can be cancelled only while pending or unredeemed"


def _freeze(line: LineFacts) -> Refusal:
    if line.reward == "FROZEN":
        return "ALREADY_FROZEN", "is frozen already"
    if line.reward == "ACTIVE":
        return None
    return "LINE_ITEM_STATUS", "can be frozen only once issued and unredeemed"


def _unfreeze(line: LineFacts) -> Refusal:
    if line.reward == "FROZEN":
        return None
    if line.reward == "ACTIVE":
        return "NOT_FROZEN", "is not frozen"
    return "LINE_ITEM_STATUS", "can be unfrozen only when frozen"


def _replaced(line: LineFacts) -> Refusal:
    if line.replaced_by:
        return "ALREADY_REISSUED", f"was reissued: line {line.replaced_by} replaces it, act on that"

    return None


def _resend(line: LineFacts) -> Refusal:
    if replaced := _replaced(line):
        return replaced
    if line.reward == "ACTIVE" or line.delivery_failed:
        return None
    return "LINE_ITEM_STATUS", "can be resent only once issued (not frozen) or failed in delivery"


def _reissue(line: LineFacts) -> Refusal:
    if replaced := _replaced(line):
        return replaced
    if line.issued or line.delivery_failed:
        return None
    return (
        "LINE_ITEM_STATUS",
        "can be reissued only once issued and unredeemed, or failed in delivery",
    )


def _reschedule(line: LineFacts) -> Refusal:
    if line.status == "PENDING" and line.scheduled is not False:
        return None
    return "LINE_ITEM_STATUS", "has no delivery date to move (only scheduled lines do)"


ACTION_RULES: Mapping[str, Callable[[LineFacts], Refusal]] = {
    "cancel": _cancel,
    "freeze": _freeze,
    "unfreeze": _unfreeze,
    "resend": _resend,
    "reissue": _reissue,
    "reschedule": _reschedule,
}


def action_refusal(action: str, line: LineFacts) -> Refusal:
    """Whether a line in this state allows ``action`` (``cancel``, ``freeze``, ``unfreeze``,
    ``resend``, ``reissue``, ``reschedule``; ``note`` is always allowed)."""
    rule = ACTION_RULES.get(action)
    return None if rule is None else rule(line)
