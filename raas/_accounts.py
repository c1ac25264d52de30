"""Typed models for managing accounts: updating one, its low-balance alerts, the exchange rates
between account and reward currencies, and updating a webhook subscription. Wire names as in
Tango's document."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ._models import EmailContact, Money, SubscriptionHeader, _AtLeastOne, _Wire

__all__ = [
    "CreatedAccount",
    "DeletedBalanceAlert",
    "EventTypes",
    "ExchangeRate",
    "ExchangeRates",
    "LowBalanceAlert",
    "LowBalanceAlertCriteria",
    "LowBalanceAlertList",
    "PageInfo",
    "UpdateAccountCriteria",
    "UpdateLowBalanceAlertCriteria",
    "UpdateWebhookCriteria",
]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _addresses(contacts: list[EmailContact] | None) -> list[EmailContact] | None:
    for contact in contacts or []:
        if not EMAIL.match(contact.emailAddress):
            raise ValueError(f"{contact.emailAddress!r} is not an email address")
    return contacts


class UpdateAccountCriteria(_AtLeastOne):
    """``PATCH /customers/{c}/accounts/{a}``: a given ``fundingNotification`` list replaces
    the account's (empty clears it); left out, it stays."""

    displayName: str | None = Field(default=None, min_length=1, max_length=100)
    contactEmail: str | None = Field(default=None, pattern=EMAIL.pattern)
    fundingNotification: list[EmailContact] | None = None

    _emails = field_validator("fundingNotification")(_addresses)


class CreatedAccount(_Wire):
    """The answer to creating an account (its balance starts at zero)."""

    accountIdentifier: str
    displayName: str | None = None
    contactEmail: str | None = None
    currencyCode: str | None = None


class LowBalanceAlertCriteria(_Wire):
    """``POST .../lowbalance``: tell these addresses when the balance goes below the threshold.
    The threshold is required (our decision: the document marks nothing required)."""

    balanceAlertDisplayName: str | None = Field(default=None, max_length=100)
    balanceAlertThreshold: Money = Field(gt=0)
    balanceAlertNotification: list[EmailContact] = []

    _emails = field_validator("balanceAlertNotification")(_addresses)


class UpdateLowBalanceAlertCriteria(_AtLeastOne):
    """``PATCH .../lowbalance/{id}``: a given notification list replaces the alert's."""

    balanceAlertDisplayName: str | None = Field(default=None, max_length=100)
    balanceAlertThreshold: Money | None = Field(default=None, gt=0)
    balanceAlertNotification: list[EmailContact] | None = None

    _emails = field_validator("balanceAlertNotification")(_addresses)


class LowBalanceAlert(_Wire):
    balanceAlertID: str
    customerIdentifier: str | None = None
    accountIdentifier: str | None = None
    balanceAlertDisplayName: str | None = None
    balanceAlertThreshold: Money | None = None
    balanceAlertNotification: list[EmailContact] = []
    createdAt: str | None = None


class PageInfo(_Wire):
    """``CollectionPageView``: ``number`` counts from 0."""

    size: int | None = None
    totalElements: int | None = None
    totalPages: int | None = None
    number: int | None = None


class LowBalanceAlertList(_Wire):
    page: PageInfo | None = None
    lowBalanceAlerts: list[LowBalanceAlert] = []


class DeletedBalanceAlert(_Wire):
    balanceAlertID: str
    status: str | None = None


class ExchangeRate(_Wire):
    """``baseFx``: units of ``baseCurrency`` one unit of ``rewardCurrency`` costs (a string on
    the wire, kept as Tango sends it)."""

    lastModifiedDate: str | None = None
    rewardCurrency: str
    baseCurrency: str
    baseFx: str


class ExchangeRates(_Wire):
    disclaimer: str | None = None
    exchangeRates: list[ExchangeRate] = []
    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool | None = None
    nextPageAvailable: bool | None = None
    maxResults: int | None = None


class EventTypes(_Wire):
    """One category of webhook events and its event types."""

    category: str
    eventTypes: list[str] = []


class UpdateWebhookCriteria(_AtLeastOne):
    """``PATCH /webhooks/{id}``: what is given replaces the subscription's."""

    url: str | None = None
    headers: list[SubscriptionHeader] | None = None
    categories: list[str] | None = None
    eventTypes: list[str] | None = None
    payloadVerificationMethod: Literal["HMAC", "X509", "NONE"] | None = None
    hmacSharedSecretKey: str | None = None
    signingCertificate: str | None = None
