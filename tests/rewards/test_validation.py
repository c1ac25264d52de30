"""One declaration of a valid row, every failing check reported with row, column and reason."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raas import Catalog, rules
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


def reasons(result, row: int, table: str = "problems") -> dict[str, str]:
    """Each column's reasons for ``row``, joined."""
    found = getattr(result, table)
    out: dict[str, str] = {}
    for column, reason in found[found[ROW] == row][["column", "reason"]].itertuples(index=False):
        out[column] = f"{out[column]}; {reason}" if column in out else reason
    return out


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
        ({"amount": "$1,000.50"}, "amount", "thousands separator: write 1000, not 1,000"),
        ({"amount": "1.000,50"}, "amount", "write 1000.50, not 1.000,50"),
        ({"amount": "1e3"}, "amount", "scientific notation"),
        ({"amount": "-5"}, "amount", "greater than 0: write it without a minus sign"),
        ({"amount": "NaN"}, "amount", "not a number: write it as 25 or 25.50"),
        ({"amount": "10.001"}, "amount", "at most 2 decimals"),
        ({"amount": "25,5"}, "amount", "decimal comma"),
        ({"amount": "$-25"}, "amount", "without a minus sign"),
        ({"amount": "-$25"}, "amount", "without a minus sign"),
        ({"amount": "(25.00)"}, "amount", "how accounts write a negative amount"),
        ({"amount": "+25"}, "amount", "plus sign"),
        ({"amount": "1 000"}, "amount", "thousands separator"),
        ({"amount": ".5"}, "amount", "both sides of its point"),
        ({"amount": "25."}, "amount", "both sides of its point"),
        ({"amount": "0"}, "amount", "greater than 0"),
        ({"amount": "2500"}, "amount", "above the maximum 2000.00 USD"),
        ({"utid": "U100003", "amount": "11"}, "amount", "fixed value of 10.00"),
        ({"utid": "U100010", "amount": "10.50"}, "amount", "whole amount"),
        ({"quantity": "0"}, "quantity", "whole number"),
        ({"quantity": "11"}, "quantity", "between 1 and 10"),
        ({"delivery_method": "pigeon"}, "delivery_method", "unknown delivery method pigeon"),
        # "no" may mean "skip this person": it buys a reward nobody is sent, so it is no alias
        ({"delivery_method": "no"}, "delivery_method", "unknown delivery method no"),
        ({"delivery_method": ""}, "delivery_method", "delivery method is empty"),
        ({"utid": "U100007"}, "delivery_method", "cannot be delivered by EMAIL"),
        ({"email": ""}, "email", "EMAIL delivery needs an email address"),
        ({"email": "a@b"}, "email", "not a valid email"),
        (
            {"delivery_method": "sms", "mobile_number": ""},
            "mobile_number",
            "PHONE delivery needs a mobile number",
        ),
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
        ({"country": "US", "postal_code": "2139"}, "postal_code", "dropped its leading 0"),
        ({"country": "us", "postal_code": "8950X"}, "postal_code", "5 digits, or 5 and 4"),
        ({"delivery_date": "12/10/2026"}, "delivery_date", "YYYY-MM-DD"),
        ({"delivery_date": "2026-12-10"}, "delivery_date", "cannot be scheduled"),
        ({"utid": "U100008", "delivery_date": "2026-11-30"}, "delivery_date", "at least 7 days"),
        ({"utid": "U100008", "delivery_date": "2027-06-01"}, "delivery_date", "at most 90 days"),
        ({"first_name": '=HYPERLINK("http://x","click")'}, "first_name", "spreadsheet formula"),
        # a spreadsheet's text mark typed into the cell: "'b1@x.com" is another address
        ({"email": "'ann@example.com"}, "email", "email starts with an apostrophe"),
        ({"amount": "'25"}, "amount", "amount starts with an apostrophe"),
        ({"campaign": "'q4"}, "campaign", "campaign starts with an apostrophe"),  # a 2nd reward
        ({"client_row_key": "'17"}, "client_row_key", "starts with an apostrophe"),
        ({"first_name": "'Di"}, "first_name", "first_name starts with an apostrophe"),
        ({"postal_code": "'89501"}, "postal_code", "postal_code starts with an apostrophe"),
        ({"delivery_method": "'email"}, "delivery_method", "starts with an apostrophe"),
        (
            {"delivery_method": "sms", "mobile_number": "'4155550100"},
            "mobile_number",
            "mobile_number starts with an apostrophe",
        ),
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


