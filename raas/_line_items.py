"""Typed models for what happens after an order was placed: reading its line items
(``GET /lineItems``, ``GET /lineItems/{id}``), acting on them (cancel, freeze, unfreeze, resend,
reissue, update), updating the order, and the reason codes each action takes. Wire names and
enums as in Tango's document.

None of the answers modelled here carries a credential: the client drops a reward's codes
from ``GET /lineItems/{id}`` and from a reissue's answer before parsing them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from ._models import Money, MoneyView, Recipient, Sender, _AtLeastOne, _Wire

__all__ = [
    "AsyncLineItemUpdate",
    "AsyncReasonCodes",
    "CancelLineItemCriteria",
    "CancelReason",
    "FreezeLineItemCriteria",
    "FreezeReason",
    "KeysetPage",
    "LineItemActionRecord",
    "LineItemDetail",
    "LineItemErrorView",
    "LineItemList",
    "LineItemSummary",
    "ReissueDeliveryMethod",
    "ReissueLineItemCriteria",
    "ReissueReason",
    "ReissueRecipient",
    "ReissuedLineItem",
    "ResendDeliveryMethod",
    "ResendLineItemCriteria",
    "ResendReason",
    "ResendRecord",
    "ResendView",
    "RewardInstructions",
    "RewardReasons",
    "RewardStatus",
    "RewardStatusChange",
    "UnfreezeLineItemCriteria",
    "UpdateAsyncLineItemCriteria",
    "UpdateAsyncOrderCriteria",
    "UpdateLineItemCriteria",
]


class RewardStatus(StrEnum):
    """A line's reward once issued (the document types it as a string; these are our values,
    docs/tango/DECISIONS.md)."""

    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    REDEEMED = "REDEEMED"
    CANCELLED = "CANCELLED"


class CancelReason(StrEnum):
    DELIVERY_INFO = "DELIVERY_INFO"
    REWARD_AMOUNT = "REWARD_AMOUNT"
    REWARD_TYPE = "REWARD_TYPE"
    RECIPIENT = "RECIPIENT"
    CURRENCY = "CURRENCY"
    RECIPIENT_REQUESTED = "RECIPIENT_REQUESTED"
    RECIPIENT_OBLIGATIONS = "RECIPIENT_OBLIGATIONS"
    DUPLICATE = "DUPLICATE"
    FRAUD = "FRAUD"
    OTHER = "OTHER"


class FreezeReason(StrEnum):
    """Freeze and unfreeze take the same codes."""

    DELIVERY_INFO = "DELIVERY_INFO"
    REWARD_AMOUNT = "REWARD_AMOUNT"
    REWARD_TYPE = "REWARD_TYPE"
    VERIFY_ORDER = "VERIFY_ORDER"
    FRAUD = "FRAUD"
    OTHER = "OTHER"


class ReissueReason(StrEnum):
    DELIVERY_INFO = "DELIVERY_INFO"
    REWARD_AMOUNT = "REWARD_AMOUNT"
    REWARD_TYPE = "REWARD_TYPE"
    RECIPIENT = "RECIPIENT"
    CURRENCY = "CURRENCY"
    RECIPIENT_REQUESTED = "RECIPIENT_REQUESTED"
    OTHER = "OTHER"


class ResendReason(StrEnum):
    NOT_RECEIVED = "NOT_RECEIVED"
    LOST_DELETED = "LOST_DELETED"
    DELIVERY_INFO = "DELIVERY_INFO"
    DELIVERY_METHOD = "DELIVERY_METHOD"
    REMINDER = "REMINDER"
    OTHER = "OTHER"


class ResendDeliveryMethod(StrEnum):
    NONE = "NONE"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    WHATSAPP = "WHATSAPP"


class ReissueDeliveryMethod(StrEnum):
    NONE = "NONE"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    EMBEDDED = "EMBEDDED"
    EMBEDDED_COMPONENT = "EMBEDDED_COMPONENT"
    WHATSAPP = "WHATSAPP"
    BULKDIGITAL = "BULKDIGITAL"


# --- requests -------------------------------------------------------------------------------

Reason = TypeVar("Reason", bound=StrEnum)


class _Reasoned(_Wire, Generic[Reason]):
    """Every action names its reason; ``OTHER`` needs the reason in words (our decision for
    resends too, where the document does not mark ``reasonCode`` required)."""

    reasonCode: Reason
    otherReason: str | None = Field(default=None, validate_default=True)

    @field_validator("otherReason")
    @classmethod
    def _other_needs_words(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reasonCode") == "OTHER" and not (value or "").strip():
            raise ValueError("otherReason is required when reasonCode is OTHER")
        return value


class CancelLineItemCriteria(_Reasoned[CancelReason]):
    """``POST /lineItems/{id}/cancel``"""


class FreezeLineItemCriteria(_Reasoned[FreezeReason]):
    """``POST /lineItems/{id}/freeze``"""


class UnfreezeLineItemCriteria(_Reasoned[FreezeReason]):
    """``POST /lineItems/{id}/unfreeze``"""


class ResendLineItemCriteria(_Reasoned[ResendReason]):
    """``POST /lineItems/{id}/resends``: to the original contact unless a new one is given."""

    newDeliveryMethod: ResendDeliveryMethod | None = None
    newEmail: str | None = None
    newMobileNumber: str | None = None
    newEtid: str | None = None


class ReissueRecipient(_Wire):
    firstName: str | None = Field(default=None, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)
    email: str | None = None
    mobileNumber: str | None = None


class ReissueLineItemCriteria(_Reasoned[ReissueReason]):
    """``POST /lineItems/{id}/reissue``: a new reward replacing the line's; what is not given
    is the original's."""

    amount: Money | None = Field(default=None, gt=0)
    deliveryMethod: ReissueDeliveryMethod | None = None
    recipient: ReissueRecipient | None = None
    notes: str | None = Field(default=None, max_length=150)


