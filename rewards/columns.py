"""The one declaration of a recipient row: each column's name, headers, kind, where it goes
in Tango's line item, whether it is part of the line's identity, and where the report shows it.

Everything else derives from :data:`COLUMNS`: the reader's header matching, the text checks
and the repeat key (:mod:`rewards.validation`), the line id (:mod:`rewards.identity`), the
line-item body (:mod:`rewards.planning`) and the report's columns (:mod:`rewards.reconcile`).
A new column is declared here; only a check of its own goes in validation. The order of
:data:`COLUMNS` is the order those walk it: keys of a line item's body appear in it (a stored
request reads as before), text is checked in it (problems list in it).

Headers are compared after dropping case, spaces and punctuation, and through common
synonyms, so "Email Address", "E-mail" and "email" all land on ``email``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from raas import rules

ROW = "row_number"  # the spreadsheet row (header = row 1); added by the reader

# Changing the identity (which columns, their order, how they are normalised) changes every
# line id, so a ledger made before would not recognise its lines: bump this with it.
IDENTITY_VERSION = 1

# the wire path of the postal address: sent only by a method that needs it (raas.rules.METHODS)
ADDRESS = ("recipient", "address")


class Kind(StrEnum):
    """What a column holds: how it is checked and how it goes on the wire."""

    CODE = "code"  # one of a known set, normalised (utid, method, country, shipping)
    MONEY = "money"  # a decimal amount; a number on the wire
    INT = "int"  # a whole number; on the wire only when it is not 1
    NAME = "name"  # a person's name
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"  # a line of the postal address
    DATE = "date"
    TEXT = "text"  # free text on one line
    LINES = "lines"  # free text that may have several lines


class Section(StrEnum):
    """Where the report shows a column, among the report's own columns (see
    :data:`rewards.reconcile.REPORT_COLUMNS`); within a section, in :data:`COLUMNS` order."""

    RECIPIENT = "recipient"
    REWARD = "reward"
    METHOD = "method"
    VALUE = "value"
    KEYS = "keys"


@dataclass(frozen=True)
class InReport:
    """How the report shows a column."""

    section: Section
    header: str | None = None  # the report's name for it, when not the column's
    rejected: bool = True  # a rejected row shows the cell as it was typed


@dataclass(frozen=True)
class Column:
    """One column of the spreadsheet: how headers find it, and what every part of a run
    does with it."""

    name: str
    description: str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    kind: Kind = Kind.TEXT
    wire: tuple[str, ...] | None = None  # path in a LineItem's body; None: not on the line
    identity: int | None = None  # place in the line identity (see IDENTITY_VERSION)
    # part of what makes two rows of one file the same reward to the same person (a repeat,
    # rejected): narrower than the identity, which also tells apart the method, the date...
    repeat: bool = False
    report: InReport | None = None
    limit: int | None = None  # characters Tango takes; checked as text sent to Tango

    @property
    def report_header(self) -> str:
        assert self.report is not None
        return self.report.header or self.name


COLUMNS: tuple[Column, ...] = (
    Column(
        "utid",
        "Tango reward id, e.g. U100001",
        ("rewardid", "rewardutid", "itemid", "tangoutid"),
        required=True,
        kind=Kind.CODE,
        wire=("utid",),
        identity=0,
        repeat=True,
        report=InReport(Section.REWARD),
    ),
    Column(
        "amount",
        "Reward amount in the item's currency, e.g. 25 or 25.50",
        (
            "amt",
            "rewardamount",
            "awardamount",
            "awardvalue",
            "giftamount",
            "value",
            "rewardvalue",
            "denomination",
            "cardvalue",
            "giftcardamount",
        ),
        required=True,
        kind=Kind.MONEY,
        wire=("amount",),
        identity=1,
        repeat=True,
        report=InReport(Section.VALUE, "amount_requested"),
    ),
    Column(
        "delivery_method",
        rules.methods_listed(hints=True),
        (
            "deliverymethod",
            "delivery",
            "method",
            "channel",
            "sendvia",
            "deliverychannel",
            "deliverytype",
            "deliverymode",
            "methodofdelivery",
        ),
        required=True,
        kind=Kind.CODE,
        wire=("deliveryMethod",),
        identity=3,
        report=InReport(Section.METHOD),
    ),
    Column(
        "first_name",
        "Recipient's first name",
        ("firstname", "first", "givenname", "recipientfirstname"),
        kind=Kind.NAME,
        wire=("recipient", "firstName"),
        identity=6,
        repeat=True,
        report=InReport(Section.RECIPIENT),
        limit=rules.NAME_MAX_CHARS,
    ),
    Column(
        "last_name",
        "Recipient's last name",
        ("lastname", "last", "surname", "familyname", "recipientlastname"),
        kind=Kind.NAME,
        wire=("recipient", "lastName"),
        identity=7,
        repeat=True,
        report=InReport(Section.RECIPIENT),
        limit=rules.NAME_MAX_CHARS,
    ),
    Column(
        "email",
        "Email address (EMAIL delivery)",
        ("emailaddress", "emailaddr", "recipientemail", "recipientemailaddress", "emailid"),
        kind=Kind.EMAIL,
        wire=("recipient", "email"),
        identity=4,
        repeat=True,
        report=InReport(Section.RECIPIENT),
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
            "phoneno",
            "mobileno",
            "cellno",
            "telephone",
            "tel",
        ),
        kind=Kind.PHONE,
        wire=("recipient", "mobileNumber"),
        identity=5,
        repeat=True,
        report=InReport(Section.RECIPIENT),
    ),
    Column(
        "quantity",
        "How many of this reward (default 1)",
        ("qty",),
        kind=Kind.INT,
        wire=("quantity",),
        identity=2,
        report=InReport(Section.VALUE, rejected=False),  # a rejected row's may be no number
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
            "sendondate",
            "sendby",
            "deliveron",
            "deliverondate",
            "deliverby",
            "deliverdate",
            "dateofdelivery",
            "scheduledon",
            "scheduledate",
            "dispatchdate",
        ),
        kind=Kind.DATE,
        wire=("deliveryDate",),
        identity=14,
    ),
    Column(
        "message",
        "Message shown to the recipient",
        ("giftmessage", "personalmessage", "messagetorecipient"),  # not "note": an office's own
        kind=Kind.LINES,
        wire=("message",),
        limit=rules.FREE_TEXT_MAX_CHARS,
    ),
    Column(
        "email_subject",
        "Email subject",
        ("emailsubject", "subjectline"),  # not "subject" alone: a school's, an office's own
        wire=("emailSubject",),
        limit=rules.FREE_TEXT_MAX_CHARS,
    ),
    Column(
        "campaign",
        "Campaign; send the same reward again with a new campaign",
        ("program", "programme", "campaignname"),
        identity=15,  # sent on the order, not the line (rewards.planning)
        repeat=True,
        report=InReport(Section.KEYS),
        limit=rules.CAMPAIGN_MAX_CHARS,
    ),
    Column(
        "street_line_1",
        "Street, line 1 (ADDRESS delivery)",
        ("streetline1", "address1", "addressline1", "street", "streetaddress", "address"),
        kind=Kind.ADDRESS,
        wire=(*ADDRESS, "streetLine1"),
        identity=8,
        repeat=True,
        limit=rules.ADDRESS_MAX_CHARS["streetLine1"],
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "street_line_2",
        "Street, line 2",
        ("streetline2", "address2", "addressline2", "apt", "suite", "unit"),
        kind=Kind.ADDRESS,
        wire=(*ADDRESS, "streetLine2"),
        identity=9,
        limit=rules.ADDRESS_MAX_CHARS["streetLine2"],
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "city",
        "City",
        ("town",),
        kind=Kind.ADDRESS,
        wire=(*ADDRESS, "city"),
        identity=10,
        limit=rules.ADDRESS_MAX_CHARS["city"],
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "state_or_province",
        "State or province",
        ("stateorprovince", "state", "province", "region", "county"),
        kind=Kind.ADDRESS,
        wire=(*ADDRESS, "stateOrProvince"),
        identity=11,
        limit=rules.ADDRESS_MAX_CHARS["stateOrProvince"],
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "postal_code",
        "Postal code",
        ("postalcode", "zip", "zipcode", "postcode", "zippostalcode", "postalzipcode", "zippostal"),
        kind=Kind.ADDRESS,
        wire=(*ADDRESS, "postalCode"),
        identity=12,
        repeat=True,
        limit=rules.ADDRESS_MAX_CHARS["postalCode"],
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "country",
        "Country, two letters (ISO 3166)",
        ("countrycode",),
        kind=Kind.CODE,
        wire=(*ADDRESS, "country"),
        identity=13,
        report=InReport(Section.METHOD),  # where a mailed reward went
    ),
    Column(
        "shipping_method",
        "Shipping method for ADDRESS delivery, e.g. upsground",
        ("shippingmethod", "shipping"),
        kind=Kind.CODE,
        wire=("shippingMethod",),
    ),
    Column(
        "client_row_key",
        "Your own key for the row (makes intentional repeats distinct)",
        ("clientrowkey", "rowkey", "clientkey", "externalid", "clientreference", "yourref"),
        identity=16,  # ours: never sent to Tango
        repeat=True,
        report=InReport(Section.KEYS),
    ),
)
BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
# The line identity, in its frozen order: what a line *is* (see rewards.identity).
_PLACES = {c.identity: c.name for c in COLUMNS if c.identity is not None}
IDENTITY = tuple(_PLACES[place] for place in range(len(_PLACES)))  # KeyError: a place skipped
WIRED = tuple(c for c in COLUMNS if c.wire is not None)
AT_WIRE = {".".join(c.wire): c for c in WIRED if c.wire is not None}  # by dotted path
REPEAT = tuple(c for c in COLUMNS if c.repeat)
TEXT_SENT = tuple(c for c in COLUMNS if c.limit is not None)  # text Tango gets, and its limit


def in_report(section: Section) -> tuple[Column, ...]:
    """The columns the report shows in ``section``, in declaration order."""
    return tuple(c for c in COLUMNS if c.report is not None and c.report.section is section)


def normalise_header(header: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


# Words that name a required column inside a longer header ("Gift Card UTID", "Reward Amount
# (USD)", "Delivery Method Preferred"), tried only when no header names the column exactly
# and only one header holds the word: a guess between two headers is not made.
CONTAINED = {"utid": ("utid",), "amount": ("amount",), "delivery_method": ("delivery", "method")}


# One column with the whole name (HR exports: "Employee Name"), read as the first name when no
# header names the first or last name: "Hi Jane Doe" rather than a greeting without a name.
WHOLE_NAMES = ("Name", "Full Name", "Employee Name", "Recipient Name", "Employee Full Name")
WHOLE_NAME = frozenset(normalise_header(h) for h in WHOLE_NAMES)


def _holds(header: str, words: tuple[str, ...]) -> bool:
    """Whether ``header`` holds every one of the ``words`` that name a column inside it."""
    text = normalise_header(header)
    return any(text) and all(word in text for word in words)


@dataclass(frozen=True)
class Columns:
    """The columns of one kind of spreadsheet (recipients, actions) and how headers find
    them; the reader takes one of these. Every kind matches by name and synonym; recipients
    also by the words a longer header holds (:data:`CONTAINED`) and by one whole-name
    header (:data:`WHOLE_NAMES`)."""

    kind: str  # what a message calls such a sheet: "recipient", "action"
    columns: tuple[Column, ...]
    template: str  # where to start from, for a message
    contained: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    whole_names: frozenset[str] = frozenset()  # normalised headers read as first_name

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
        """Map each header to its column. Returns (header -> column, clashes) where a clash
        is (column, first header, second header) for two headers naming the same column.
        Unknown headers are absent from the map (they are kept and carried into the report).
        A word inside a longer header names a column only when no header names it exactly
        and one header alone holds the word: a guess between two headers is not made."""
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
        for column in self.contained:
            holders = self.holding(column, [h for h in headers if h not in mapping])
            if column not in owner and len(holders) == 1:
                owner[column] = holders[0]
                mapping[holders[0]] = column
        whole = [h for h in headers if h not in mapping and normalise_header(h) in self.whole_names]
        if not ({"first_name", "last_name"} & set(owner)) and len(whole) == 1:
            mapping[whole[0]] = "first_name"
        return mapping, clashes

    def holding(self, column: str, headers: list[str]) -> list[str]:
        """The headers holding the word that names ``column`` inside a longer header
        (:data:`CONTAINED`): two of them are why neither was taken."""
        words = self.contained.get(column)
        return [h for h in headers if _holds(h, words)] if words else []

    def closest(self, column: str, headers: list[str]) -> str | None:
        """The header most like ``column`` or one of its synonyms, if any is close."""
        names = [normalise_header(n) for n in (column, *self.by_name[column].synonyms)]
        best: tuple[float, str] | None = None
        for header in headers:
            text = normalise_header(header)
            if not text:
                continue
            score = max(_likeness(text, n) for n in names)
            if score >= 0.7 and (best is None or score > best[0]):
                best = (score, header)
        return best[1] if best else None


def _likeness(header: str, name: str) -> float:
    """How like a column's name a (normalised) header is: difflib's ratio, and at least the
    bar when the header is how the name begins ("award" for "awardamount": "Award ($)")."""
    begins = len(header) >= 4 and name.startswith(header)
    return max(difflib.SequenceMatcher(None, header, name).ratio(), 0.7 if begins else 0.0)


RECIPIENTS = Columns(
    "recipient", COLUMNS, "data/templates/", contained=CONTAINED, whole_names=WHOLE_NAME
)


# the actions spreadsheet (rewards.actions): what to do about rewards already sent
ACTIONS_TEMPLATE = "a report's failed_deliveries.csv or data/templates/actions_template.csv"
ACTION_COLUMNS = Columns(
    "action",
    (
        Column(
            "action",
            "resend, reissue, cancel, reschedule, note, freeze or unfreeze",
            ("whattodo", "todo", "actiontype"),
            required=True,
        ),
        Column(
            "line_id",
            "The line: the report's reference_line_item_id (Tango's referenceLineItemId)",
            ("referencelineitemid", "lineitemid", "referencelineid", "line"),
        ),
        Column(
            "external_ref_line_item_id",
            "Or the line's externalRefLineItemID (the report's column of that name)",
            ("externalreflineitemid", "externalreferencelineitemid"),
        ),
        Column(
            "new_email",
            "resend / reissue: the new email address (blank: the line's own)",
            ("newemail", "newemailaddress", "correctemail"),
        ),
        Column(
            "new_mobile_number",
            "resend / reissue: the new mobile number (blank: the line's own)",
            ("newmobile", "newphone", "newmobilenumber", "newphonenumber"),
        ),
        Column(
            "new_delivery_method",
            "resend: EMAIL, PHONE or WHATSAPP; reissue: EMAIL, PHONE, EMBEDDED... (blank: same)",
            ("newdeliverymethod", "newmethod"),
        ),
        Column("amount", "reissue: the new amount (blank: the same)", ("newamount",)),
        Column(
            "delivery_date",
            "reschedule: the new delivery date, YYYY-MM-DD, 7-90 days ahead",
            ("newdeliverydate", "newdate", "deliverydate"),
        ),
        Column("note", "note: the line's note (reissue: the new line's notes)", ("linenote",)),
        Column(
            "reason_code",
            "Tango's reason code for the action (resend, reissue, cancel, freeze, unfreeze)",
            ("reasoncode", "reason"),
        ),
        Column("other_reason", "Why, in words, when reason_code is OTHER", ("otherreason",)),
        Column(
            "repeat_key",
            "Anything new here makes an action done before a new one (a second reminder)",
            ("repeatkey",),
        ),
    ),
    ACTIONS_TEMPLATE,
)


def is_actions_sheet(headers: list[str]) -> bool:
    """A header with an ``action`` column and a line column: an actions file, not recipients."""
    found = {ACTION_COLUMNS.column_of(h) for h in headers}
    return "action" in found and bool(found & {"line_id", "external_ref_line_item_id"})


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
    said = [
        ("both " if len(ws) > 1 else "") + " and ".join(f"`{w}`" for w in ws)
        for ws in CONTAINED.values()
    ]
    words = ", ".join(said[:-1]) + ", or " + said[-1]

    lines += [
        "",
        f'A longer header holding {words} ("Gift Card UTID", "Reward Amount (USD)",',
        '"Method of Delivery") is read as that column when no header names it exactly and',
        "only one header holds the words.",
        "When a required column is missing, the message names the closest header found.",
        "One header with the whole name (" + ", ".join(f'"{n}"' for n in WHOLE_NAMES) + ")",
        "is read as `first_name` when no header names the first or last name: the whole name",
        "goes as the first name.",
        "",
        *_methods_table(),
        "<!-- end of columns table -->",
    ]

    return "\n".join(lines)


def _methods_table() -> list[str]:
    """Each delivery method (raas.rules.METHODS): how a sheet may write it, what its row needs."""
    lines = [
        "| `delivery_method` | also written as (any case) | the row also needs |",
        "|---|---|---|",
    ]
    for m in rules.METHODS.values():
        needs = "; ".join(
            f"{n.what} ({', '.join(f'`{AT_WIRE[p].name}`' for p in n.paths)})" for n in m.needs
        )
        also = ", ".join(f'"{a}"' for a in m.aliases) or "its name only"
        physical = "" if m.digital else " (a physical card)"
        lines.append(f"| {m.name.value}{physical} | {also} | {needs or 'no contact'} |")
    return lines


if __name__ == "__main__":
    print(header_table())