def test_a_missing_contact_is_said_in_the_rows_own_method() -> None:
    """WhatsApp needs a mobile number as PHONE does: its row is told WHATSAPP needs one (a
    message naming PHONE sent people to a method they did not choose)."""
    found = reasons(check({"delivery_method": "WHATSAPP", "mobile_number": ""}), 2)
    assert "WHATSAPP delivery needs a mobile number" in found["mobile_number"], found
    assert "PHONE" not in found["mobile_number"]


def test_every_problem_of_a_row_is_reported() -> None:

    result = check({"utid": "U424242", "amount": "abc", "delivery_method": "fax"})
    assert set(reasons(result, 2)) == {"utid", "amount", "delivery_method"}


def test_scheduled_link_in_the_window_is_valid() -> None:
    result = check({"utid": "U100008", "delivery_date": "2026-12-10 00:00:00"})
    assert result.problems.empty and result.valid.loc[0, "delivery_date"] == "2026-12-10"


def test_a_delivery_time_is_said_not_to_be_sent() -> None:
    """A time with the date ("2026-12-10 09:30") was dropped without a word: the reward goes
    on the day, at Tango's hour. Valid, with a warning; a date cell's midnight says nothing."""
    result = check(
        {"utid": "U100008", "delivery_date": "2026-12-10 09:30"},
        {"utid": "U100008", "delivery_date": "2026-12-10T00:00:00", "email": "b@example.com"},
        {"utid": "U100008", "delivery_date": "2026-12-10T09:00:00", "email": "c@example.com"},
    )
    assert result.problems.empty and len(result.valid) == 3
    warned = reasons(result, 2, "warnings")
    assert "the time (09:30) is not sent" in warned["delivery_date"], warned
    assert reasons(result, 3, "warnings") == {}
    assert "the time (09:00) is not sent" in reasons(result, 4, "warnings")["delivery_date"]


def test_a_row_its_own_note_says_not_to_send_is_not_sent() -> None:
    """ "DO NOT SEND" in an office's Status column was sent as any other row."""
    rows = [
        {"Status": "DO NOT SEND"},
        {"email": "b@example.com", "Status": "sent already? don't send twice"},
        {"email": "c@example.com", "Status": "send on Monday"},
    ]
    result = check(*rows)
    assert result.valid[ROW].tolist() == [4], result.problems
    assert "its 'Status' says not to send it" in reasons(result, 2)["row"]


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
    import rewards.columnar as columnar

    rows = (
        {},
        {"amount": "10.00"},  # row 2 again
        {"email": "A@Example.com"},  # row 2 again: emails compare without case
        {"email": "b@example.com"},
        {"campaign": "q4"},
        {"first_name": "Ann", "delivery_method": "embedded", "email": ""},  # a link: by name
        {"first_name": "ANN", "delivery_method": "embedded", "email": ""},  # row 7 again
    )
    honest = check(*rows)
    monkeypatch.setattr(columnar, "shared", lambda hashes: np.ones(len(hashes), dtype=bool))
    collided = check(*rows)
    for name in ("valid", "problems", "rejected", "warnings"):
        pd.testing.assert_frame_equal(getattr(honest, name), getattr(collided, name))
    assert honest.valid[ROW].tolist() == [2, 5, 6, 7]
    assert {r: reasons(honest, r)["row"][:43] for r in (3, 4, 8)} == {
        3: "same recipient, reward, amount and campaign as row 2"[:43],
        4: "same recipient, reward, amount and campaign as row 2"[:43],
        8: "same recipient, reward, amount and campaign as row 7"[:43],
    }


