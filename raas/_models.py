"""Typed request and response models for the parts of Tango RaaS v2 this project uses.

Attribute names are Tango's wire names, casing included (``externalRefID`` in one place,
``referenceLineItemId`` in another): the document is the contract, so we do not rename.
Unknown fields are kept (``extra="allow"``) so a newer Tango never breaks parsing.
Money is ``Decimal``; the client parses JSON numbers straight into ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

__all__ = [
    "Account",
    "AccountSummary",
    "Address",
    "AmountCharged",
    "AsyncLineItemView",
    "AsyncLineItemWithCredentials",
    "AsyncOrderDetailView",
    "AsyncOrderEntity",
    "AsyncOrderEventStatus",
    "AsyncOrderLineItemsView",
    "AsyncOrderListView",
    "AsyncOrderView",
    "Brand",
    "Catalog",
    "CatalogItem",
    "CreateAsyncOrderCriteria",
    "Credential",
    "Customer",
    "DeliveryMethod",
    "DeliveryStatus",
    "EmailContact",
    "ErrorDto",
    "Fee",
    "LineItem",
    "LineItemError",
    "LineItemStatus",
    "Money",
    "MoneyView",
    "OrderStatus",
    "Pagination",
    "QuantityConstraints",
    "Recipient",
    "RewardSummary",
    "Sender",
    "ShippingMethod",
    "SubscriptionHeader",
    "ValidationErrorDto",
    "WebhookEventsPage",
    "WebhookSubscription",
]

# Serialised as a JSON number (Tango's type), not as pydantic's default string.
Money = Annotated[Decimal, PlainSerializer(lambda v: float(v), return_type=float, when_used="json")]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _AtLeastOne(_Wire):
    """A PATCH must change something."""

    @model_validator(mode="after")
    def _something(self) -> _AtLeastOne:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            fields = ", ".join(type(self).model_fields)
            raise ValueError(f"at least one of {fields} is required")
        return self


class DeliveryMethod(StrEnum):
    NONE = "NONE"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"
    EMBEDDED = "EMBEDDED"
    EMBEDDED_COMPONENT = "EMBEDDED_COMPONENT"
    WHATSAPP = "WHATSAPP"


class ShippingMethod(StrEnum):
    """How a physical reward ships (``LineItem.shippingMethod``)."""

    UPSGROUND = "upsground"
    UPSGROUNDSIGNATURE = "upsgroundsignature"
    UPS2NDDAY = "ups2ndday"
    UPS2NDDAYSIGNATURE = "ups2nddaysignature"
    UPSNEXTDAY = "upsnextday"
    UPSNEXTDAYSIGNATURE = "upsnextdaysignature"
    USPSPRIORITY = "uspspriority"
    USPSPRIORITYSIG = "uspsprioritysig"
    USPS1STCLASS = "usps1stclass"


class OrderStatus(StrEnum):
    """``orderStatus`` values (the ``orderStatus`` query enum in Tango's document)."""

    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.PENDING


class LineItemStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    ENGAGED = "ENGAGED"


class AsyncOrderEventStatus(StrEnum):
    """``status`` of an ``AsyncOrderStatus`` webhook event."""

    SUCCESSFUL = "SUCCESSFUL"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
    PARTIALFAILED = "PARTIALFAILED"


# --- requests -------------------------------------------------------------------------------


class Address(_Wire):
    companyName: str | None = None
    streetLine1: str | None = Field(default=None, max_length=200)
    streetLine2: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=60)
    stateOrProvince: str | None = Field(default=None, max_length=60)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, min_length=2, max_length=2)


class Recipient(_Wire):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    mobileNumber: str | None = None
    address: Address | None = None


class Sender(_Wire):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None


class LineItem(_Wire):
    externalRefLineItemID: str = Field(max_length=100)
    quantity: int | None = Field(default=None, ge=1)
    recipient: Recipient
    utid: str = Field(pattern=r"^[uU][\d]+$")
    amount: Money = Field(ge=0)
    deliveryMethod: DeliveryMethod
    deliveryDate: str | None = None
    etid: str | None = Field(default=None, pattern=r"^[eE][\d]{6}$")
    ptid: str | None = Field(default=None, pattern=r"^[pP][\d]+$")
    expirationDate: str | None = None
    emailSubject: str | None = None
    message: str | None = None
    lineItemNote: str | None = Field(default=None, max_length=150)
    shippingMethod: ShippingMethod | None = None
    bulkShipping: dict[str, Any] | None = None  # ShippingCriteria: Tango's bulk shipments only

    @field_validator("shippingMethod", mode="before")
    @classmethod
    def _shipping_as_tango_spells_it(cls, value: Any) -> Any:
        """``UPS Ground`` is ``upsground``: Tango's enum has one spelling."""
        if isinstance(value, str):
            return "".join(ch for ch in value.lower() if ch not in " _-")
        return value