class UpdateAsyncLineItemCriteria(_AtLeastOne):
    """``PATCH /asyncOrders/lineItems/{id}``"""

    lineItemNote: str | None = Field(default=None, max_length=150)
    deliveryDate: str | None = None
    senderInfo: Sender | None = None


class UpdateLineItemCriteria(_AtLeastOne):
    """``PATCH /lineItems/{id}``"""

    purchaseOrderNumber: str | None = None
    campaign: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9 ]{0,100}$")
    orderNotes: str | None = Field(default=None, max_length=150)


class UpdateAsyncOrderCriteria(_AtLeastOne):
    """``PATCH /asyncOrders/customers/{c}/accounts/{a}/{externalRefID}``"""

    campaign: str | None = Field(default=None, max_length=1024)
    purchaseOrderNumber: str | None = None
    notes: str | None = Field(default=None, max_length=150)


# --- answers --------------------------------------------------------------------------------


class ResendView(_Wire):
    """The answer to a resend (201)."""

    id: int | None = None
    legacyId: str | None = None
    createdAt: str | None = None
    deliveryMethod: str | None = None
    email: str | None = None
    mobileNumber: str | None = None
    reasonCode: str | None = None
    otherReason: str | None = None


class RewardInstructions(_Wire):
    """A reward as the client keeps it: how to redeem it, never its credentials."""

    redemptionInstructions: str | None = None


class ReissuedLineItem(_Wire):
    """The answer to a reissue (``OrderViewSummary``): the new line replacing the old one."""

    referenceOrderID: str
    referenceLineItemID: str
    externalRefID: str | None = None
    customerIdentifier: str | None = None
    accountIdentifier: str | None = None
    amountCharged: MoneyView | None = None
    denomination: MoneyView | None = None
    utid: str | None = None
    rewardName: str | None = None
    recipient: Recipient | None = None
    sender: Sender | None = None
    deliveryMethod: str | None = None
    status: str | None = None
    campaign: str | None = None
    createdAt: str | None = None
    reward: RewardInstructions | None = None