def test_the_same_recipient_and_reward_at_another_amount_is_pointed_out(monkeypatch) -> None:
    """A correction typed under the list ("Ann: 50, not 25") with the row it corrects left in
    was sent twice without a word: both rows are valid (two rewards may be meant), and the
    later one is warned of, naming the earlier. Decided by values, whatever the hashes."""
    import rewards.columnar as columnar

    rows = (
        {"amount": "25"},
        {"email": "b@example.com", "amount": "25"},
        {"amount": "50"},  # row 2 at another amount
        {"email": "b@example.com", "amount": "25", "campaign": "q4"},  # another campaign
        {"amount": "50.00"},  # row 4 again: a repeat, refused (not also warned)
    )
    for collided in (False, True):
        if collided:
            monkeypatch.setattr(columnar, "shared", lambda h: np.ones(len(h), dtype=bool))
        result = check(*rows)
        assert result.valid[ROW].tolist() == [2, 3, 4, 5], result.problems
        assert set(result.warnings[ROW]) == {4}, result.warnings
        said = reasons(result, 4, "warnings")["amount"]
        assert "same recipient and reward as row 2, at another amount (25.00 there)" in said


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
        9: "utid: utid must be U followed by digits, e.g. U100001; amount: amount is not a "
        "number: write it as 25 or 25.50 (the account currency's sign may stand before it)",
        7: "delivery_method: unknown delivery method fax: use EMAIL, PHONE (sms), ADDRESS "
        "(mail), EMBEDDED (link), NONE, EMBEDDED_COMPONENT or WHATSAPP",
        5: "amount: amount must be greater than 0: write it without a minus sign",
    }
    assert result.problems[ROW].tolist() == [5, 7, 9, 9]


FORMULA = "starts like a spreadsheet formula"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("first_name", "+cmd|' /C calc'!A0"),
        ("last_name", "-2+3+cmd|' /C calc'!A0"),
        ("message", "@SUM(1+1)*cmd|' /C calc'!A0"),
        ("city", "@cmd"),
        ("first_name", "\uff1d1+1"),  # fullwidth =
        ("email_subject", "\uff20cmd"),  # fullwidth @
        ("campaign", "\t=1+1"),
        ("street_line_2", "\r\n+1"),
        ("postal_code", " -12"),
        ("email", "=1+1@example.com"),
        ("email", "+cmd|x@example.com"),
    ],
)
def test_formula_looking_text_is_rejected_in_every_text_field(column: str, value: str) -> None:
    result = check({}, {column: value})
    assert FORMULA in reasons(result, 3).get(column, ""), reasons(result, 3)
    assert result.valid[ROW].tolist() == [2]


def test_where_a_sign_is_legitimate_it_passes() -> None:
    result = check(
        {
            "delivery_method": "sms",
            "utid": "U100007",
            "mobile_number": "+14155550100",
            "client_row_key": "-17",  # hashed into the line id, never sent
            "first_name": "Anne-Marie",
            "message": "Thanks - from all of us! =)",
        }
    )
    assert result.problems.empty, result.problems


@pytest.mark.parametrize(
    ("email", "needle"),
    [
        ("a\x07b@example.com", "invisible or control character"),
        ("ab\u200b@example.com", "invisible or control character"),
        ("\u202eab@example.com", "invisible or control character"),
        ("p\u0430ypal@example.com", "mixes scripts"),  # a Cyrillic a among Latin letters
        ("ada@ex\u0430mple.com", "mixes scripts"),
        ("\uff41\uff44\uff41@example.com", "fullwidth"),
        ("a" * 65 + "@example.com", "too long"),
        ("a@" + "b" * 250 + ".com", "too long"),
        ("ada@ex\u00e4mple-.com", "not a valid internationalised domain"),
        ("ada@@example.com", "not a valid email"),
        ("ada@example", "not a valid email"),
        ("a..b@example.com", "not a valid email"),
        ("e2 @example.com", "contains a space: remove it"),
        ("e5@example.com; e5b@example.com", "more than one address: one address per row"),
        ("e5@example.com, e5b@example.com", "more than one address"),
        ("Ada Lovelace <ada@example.com>", "holds a name as well: write the address alone"),
        ("a\u00a0b@example.com", "invisible or control character"),
    ],
)
def test_emails_must_be_rfc_shaped_and_say_why_not(email: str, needle: str) -> None:
    result = check({}, {"email": email})
    assert needle in reasons(result, 3).get("email", ""), reasons(result, 3)


