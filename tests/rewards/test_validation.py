"""One declaration of a valid row, every failing check reported with row, column and reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raas import Catalog
from rewards.columns import ROW
from rewards.validation import ValidationOptions, normalise_phone, validate

CATALOG = Catalog.model_validate(
    json.loads((Path(__file__).resolve().parents[2] / "data/sandbox/catalog.json").read_text())
)
TODAY = date(2026, 11, 28)


def frame(*rows: dict[str, str]) -> pd.DataFrame:
    base = {"utid": "U100001", "amount": "10", "delivery_method": "email", "email": "a@example.com"}
    records = [{**base, **r} for r in rows]
    df = pd.DataFrame(records).fillna("").astype("str")
    df.insert(0, ROW, range(2, 2 + len(df)))
    return df


def check(*rows: dict[str, str], **opts: object):
    return validate(frame(*rows), CATALOG, "USD", ValidationOptions(today=TODAY, **opts))


def reasons(result, row: int) -> dict[str, str]:
    p = result.problems[result.problems[ROW] == row]
    return dict(zip(p["column"], p["reason"], strict=True))


def test_a_good_row_is_normalised() -> None:
    result = check(
        {"amount": "7.5", "delivery_method": "E-Mail", "email": "A@Example.COM", "utid": "u100001"}
    )
    assert result.problems.empty and len(result.valid) == 1
    row = result.valid.iloc[0]
    assert (row["utid"], row["amount"], row["delivery_method"], row["email"]) == (
        "U100001",
        "7.50",
        "EMAIL",
        "a@example.com",
    )
    assert row["currency"] == "USD" and row["fee"] == "0.00"


@pytest.mark.parametrize(
    ("override", "column", "needle"),
    [
        ({"utid": ""}, "utid", "utid is empty"),
        ({"utid": "X12"}, "utid", "U followed by digits"),
        ({"utid": "U424242"}, "utid", "not in the account's catalog"),
        ({"utid": "U100011"}, "utid", "not active"),
        ({"utid": "U100009"}, "utid", "in GBP, the account in USD"),
        ({"amount": ""}, "amount", "amount is empty"),
        ({"amount": "$1,000.50"}, "amount", "plain number"),
        ({"amount": "1.000,50"}, "amount", "plain number"),
        ({"amount": "1e3"}, "amount", "plain number"),
        ({"amount": "-5"}, "amount", "plain number"),
        ({"amount": "NaN"}, "amount", "plain number"),
        ({"amount": "10.001"}, "amount", "plain number"),
        ({"amount": "0"}, "amount", "greater than 0"),
        ({"amount": "2500"}, "amount", "above the maximum 2000.00 USD"),
        ({"utid": "U100003", "amount": "11"}, "amount", "fixed value of 10.00"),
        ({"utid": "U100010", "amount": "10.50"}, "amount", "whole amount"),
        ({"quantity": "0"}, "quantity", "whole number"),
        ({"quantity": "11"}, "quantity", "between 1 and 10"),
        ({"delivery_method": "pigeon"}, "delivery_method", "unknown delivery method pigeon"),
        ({"delivery_method": ""}, "delivery_method", "delivery method is empty"),
        ({"utid": "U100007"}, "delivery_method", "cannot be delivered by EMAIL"),
        ({"email": ""}, "email", "needs an email address"),
        ({"email": "a@b"}, "email", "not a valid email"),
        ({"delivery_method": "sms", "mobile_number": ""}, "mobile_number", "needs a mobile number"),
        (
            {"delivery_method": "sms", "mobile_number": "1.4155550100E10"},
            "mobile_number",
            "scientific notation",
        ),
        ({"delivery_method": "sms", "mobile_number": "12"}, "mobile_number", "not a valid mobile"),
        (
            {"delivery_method": "mail", "utid": "U100006", "email": ""},
            "street_line_1",
            "needs street_line_1",
        ),
        (
            {
                "delivery_method": "mail",
                "utid": "U100006",
                "street_line_1": "1 Main",
                "city": "X",
                "postal_code": "1",
                "country": "USA",
                "shipping_method": "upsground",
            },
            "country",
            "two-letter",
        ),
        ({"shipping_method": "carrier pigeon"}, "shipping_method", "unknown shipping method"),
        ({"delivery_date": "12/10/2026"}, "delivery_date", "YYYY-MM-DD"),
        ({"delivery_date": "2026-12-10"}, "delivery_date", "cannot be scheduled"),
        ({"utid": "U100008", "delivery_date": "2026-11-30"}, "delivery_date", "at least 7 days"),
        ({"utid": "U100008", "delivery_date": "2027-06-01"}, "delivery_date", "at most 90 days"),
        ({"first_name": '=HYPERLINK("http://x","click")'}, "first_name", "spreadsheet formula"),
    ],
)
def test_each_problem_names_its_column_and_reason(override, column, needle) -> None:
    result = check({}, override)
    assert len(result.valid) == 1, "the good row goes on"
    found = reasons(result, 3)
    assert column in found, found
    assert needle in found[column]
    assert result.rejected[ROW].tolist() == [3]
    assert needle in result.rejected.loc[0, "problems"]


def test_every_problem_of_a_row_is_reported() -> None:
    result = check({"utid": "U424242", "amount": "abc", "delivery_method": "fax"})
    assert set(reasons(result, 2)) == {"utid", "amount", "delivery_method"}


def test_scheduled_link_in_the_window_is_valid() -> None:
    result = check({"utid": "U100008", "delivery_date": "2026-12-10 00:00:00"})
    assert result.problems.empty and result.valid.loc[0, "delivery_date"] == "2026-12-10"


def test_address_delivery_with_everything() -> None:
    result = check(
        {
            "utid": "U100006",
            "amount": "50",
            "delivery_method": "Postal Mail",
            "email": "",
            "street_line_1": "1 Main St",
            "city": "Reno",
            "postal_code": "89501",
            "country": "us",
            "shipping_method": "UPS Ground",
        }
    )
    assert result.problems.empty
    row = result.valid.iloc[0]
    assert (row["delivery_method"], row["country"], row["shipping_method"], row["fee"]) == (
        "ADDRESS",
        "US",
        "upsground",
        "3.95",
    )


def test_duplicate_rows_point_at_the_first() -> None:
    result = check({}, {"amount": "20"}, {}, {"client_row_key": "second-award"})
    assert result.valid[ROW].tolist() == [2, 3, 5]
    assert "as row 2" in reasons(result, 4)["row"]


def test_the_same_amount_written_differently_is_a_repeat_and_another_campaign_is_not() -> None:
    result = check({}, {"amount": "10.00"}, {"campaign": "q4"}, {"email": "b@example.com"})
    assert result.valid[ROW].tolist() == [2, 4, 5]
    assert "as row 2" in reasons(result, 3)["row"]


def test_repeats_are_decided_by_values_even_if_every_hash_collided(monkeypatch) -> None:
    """The row hash only picks candidates; equal values decide. Forcing every row to be a
    candidate (as if all hashes collided) must flag exactly the true repeats."""
    import rewards.validation as validation

    rows = (
        {},
        {"amount": "10.00"},  # row 2 again
        {"email": "A@Example.com"},  # row 2 again: emails compare without case
        {"email": "b@example.com"},
        {"campaign": "q4"},
        {"first_name": "Ann"},
        {"first_name": "ANN"},  # row 7 again
    )
    honest = check(*rows)
    monkeypatch.setattr(validation, "_shared_hashes", lambda key, n: np.ones(n, dtype=bool))
    collided = check(*rows)
    for name in ("valid", "problems", "rejected"):
        pd.testing.assert_frame_equal(getattr(honest, name), getattr(collided, name))
    assert honest.valid[ROW].tolist() == [2, 5, 6, 7]
    assert {r: reasons(honest, r)["row"][:43] for r in (3, 4, 8)} == {
        3: "same recipient, reward, amount and campaign as row 2"[:43],
        4: "same recipient, reward, amount and campaign as row 2"[:43],
        8: "same recipient, reward, amount and campaign as row 7"[:43],
    }


def test_many_distinct_amounts_are_checked_one_by_one() -> None:
    """Past 65,536 (reward, amount) pairs the pairs are numbered as seen, not densely."""
    amounts = [str(n) for n in range(1, 70_001)]  # U100008 takes 5 to 2000
    rows = [{"utid": "U100008", "amount": a, "email": f"u{a}@example.com"} for a in amounts]
    result = check(*rows)
    out = [int(a) + 1 for a in amounts if not 5 <= int(a) <= 2000]  # row = amount + 1
    flagged = result.problems[result.problems["column"] == "amount"]
    assert flagged[ROW].tolist() == out and len(result.valid) == 70_000 - len(out)
    assert "below the minimum" in reasons(result, 2)["amount"]
    assert "above the maximum" in reasons(result, 2002)["amount"]
    assert result.valid["amount"].iloc[0] == "5.00" and set(result.valid["fee"]) == {"0.00"}


def test_default_campaign_fills_blanks_only() -> None:
    result = check({"campaign": ""}, {"campaign": "spring"}, default_campaign="q4")
    assert result.valid["campaign"].tolist() == ["q4", "spring"]


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+1 (415) 555-0100", "US", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("14155550100", "US", "+14155550100"),
        ("0044 7700 900123", "US", "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),
        ("4155550100", None, ""),
        ("+0123", "US", ""),
    ],
)
def test_phone_normalisation(raw: str, country: str | None, e164: str) -> None:
    assert normalise_phone(pd.Series([raw], dtype="str"), country).iloc[0] == e164


def test_each_rejected_row_carries_all_its_problems_in_check_order() -> None:
    """Joined once per kind of bad row, then spread: rows in any order get their own."""
    df = frame({"utid": "X1", "amount": "ten"}, {}, {"delivery_method": "fax"}, {"amount": "-1"})
    df[ROW] = [9, 3, 7, 5]  # not the order problems are sorted in
    result = validate(df, CATALOG, "USD", ValidationOptions(today=TODAY))
    by_row = dict(zip(result.rejected[ROW], result.rejected["problems"], strict=True))
    assert by_row == {
        9: "utid: utid must be U followed by digits, e.g. U100001; amount: amount must be a "
        "plain number with at most 2 decimals, e.g. 25 or 25.50 (no currency sign, thousands "
        "separator or exponent)",
        7: "delivery_method: unknown delivery method fax: use EMAIL, PHONE (sms), ADDRESS "
        "(mail), EMBEDDED (link) or NONE",
        5: "amount: amount must be a plain number with at most 2 decimals, e.g. 25 or 25.50 "
        "(no currency sign, thousands separator or exponent)",
    }
    assert result.problems[ROW].tolist() == [5, 7, 9, 9]
