"""What the spreadsheet's columns are called, and how a header finds its column.

Headers are compared after dropping case, spaces and punctuation, and through common
synonyms, so "Email Address", "E-mail" and "email" all land on ``email``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

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
        ("emailaddress", "emailaddr", "recipientemail", "recipientemailaddress", "emailid"),
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
            "amt",
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
        (
            "deliverymethod",
            "delivery",
            "method",
            "channel",
            "sendvia",
            "deliverychannel",
            "deliverytype",
            "deliverymode",
        ),
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
BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)


def normalise_header(header: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


_LOOKUP: dict[str, str] = {}
for _c in COLUMNS:
    for _key in (_c.name, *_c.synonyms):
        _LOOKUP[normalise_header(_key)] = _c.name


# Words that name a required column inside a longer header ("Gift Card UTID", "Reward Amount
# (USD)", "Delivery Method Preferred"), tried only when no header names the column exactly
# and only one header holds the word: a guess between two headers is not made.
CONTAINED = {"utid": "utid", "amount": "amount", "deliverymethod": "delivery_method"}


def match_headers(headers: list[str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Map each header to its canonical column. Returns (header -> column, clashes) where a
    clash is (column, first header, second header) for two headers naming the same column.
    Unknown headers are absent from the map (they are kept and carried into the report)."""
    mapping: dict[str, str] = {}
    owner: dict[str, str] = {}
    clashes: list[tuple[str, str, str]] = []
    for header in headers:
        column = _LOOKUP.get(normalise_header(header))
        if column is None:
            continue
        if column in owner:
            clashes.append((column, owner[column], header))
            continue
        owner[column] = header
        mapping[header] = column
    for word, column in CONTAINED.items():
        holders = [h for h in headers if h not in mapping and word in normalise_header(h)]
        if column not in owner and len(holders) == 1:
            owner[column] = holders[0]
            mapping[holders[0]] = column
    return mapping, clashes


def closest_header(column: str, headers: list[str]) -> str | None:
    """The header most like ``column`` or one of its synonyms, if any is close: for the
    message that says the column is missing ("Amt" for amount)."""
    names = [normalise_header(n) for n in (column, *BY_NAME[column].synonyms)]
    best: tuple[float, str] | None = None
    for header in headers:
        text = normalise_header(header)
        if not text:
            continue
        score = max(difflib.SequenceMatcher(None, text, n).ratio() for n in names)
        if score >= 0.7 and (best is None or score > best[0]):
            best = (score, header)
    return best[1] if best else None


def header_table() -> str:
    """The README's table of columns and the headers read as each (kept equal by a test)."""
    lines = [
        "<!-- columns table: python -m rewards.columns -->",
        "| column | what it holds | headers also read as it (any case, spaces, punctuation) |",
        "|---|---|---|",
    ]
    for c in COLUMNS:
        also = ", ".join(c.synonyms)
        required = "**required**. " if c.required else ""
        lines.append(f"| `{c.name}` | {required}{c.description} | {also} |")
    words = ", ".join(f"`{w}`" for w in CONTAINED)
    lines += [
        "",
        f'A longer header holding {words} ("Gift Card UTID", "Reward Amount (USD)") is read',
        "as that column when no header names it exactly and only one header holds the word.",
        "When a required column is missing, the message names the closest header found.",
        "<!-- end of columns table -->",
    ]

    return "\n".join(lines)


if __name__ == "__main__":
    print(header_table())