@pytest.mark.parametrize(
    "email",
    [
        "zo\u00eb@ex\u00e4mple.com",
        "\u043f\u0440\u0438\u043c\u0435\u0440@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a",
        "first.last+tag@sub.example.co.uk",
    ],
)
def test_internationalised_and_plain_addresses_pass(email: str) -> None:
    assert check({"email": email}).problems.empty


@pytest.mark.parametrize(
    ("override", "column", "needle"),
    [
        ({"message": "x" * 1025}, "message", "longer than 1024 characters"),
        ({"email_subject": "x" * 1025}, "email_subject", "longer than 1024"),
        ({"first_name": "x" * 101}, "first_name", "longer than 100"),
        ({"street_line_1": "x" * 201}, "street_line_1", "longer than 200"),
        ({"postal_code": "1" * 13}, "postal_code", "longer than 12"),
        ({"first_name": "<b>Ann</b>"}, "first_name", "cannot contain < > or /"),
        ({"last_name": "Lee\x07"}, "last_name", "control character"),
        ({"first_name": "Ann\u202e"}, "first_name", "direction override"),
        ({"message": "line\x00break"}, "message", "control character"),
        ({"first_name": "Jos\u00c3\u00a9"}, "first_name", "looks garbled"),
        (
            {
                "delivery_method": "mail",
                "utid": "U100006",
                "street_line_1": "1 Main",
                "city": "Reno",
                "postal_code": "89501",
                "country": "US",
                "shipping_method": "upsground",
                "first_name": "x" * 26,
            },
            "first_name",
            "at most 25 characters for a mailed card",
        ),
    ],
)
def test_text_within_tangos_limits_and_clean(override, column: str, needle: str) -> None:
    result = check({}, override)
    assert needle in reasons(result, 3).get(column, ""), reasons(result, 3)


def test_a_message_keeps_its_line_breaks() -> None:
    assert check({"message": "Dear Ann,\r\nthank you!\n\tThe team"}).problems.empty


def test_names_that_lost_letters_are_sent_with_a_warning() -> None:
    result = check(
        {"first_name": "Jos?", "last_name": "M\ufffdller"},
        {"message": "Why?", "email": "b@example.com"},
    )

    assert result.problems.empty and len(result.valid) == 2
    warned = reasons(result, 2, "warnings")
    assert set(warned) == {"first_name", "last_name"} and "lost letters" in warned["first_name"]
    assert reasons(result, 3, "warnings") == {}


def test_text_limits_are_those_of_tangos_document() -> None:
    spec = Path(__file__).resolve().parents[2] / "docs/tango/tango-raas-openapi.json"
    doc = json.loads(spec.read_text())  # the project's copy of Tango's document

    schemas = doc["components"]["schemas"]
    for wire, limit in rules.ADDRESS_MAX_CHARS.items():
        assert schemas["AddressCriteria"]["properties"][wire]["maxLength"] == limit
    campaign = schemas["CreateAsyncOrderCriteria"]["properties"]["campaign"]
    assert campaign["maxLength"] == rules.CAMPAIGN_MAX_CHARS
    reissued = schemas["ReissueLineItemRecipientInfoCriteria"]["properties"]["firstName"]
    assert reissued["maxLength"] == rules.NAME_MAX_CHARS
    name = schemas["RecipientInfoCriteria"]["properties"]["firstName"]["description"]
    assert f"allows {rules.NAME_MAX_CHARS} characters, cannot use < or > or /" in name
    assert f"allows {rules.PHYSICAL_NAME_MAX_CHARS} characters max" in name
    line = schemas["LineItem"]["properties"]
    assert "maxLength" not in line["message"] and "maxLength" not in line["emailSubject"]


