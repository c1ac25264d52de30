"""What the spreadsheet's columns are called, and how a header finds its column.

Headers are compared after dropping case, spaces and punctuation, and through common
synonyms, so "Email Address", "E-mail" and "email" all land on ``email``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

ROW = "row_number"  # the spreadsheet row (header = row 1); added by the reader


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    synonyms: tuple[str, ...] = ()
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        "first_name",
        "Recipient's first name",
        ("firstname", "first", "givenname", "recipientfirstname"),
    ),
    Column(
        "last_name",
        "Recipient's last name",
        ("lastname", "last", "surname", "familyname", "recipientlastname"),
    ),
    Column(
        "email",
        "Email address (EMAIL delivery)",
        ("emailaddress", "recipientemail", "recipientemailaddress", "emailid"),
    ),
    Column(
        "mobile_number",
        "Mobile number, ideally +E.164 (PHONE delivery)",
        (
            "mobile",
            "mobilenumber",
            "phone",
            "phonenumber",
            "cell",
            "cellphone",
            "cellnumber",
            "sms",
            "recipientmobilenumber",
            "recipientphone",
            "mobilephone",
        ),
    ),
    Column(
        "street_line_1",
        "Street, line 1 (ADDRESS delivery)",
        ("streetline1", "address1", "addressline1", "street", "streetaddress", "address"),
    ),
    Column(
        "street_line_2",
        "Street, line 2",
        ("streetline2", "address2", "addressline2", "apt", "suite", "unit"),
    ),
    Column("city", "City", ("town",)),
    Column(
        "state_or_province",
        "State or province",
        ("stateorprovince", "state", "province", "region", "county"),
    ),
    Column("postal_code", "Postal code", ("postalcode", "zip", "zipcode", "postcode")),
    Column("country", "Country, two letters (ISO 3166)", ("countrycode",)),
    Column(
        "utid",
        "Tango reward id, e.g. U100001",
        ("rewardid", "rewardutid", "itemid", "tangoutid"),
        required=True,
    ),
    Column(
        "amount",
        "Reward amount in the item's currency, e.g. 25 or 25.50",
        (
            "rewardamount",
            "giftamount",
            "value",
            "rewardvalue",
            "denomination",
            "cardvalue",
            "giftcardamount",
        ),
        required=True,
    ),
    Column("quantity", "How many of this reward (default 1)", ("qty",)),
    Column(
        "delivery_method",
        "EMAIL, PHONE (sms), ADDRESS (mail), EMBEDDED (link) or NONE",
        ("deliverymethod", "delivery", "method", "channel", "sendvia", "deliverychannel"),
        required=True,
    ),
    Column(
        "delivery_date",
        "Optional scheduled delivery date, YYYY-MM-DD",
        (
            "deliverydate",
            "senddate",
            "scheduleddate",
            "scheduleddeliverydate",
            "scheduledfor",
            "sendon",
        ),
    ),
    Column("message", "Message shown to the recipient", ("giftmessage", "personalmessage", "note")),
    Column("email_subject", "Email subject", ("emailsubject", "subject")),
    Column(
        "shipping_method",
        "Shipping method for ADDRESS delivery, e.g. upsground",
        ("shippingmethod", "shipping"),
    ),
    Column(
        "campaign",
        "Campaign; send the same reward again with a new campaign",
        ("program", "programme", "campaignname"),
    ),
    Column(
        "client_row_key",
        "Your own key for the row (makes intentional repeats distinct)",
        ("clientrowkey", "rowkey", "clientkey", "externalid", "clientreference", "yourref"),
    ),
)


@dataclass(frozen=True)
class Columns:
    """The columns of one kind of spreadsheet (recipients, actions) and how headers find
    them; the reader takes one of these."""

    kind: str  # what a message calls such a sheet: "recipient", "actions"
    columns: tuple[Column, ...]
    template: str  # where to start from, for a message

    @property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @cached_property
    def _lookup(self) -> dict[str, str]:
        return {normalise_header(k): c.name for c in self.columns for k in (c.name, *c.synonyms)}

    def column_of(self, header: object) -> str | None:
        return self._lookup.get(normalise_header(header))

    def match_headers(
        self, headers: list[str]
    ) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        """Map each header to its canonical column. Returns (header -> column, clashes) where
        a clash is (column, first header, second header) for two headers naming the same
        column. Unknown headers are absent from the map (they are kept and carried into the
        report)."""
        mapping: dict[str, str] = {}
        owner: dict[str, str] = {}
        clashes: list[tuple[str, str, str]] = []
        for header in headers:
            column = self.column_of(header)
            if column is None:
                continue
            if column in owner:
                clashes.append((column, owner[column], header))
                continue
            owner[column] = header
            mapping[header] = column
        return mapping, clashes


def normalise_header(header: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


RECIPIENTS = Columns("recipient", COLUMNS, "data/templates/")
BY_NAME = RECIPIENTS.by_name
REQUIRED = RECIPIENTS.required


def match_headers(headers: list[str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """:meth:`Columns.match_headers` for a recipient sheet."""
    return RECIPIENTS.match_headers(headers)