class CreateAsyncOrderCriteria(_Wire):
    externalRefID: str = Field(max_length=100)
    customerIdentifier: str = Field(pattern=r"^[-a-zA-Z0-9]{5,100}$")
    accountIdentifier: str = Field(pattern=r"^[-a-zA-Z0-9]{5,100}$")
    sender: Sender | None = None
    campaign: str | None = Field(default=None, max_length=1024)
    purchaseOrderNumber: str | None = None
    notes: str | None = Field(default=None, max_length=1024)
    lineItems: list[LineItem] = Field(min_length=1)


# --- responses ------------------------------------------------------------------------------


class ValidationErrorDto(_Wire):
    field: str | None = None
    errorCodeValue: int | None = None
    errorCodeName: str | None = None
    message: str | None = None


class LineItemError(_Wire):
    lineItemId: str | None = None
    externalRefLineItemID: str | None = None
    utid: str | None = None
    errors: list[ValidationErrorDto] = []


class AsyncOrderEntity(_Wire):
    """The answer to ``POST /asyncOrders`` (202 new, 200 duplicate ``externalRefID``)."""

    externalRefID: str | None = None
    status: str | None = None
    totalLineItems: int | None = None
    createdAt: str | None = None
    failedLineItems: list[LineItemError] = []
    duplicateLineItemRefIds: dict[str, int] | None = None


class ErrorDto(_Wire):
    errorCode: str | None = None
    errorMessage: str | None = None


class MoneyView(_Wire):
    value: Money | None = None
    currencyCode: str | None = None
    exchangeRate: Money | None = None
    fee: Money | None = None
    total: Money | None = None


class AmountCharged(_Wire):
    currencyCode: str | None = None
    value: Money | None = None
    total: Money | None = None
    shippingFee: Money | None = None


class Pagination(_Wire):
    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool | None = None
    nextPageAvailable: bool | None = None
    maxResults: int | None = None
    numberOfElements: int | None = None


class AsyncLineItemView(_Wire):
    """A line item as the summary endpoint shows it: never any credential."""

    referenceLineItemId: str | None = None
    externalRefLineItemID: str | None = None
    lineItemStatus: str | None = None
    deliveryStatus: str | None = None
    recipient: Recipient | None = None
    deliveryMethod: str | None = None
    rewardName: str | None = None
    quantity: int | None = None
    amount: Money | None = None
    amountCharged: MoneyView | None = None
    scheduledDeliveryDate: str | None = None
    lineItemErrors: list[ErrorDto] = []


class AsyncOrderDetailView(_Wire):
    """One page of ``GET /asyncOrders/customers/{c}/accounts/{a}/{externalRefID}``."""

    referenceOrderID: str | None = None
    externalRefID: str | None = None
    orderStatus: str | None = None
    createdAt: str | None = None
    completedAt: str | None = None
    customerIdentifier: str | None = None
    accountIdentifier: str | None = None
    sender: Sender | None = None
    amountCharged: AmountCharged | None = None
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
    totalLineItems: int | None = None
    pagination: Pagination | None = None
    orderErrors: list[ErrorDto] = []
    lineItems: list[AsyncLineItemView] = []


class Credential(_Wire):
    label: str | None = None
    value: str | None = None
    type: str | None = None
    credentialType: str | None = None

    def __repr__(self) -> str:  # a credential never reaches a log through repr
        return f"Credential(label={self.label!r}, type={self.type!r}, value='**********')"

    __str__ = __repr__


class RewardSummary(_Wire):
    rewardStatus: str | None = None
    credentialList: list[Credential] = []
    redemptionInstructions: str | None = None