def test_amounts_are_judged_as_tango_s_rule_judges_one_line() -> None:
    """Validation judges every distinct (reward, amount) at once; raas.rules.amount_problem
    judges one line (the sandbox's way). Both say the same of every amount, boundaries too."""
    import random

    from raas import rules

    rng = random.Random(7)
    rows, expected = [], {}
    for item in CATALOG.items():
        if item.currencyCode != "USD" or item.status != "active":
            continue
        edges = [item.minValue, item.maxValue, item.faceValue]
        amounts = {Decimal(rng.randrange(1, 300_000)) / 100 for _ in range(40)}
        amounts |= {
            e + d for e in edges if e is not None for d in (Decimal("-0.01"), 0, Decimal("0.01"))
        }
        amounts |= {Decimal(7), Decimal("7.50")}
        for amount in sorted(a for a in amounts if a > 0):
            rows.append({"utid": item.utid, "amount": f"{amount:.2f}"})
            expected[len(rows) + 1] = rules.amount_problem(item, amount)
    result = check(*rows)
    said = {row: reasons(result, row).get("amount") for row in expected}
    assert said == expected
    assert sum(v is not None for v in expected.values()) > 20  # both kinds of answer were asked


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("PERCENTAGE", "2"),
        ("PERCENTAGE", "2.5"),
        ("PERCENTAGE", "1.75"),
        ("PERCENTAGE", "0.3333"),
        ("FIXED", "3.95"),
        ("FIXED", "0"),
        ("FIXED", "0.125"),
        (None, None),
    ],
)
def test_fees_are_computed_as_tango_s_rule_computes_one_line(kind, value) -> None:
    """Validation prices every distinct (reward, amount, quantity) at once in integer cents;
    raas.rules.line_cost prices one line in Decimal. Same fee to the cent, ties included."""
    import random

    from raas import rules
    from raas._models import Fee
    from rewards.validation import _fee_cents

    base = next(i for i in CATALOG.items() if i.utid == "U100001")
    fee = None if kind is None else Fee(type=kind, value=Decimal(value))
    item = base.model_copy(update={"fee": fee})
    rng = random.Random(11)
    cents = np.array([rng.randrange(1, 200_000) for _ in range(3000)] + [1, 2, 25, 50, 150, 250])
    qty = np.array([rng.choice([1, 1, 1, 2, 3, 7]) for _ in range(len(cents))])
    got = _fee_cents([item], np.zeros(len(cents), dtype=np.int64), cents, qty)
    want = [
        int((rules.line_cost(item, Decimal(int(c)) / 100, int(n))[1] * 100).to_integral_value())
        for c, n in zip(cents, qty, strict=True)
    ]
    assert got.tolist() == want


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("020 7946 0959", "US"),  # a London number: its 0 is no US prefix (was +12079460959)
        ("555-0105", "US"),  # seven digits: no US number (was +15550105)
        ("(415) 555-0100", "GB"),  # a US number read as British (was +444155550100)
        ("1-415-555-0107", "GB"),  # (was +4414155550107)
        ("555-0105", "GB"),  # (was +445550105)
        ("+1 555 0105", "US"),  # written internationally, still seven digits
        ("+15550105", "US"),  # already E.164 in shape, no such number
        ("+44 4155 550100", "US"),  # no British number starts with 4
    ],
)
def test_a_number_its_country_does_not_have_is_rejected_not_rewritten(
    raw: str, country: str
) -> None:
    result = check({"delivery_method": "sms", "mobile_number": raw}, default_phone_country=country)
    assert reasons(result, 2).get("mobile_number", "").startswith("not a valid mobile number")
    assert result.valid.empty


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+1 (415) 555-0100", "US", "+14155550100"),
        ("1-415-555-0107", "US", "+14155550107"),
        ("07911 123456", "GB", "+447911123456"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("+447911123456", "US", "+447911123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+61 412 345 678", "US", "+61412345678"),
    ],
)
def test_numbers_their_country_has_go_on_in_e164(raw: str, country: str, e164: str) -> None:
    result = check({"delivery_method": "sms", "mobile_number": raw}, default_phone_country=country)
    assert result.valid["mobile_number"].tolist() == [e164], reasons(result, 2)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+44 (0)7911 123456", "US", "+447911123456"),  # the trunk 0 in brackets
        ("+33 (0)6 12 34 56 78", "US", "+33612345678"),
        ("011 44 7911 123456", "US", "+447911123456"),  # the US's own way out
        ("0011 61 412 345 678", "AU", "+61412345678"),  # Australia's
        ("4155550123.0", "US", "+14155550123"),  # a number column saved as decimals
        ("\uff0b\uff11 \uff14\uff11\uff15 5550123", "US", "+14155550123"),  # fullwidth
        ("415\u00a0555\u00a00123", "US", "+14155550123"),  # no-break spaces
    ],
)
def test_numbers_written_as_offices_write_them_go_on_in_e164(
    raw: str, country: str, e164: str
) -> None:
    """Each was refused as "not a valid mobile number" (a new-user trial's file)."""
    result = check({"delivery_method": "sms", "mobile_number": raw}, default_phone_country=country)
    assert result.valid["mobile_number"].tolist() == [e164], reasons(result, 2)


