"""The row's declaration: the line identity is frozen, and a ledger knows which it was made under."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update

from rewards.columns import BY_NAME, COLUMNS, IDENTITY, IDENTITY_VERSION
from rewards.errors import LedgerIdentityError
from rewards.identity import line_item_ids
from rewards.ledger import Ledger, ledger_meta
from rewards.planning import line_item_body

# SHA-256 of repr((IDENTITY, IDENTITY_VERSION))
IDENTITY_DIGEST = "e8274025ea833574094e4a91873a65e53a350631f4bda3642eb99e5926b8b482"


def a_row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {c.name: "" for c in COLUMNS} | {"quantity": 1}
    return row | over


def test_the_line_identity_changes_only_with_its_version() -> None:
    digest = hashlib.sha256(repr((IDENTITY, IDENTITY_VERSION)).encode()).hexdigest()
    assert digest == IDENTITY_DIGEST, (
        "the line identity's columns changed without a new IDENTITY_VERSION: that re-keys "
        "every line, so a ledger made before would not recognise its lines and would send "
        "them again (exactly-once broken). Bump IDENTITY_VERSION in rewards/columns.py "
        "(ledgers refuse to open under another version), then update IDENTITY_DIGEST here."
    )
    places = sorted(c.identity for c in COLUMNS if c.identity is not None)
    assert places == list(range(len(IDENTITY))), "each identity place once, none skipped"


def test_a_line_id_is_what_it_was() -> None:
    """Pinned on a full row: catches a change of normalisation as well as of columns."""
    row = a_row(
        utid="U100001",
        amount="25.00",
        quantity=2,
        delivery_method="ADDRESS",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        street_line_1="1 Main St",
        city="Reno",
        postal_code="89501",
        country="US",
        campaign="Q4",
        client_row_key="K-1",
    )
    ids = line_item_ids(pd.DataFrame([row]), "acct-1")
    assert ids.tolist() == ["li-343167da7cdbd187ecd8428e84eb3888"]


def test_a_line_item_body_follows_the_wire_paths() -> None:
    mailed = a_row(
        line_id="li-1",
        utid="U100006",
        amount="25.00",
        quantity=2,
        delivery_method="ADDRESS",
        first_name="Ada",
        street_line_1="1 Main St",
        city="Reno",
        postal_code="89501",
        country="US",
        shipping_method="upsground",
        email="ada@example.com",
        campaign="Q4",
    )
    body = line_item_body(mailed)
    assert list(body) == [
        "externalRefLineItemID",
        "utid",
        "amount",
        "deliveryMethod",
        "recipient",
        "quantity",
        "shippingMethod",
    ]
    assert body["amount"] == 25.0 and body["quantity"] == 2
    assert body["recipient"] == {
        "firstName": "Ada",
        "email": "ada@example.com",
        "address": {
            "streetLine1": "1 Main St",
            "city": "Reno",
            "postalCode": "89501",
            "country": "US",
        },
    }
    emailed = line_item_body(mailed | {"delivery_method": "EMAIL", "quantity": 1})
    assert "address" not in emailed["recipient"] and "quantity" not in emailed
    assert (
        line_item_body(a_row(line_id="x", utid="U1", amount="1", delivery_method="NONE"))[
            "recipient"
        ]
        == {}
    )  # Tango wants the object even when empty
    assert BY_NAME["campaign"].wire is None  # sent on the order


def _meta(path: Path) -> dict[str, str]:
    book = Ledger(f"sqlite:///{path}")
    with book.engine.connect() as conn:
        out = {k: v for k, v in conn.execute(ledger_meta.select()).all()}
    book.close()
    return out


def test_a_ledger_made_under_another_identity_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    assert _meta(path)["identity_version"] == str(IDENTITY_VERSION)
    book = Ledger(f"sqlite:///{path}")
    with book.engine.begin() as conn:
        conn.execute(
            update(ledger_meta).where(ledger_meta.c.key == "identity_version").values(value="0")
        )
    book.close()
    with pytest.raises(LedgerIdentityError, match="identity version 0, this program by") as err:
        Ledger(f"sqlite:///{path}")
    assert "\n" not in str(err.value)


def test_a_ledger_from_before_the_identity_had_a_version_is_version_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    book = Ledger(f"sqlite:///{path}")
    with book.engine.begin() as conn:
        conn.execute(ledger_meta.delete().where(ledger_meta.c.key == "identity_version"))
    book.close()
    assert _meta(path)["identity_version"] == "1"


def test_the_report_keeps_its_columns() -> None:
    """People open the report in a spreadsheet and scripts read it: its columns, in order."""
    from rewards.reconcile import REPORT_COLUMNS

    assert REPORT_COLUMNS == [
        "row_number",
        "outcome",
        "reason",
        "first_name",
        "last_name",
        "email",
        "mobile_number",
        "utid",
        "reward_name",
        "delivery_method",
        "street_line_1",  # where a mailed reward went
        "street_line_2",
        "city",
        "state_or_province",
        "postal_code",
        "country",
        "currency",
        "amount_requested",
        "quantity",
        "fee",
        "amount_charged",
        "line_item_status",
        "delivery_status",
        "scheduled_delivery_date",
        "campaign",
        "client_row_key",
        "external_ref_line_item_id",
        "external_ref_id",
        "reference_order_id",
        "reference_line_item_id",
        "after_sending",  # new columns go last: scripts read the others by position
    ]