class AsyncLineItemWithCredentials(_Wire):
    referenceLineItemID: str | None = None
    externalRefLineItemID: str | None = None
    lineItemStatus: str | None = None
    deliveryStatus: str | None = None
    deliveryMethod: str | None = None
    utid: str | None = None
    rewardName: str | None = None
    shippingMethod: str | None = None
    amountIssued: MoneyView | None = None
    amountCharged: MoneyView | None = None
    scheduledDeliveryDate: str | None = None
    recipient: Recipient | None = None
    lineItemErrors: list[ErrorDto] = []
    rewards: list[RewardSummary] = []


class AsyncOrderLineItemsView(_Wire):
    """One page of ``.../{externalRefID}/lineItems``: contains credentials."""

    referenceOrderID: str | None = None
    externalRefID: str | None = None
    orderStatus: str | None = None
    pagination: Pagination | None = None
    lineItems: list[AsyncLineItemWithCredentials] = []


class AsyncOrderView(_Wire):
    createdAt: str | None = None
    referenceOrderID: str | None = None
    externalRefID: str | None = None
    customerIdentifier: str | None = None
    accountIdentifier: str | None = None
    campaign: str | None = None
    orderStatus: str | None = None
    totalLineItemsRows: int | None = None
    amountCharged: AmountCharged | None = None


class AsyncOrderListView(_Wire):
    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool | None = None
    nextPageAvailable: bool | None = None
    maxResults: int | None = None
    orders: list[AsyncOrderView] = []


class QuantityConstraints(_Wire):
    minQuantity: int
    maxQuantity: int


class Fee(_Wire):
    """``CostAdjustmentEntity``: ``type`` FIXED (per unit) or PERCENTAGE (of the amount)."""

    type: str | None = None
    value: Money | None = None


class CatalogItem(_Wire):
    utid: str
    rewardName: str
    currencyCode: str
    status: str
    valueType: str  # VARIABLE_VALUE or FIXED_VALUE
    rewardType: str
    isExpirable: bool = False
    quantityConstraints: QuantityConstraints | None = None
    isWholeAmountValueRequired: bool = False
    minValue: Money | None = None
    maxValue: Money | None = None
    faceValue: Money | None = None
    fee: Fee | None = None
    countries: list[str] = []
    credentialTypes: list[str] = []
    redemptionInstructions: str = ""
    fulfillmentType: str | None = None
    attributes: list[str] = []


class Brand(_Wire):
    brandKey: str
    brandName: str
    status: str
    items: list[CatalogItem] = []


class Catalog(_Wire):
    catalogName: str
    brands: list[Brand] = []

    def items(self) -> list[CatalogItem]:
        return [item for brand in self.brands for item in brand.items]

    def item(self, utid: str) -> CatalogItem | None:
        """The item with this ``utid`` (case-insensitive, as Tango's pattern allows ``u``)."""
        wanted = utid.upper()
        return next((i for i in self.items() if i.utid.upper() == wanted), None)


class EmailContact(_Wire):
    """``FundingNotificationView`` / ``BalanceAlertContactDTO``: one address to tell."""

    emailAddress: str


class Account(_Wire):
    accountIdentifier: str
    accountNumber: str | None = None
    displayName: str | None = None
    currencyCode: str
    currentBalance: Money
    status: str | None = None
    createdAt: str | None = None
    contactEmail: str | None = None
    fundingNotification: list[EmailContact] = []


class AccountSummary(_Wire):
    accountIdentifier: str
    accountNumber: str | None = None
    displayName: str | None = None
    currencyCode: str | None = None
    status: str | None = None
    createdAt: str | None = None


class Customer(_Wire):
    customerIdentifier: str
    displayName: str | None = None
    status: str | None = None
    createdAt: str | None = None
    accounts: list[AccountSummary] = []


class SubscriptionHeader(_Wire):
    name: str
    value: str


class WebhookSubscription(_Wire):
    webhookId: str
    url: str | None = None
    headers: list[SubscriptionHeader] = []
    categories: list[str] = []
    eventTypes: list[str] = []
    payloadVerificationMethod: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    expiresAt: str | None = None

    def __repr__(self) -> str:  # headers and keys may be secrets
        return f"WebhookSubscription(webhookId={self.webhookId!r}, url={self.url!r})"

    __str__ = __repr__


class WebhookEventsPage(_Wire):
    numberOfElements: int | None = None
    maxResults: int | None = None
    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool | None = None
    nextPageAvailable: bool | None = None
    items: list[dict[str, Any]] = []