def test_a_bad_phone_on_a_row_that_does_not_need_one_says_it_can_be_cleared() -> None:
    """An EMAIL reward with a number that is no number was refused with the SMS rows' words
    only (a new-user trial); the default country is named as such ("a AU one" read badly),
    with an example of its own."""
    result = check({"mobile_number": "12"}, default_phone_country="AU")
    said = reasons(result, 2)["mobile_number"]
    assert said.startswith("not a valid mobile number: use +country code and number, e.g. +61")
    assert "read in the default country, AU" in said
    assert "EMAIL delivery does not need it: or clear it" in said
    sms = reasons(check({"delivery_method": "sms", "mobile_number": "12"}), 2)["mobile_number"]
    assert "does not need it" not in sms


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        ("+44 20 7946 0959", "sms"),  # a London landline
        ("+1 800 356 9377", "sms"),  # toll-free
        ("+44 20 7946 0959", "whatsapp"),
    ],
)
def test_a_text_goes_to_a_mobile_only(raw: str, method: str) -> None:
    """A landline or toll-free number is a number its country has, and was sent to: a text
    there never arrives. An email reward's phone is not judged so."""
    result = check({"delivery_method": method, "mobile_number": raw})
    said = reasons(result, 2).get("mobile_number", "")
    assert said.startswith("not a mobile number"), said
    assert f"{method.upper().replace('SMS', 'PHONE')} delivery needs a mobile" in said
    assert result.valid.empty
    assert check({"delivery_method": "email", "mobile_number": raw}).problems.empty


def test_the_same_contact_under_another_name_is_a_repeat_and_a_link_s_name_tells_apart() -> None:
    """As across files: "Jon" and "John" Smith at one inbox, the same reward and amount, are
    one reward (two rows were sent); rows without a contact are told apart by the name."""
    result = check(
        {"first_name": "Jon", "last_name": "Smith", "email": "js@example.com"},
        {"first_name": "John", "last_name": "Smith", "email": "js@example.com"},
        {"first_name": "Ann", "delivery_method": "embedded", "email": ""},
        {"first_name": "Bob", "delivery_method": "embedded", "email": ""},
    )
    assert result.rejected[ROW].tolist() == [3]
    assert "same recipient, reward, amount and campaign as row 2" in reasons(result, 3)["row"]
    assert "whatever the name" in reasons(result, 3)["row"]
    assert result.valid[ROW].tolist() == [2, 4, 5]


def test_taking_characters_out_works_on_slices_chunks_and_any_script() -> None:
    """``columnar.without`` edits Arrow's buffers directly: a slice (an offset into shared
    buffers), several chunks, empty cells, nulls and non-ASCII text must come out as a
    Python replace would make them."""
    import pyarrow as pa

    from rewards.columnar import without

    texts = ["(415) 555-0100", "", "José (Zoë)", None, "--", "+44 20 7946 0959", "日本 (1)"]
    chunked = pa.chunked_array([pa.array(texts[:3]), pa.array(texts[3:])])
    sliced = pa.array(["x (y)", *texts], pa.large_string()).slice(1)

    def expected(values: list[str | None]) -> list[str]:
        return ["".join(c for c in v or "" if c not in " ()-") for v in values]

    assert without(chunked, " ()-").to_pylist() == expected(texts)
    assert without(sliced, " ()-").to_pylist() == expected(texts)
    assert without(pa.array([], pa.string()), " ").to_pylist() == []


def test_pairs_numbered_by_table_or_by_hash_agree() -> None:
    """Keys numbered with a table of flags (few possible keys) or a hash table (many) give
    each row the number of its key in the keys listed."""
    from rewards.columnar import numbered

    keys = np.array([7, 3, 7, 0, 60_000, 3], dtype=np.int64)
    for size in (60_001, 10**12):  # a table of flags, then the hash table
        codes, present = numbered(keys, size)
        assert (present[codes] == keys).all()
        assert sorted(present.tolist()) == [0, 3, 7, 60_000]
