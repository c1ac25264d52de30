"""One set of Tango's rules, two evaluators: the sandbox judges a line as Tango does (one line
at a time, ``sandbox.line_checks``), validation judges a whole file at once. On the same
lines they must agree on what is accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest

from raas import Catalog
from raas._models import DeliveryMethod, LineItem
from rewards.columns import AT_WIRE, COLUMNS, ROW
from rewards.validation import ValidationOptions, validate
from sandbox.line_checks import line_problems


def _catalog() -> Catalog:
    """The sandbox's catalog, and a card that goes by every method (U100099)."""
    data = json.loads(
        (Path(__file__).resolve().parents[2] / "data/sandbox/catalog.json").read_text()
    )
    card = data["brands"][0]["items"][0]
    every = [m.value for m in DeliveryMethod]
    data["brands"][0]["items"].append(card | {"utid": "U100099", "deliveryMethods": every})
    return Catalog.model_validate(data)


CATALOG = _catalog()
ITEMS = {i.utid: i for i in CATALOG.items()}
TODAY = datetime.now(UTC).date()  # the sandbox judges dates against today
IN_20_DAYS = (TODAY + timedelta(days=20)).isoformat()

EMAIL = {"email": "ada@example.com"}
MOBILE = {"mobileNumber": "+14155550100"}
POSTAL = {"streetLine1": "1 Main St", "city": "Reno", "postalCode": "89501", "country": "US"}
ADDRESS = {"firstName": "Ada", "address": POSTAL}


def line(utid: str, method: str, recipient: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"utid": utid, "amount": 10, "deliveryMethod": method, "recipient": recipient, **more}


def without(address_field: str) -> dict[str, Any]:
    return {**ADDRESS, "address": {k: v for k, v in POSTAL.items() if k != address_field}}


# (name, line as sent to Tango, accepted)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("email", line("U100001", "EMAIL", EMAIL), True),
    ("email without an address", line("U100001", "EMAIL", {}), False),
    ("email not an address", line("U100001", "EMAIL", {"email": "ada.example.com"}), False),
    ("phone", line("U100007", "PHONE", MOBILE), True),
    ("phone without a number", line("U100007", "PHONE", {}), False),
    ("phone for a digital card", line("U100001", "PHONE", MOBILE), True),
    ("whatsapp the reward does not take", line("U100001", "WHATSAPP", MOBILE), False),
    ("whatsapp without a number", line("U100099", "WHATSAPP", {}), False),
    ("whatsapp", line("U100099", "WHATSAPP", MOBILE), True),
    ("embedded component", line("U100099", "EMBEDDED_COMPONENT", {}), True),
    ("phone, by a card that goes every way", line("U100099", "PHONE", MOBILE), True),
    ("mailing a card that goes every way", line("U100099", "ADDRESS", ADDRESS), False),
    ("embedded", line("U100001", "EMBEDDED", {}), True),
    ("none", line("U100001", "NONE", {}), True),
    ("mailed", line("U100006", "ADDRESS", ADDRESS, shippingMethod="upsground"), True),
    ("mailed without shipping", line("U100006", "ADDRESS", ADDRESS), False),
    *(
        (
            f"mailed without {f}",
            line("U100006", "ADDRESS", without(f), shippingMethod="upsground"),
            False,
        )
        for f in ("streetLine1", "city", "postalCode", "country")
    ),
    (
        "mailed to a second street line",
        line(
            "U100006",
            "ADDRESS",
            {**ADDRESS, "address": POSTAL | {"streetLine2": "Apt 2"}},
            shippingMethod="upsground",
        ),
        True,
    ),
    (
        "mailing a digital card",
        line("U100001", "ADDRESS", ADDRESS, shippingMethod="upsground"),
        False,
    ),
    ("emailing a physical card", line("U100006", "EMAIL", EMAIL), False),
    ("below the minimum", line("U100002", "EMAIL", EMAIL) | {"amount": 4}, False),
    ("above the maximum", line("U100002", "EMAIL", EMAIL) | {"amount": 501}, False),
    ("not the fixed value", line("U100003", "EMAIL", EMAIL) | {"amount": 12}, False),
    ("the fixed value", line("U100003", "EMAIL", EMAIL), True),
    ("not a whole amount", line("U100010", "EMAIL", EMAIL) | {"amount": 10.5}, False),
    ("inactive reward", line("U100011", "EMAIL", EMAIL), False),
    ("unknown reward", line("U999999", "EMAIL", EMAIL), False),
    ("another currency", line("U100009", "EMAIL", EMAIL), False),
    ("ten of them", line("U100001", "EMAIL", EMAIL, quantity=10), True),
    ("eleven of them", line("U100001", "EMAIL", EMAIL, quantity=11), False),
    ("scheduled", line("U100008", "EMAIL", EMAIL, deliveryDate=IN_20_DAYS), True),
    (
        "scheduled too soon",
        line("U100008", "EMAIL", EMAIL, deliveryDate=(TODAY + timedelta(days=3)).isoformat()),
        False,
    ),
    (
        "scheduled too far",
        line("U100008", "EMAIL", EMAIL, deliveryDate=(TODAY + timedelta(days=100)).isoformat()),
        False,
    ),
    ("scheduling a gift card", line("U100001", "EMAIL", EMAIL, deliveryDate=IN_20_DAYS), False),
]


def sandbox_accepts(wire: dict[str, Any]) -> bool:
    try:
        li = LineItem.model_validate({"externalRefLineItemID": "li-1", **wire})
    except pydantic.ValidationError:
        return False  # Tango refuses the order
    return not line_problems(li, ITEMS.get(li.utid), "USD")


def _cells(wire: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A wire line as the spreadsheet row it comes from (rewards.columns' wire paths)."""
    out: dict[str, str] = {}
    for key, value in wire.items():
        path = prefix + key
        if isinstance(value, dict):
            out |= _cells(value, path + ".")
        else:
            out[AT_WIRE[path].name] = str(value)
    return out


def validation_accepts(lines: list[dict[str, Any]]) -> list[bool]:
    rows = [{c.name: "" for c in COLUMNS} | _cells(w) for w in lines]
    frame = pd.DataFrame(rows).astype("str")
    frame["client_row_key"] = [str(i) for i in range(len(frame))]  # no row repeats another
    frame.insert(0, ROW, range(2, 2 + len(frame)))
    valid = validate(frame, CATALOG, "USD", ValidationOptions(today=TODAY)).valid
    return frame[ROW].isin(valid[ROW]).tolist()


def test_the_cases_cover_every_delivery_method() -> None:
    from raas.rules import METHODS

    assert {w["deliveryMethod"] for _, w, _ in CASES} == set(METHODS)


@pytest.mark.parametrize(("name", "wire", "accepted"), CASES, ids=[name for name, _, _ in CASES])
def test_the_sandbox_judges_a_line_as_declared(
    name: str, wire: dict[str, Any], accepted: bool
) -> None:
    assert sandbox_accepts(wire) is accepted


def test_validation_judges_every_case_as_the_sandbox_does() -> None:
    said = validation_accepts([w for _, w, _ in CASES])
    sandbox = [sandbox_accepts(w) for _, w, _ in CASES]
    disagree = [name for (name, _, _), v, s in zip(CASES, said, sandbox, strict=True) if v != s]
    assert not disagree, f"validation and the sandbox disagree on: {disagree}"