class AsyncLineItemUpdate(_Wire):
    """The answer to ``PATCH /asyncOrders/lineItems/{id}``: what the line now holds."""

    deliveryDate: str | None = None
    note: str | None = None
    senderInfo: Sender | None = None


class LineItemErrorView(_Wire):
    """``LineItemErrorDTO``: snake_case on the wire, as the document has it."""

    error_code: str | None = None
    error_message: str | None = None


class LineItemSummary(_Wire):
    """A line as ``GET /lineItems`` lists it (``LineItemView``)."""

    referenceLineItemID: str
    externalReferenceLineItemID: str | None = None
    referenceOrderID: str | None = None
    orderSource: str | None = None
    status: str | None = None
    orderStatus: str | None = None
    emailStatus: str | None = None
    deliveryMethod: str | None = None
    deliveryStatus: str | None = None
    rewardStatus: str | None = None
    canCancel: bool | None = None
    canFreeze: bool | None = None
    lineNumber: int | None = None
    rewardName: str | None = None
    amountIssued: MoneyView | None = None
    amountCharged: MoneyView | None = None
    remainingBalance: Money | None = None
    dateIssued: str | None = None
    expirationDate: str | None = None
    accountNumber: str | None = None
    accountIdentifier: str | None = None
    etid: str | None = None
    utid: str | None = None
    customerIdentifier: str | None = None
    recipient: Recipient | None = None
    sender: Sender | None = None
    purchaseOrderNumber: str | None = None
    campaign: str | None = None
    orderNotes: str | None = None
    lineItemActionReason: str | None = None
    reissuedFromReferenceLineItemId: str | None = None
    reissuedToReferenceLineItemId: str | None = None
    lineItemErrors: list[LineItemErrorView] = []
    quantity: int | None = None


class ResendRecord(_Wire):
    """One entry of a line's ``resendHistory``."""

    dateIssued: str | None = None
    recipient: dict[str, Any] | None = None
    deliveryMethod: str | None = None
    deliveryStatus: str | None = None
    etid: str | None = None
    reasonCode: str | None = None
    otherReason: str | None = None


class LineItemActionRecord(_Wire):
    """One entry of a line's ``lineItemActionHistory``."""

    action: str | None = None
    reason: str | None = None
    actionDate: str | None = None
    oldReferenceLineItemId: str | None = None
    newReferenceLineItemId: str | None = None


class RewardStatusChange(_Wire):
    """One entry of a line's ``rewardViewHistory``."""

    date: str | None = None
    status: str | None = None


class LineItemDetail(LineItemSummary):
    """``GET /lineItems/{id}`` (``LineItemViewVerbose``), its reward's credentials removed."""

    reward: RewardInstructions | None = None
    resendHistory: list[ResendRecord] = []
    redemptionHistory: list[dict[str, Any]] = []
    lineItemActionHistory: list[LineItemActionRecord] = []
    rewardViewHistory: list[RewardStatusChange] = []


class KeysetPage(_Wire):
    nextPageKeys: list[str] = []
    previousPageKeys: list[str] = []
    resultCount: int = 0
    totalCount: int = 0


class LineItemList(_Wire):
    """One page of ``GET /lineItems``; the next page is asked for with ``pageKeys``."""

    keysetPage: KeysetPage
    lineItems: list[LineItemSummary] = []


class RewardReasons(_Wire):
    """``GET /lineItems/reasonCodes``: code -> description, per action."""

    FREEZE: dict[str, str] = {}
    UNFREEZE: dict[str, str] = {}
    CANCEL: dict[str, str] = {}
    CANCEL_AND_REISSUE: dict[str, str] = {}


class AsyncReasonCodes(_Wire):
    """``GET /asyncOrders/reasonCodes``: action -> code -> description."""

    reasonCodes: dict[str, dict[str, str]] = {}
