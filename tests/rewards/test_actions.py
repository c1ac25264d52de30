"""The actions spreadsheet: read with the project's reader, every row checked, ids by content."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from raas import LineItemDetail
from rewards.actions import Act, check
from rewards.columns import ACTION_COLUMNS, is_actions_sheet
from rewards.errors import InputError
from rewards.reading import read_sheet

CODES = {
    "RESEND": {"NOT_RECEIVED": "", "DELIVERY_INFO": "", "OTHER": ""},
    "REISSUE": {"DELIVERY_INFO": "", "REWARD_AMOUNT": "", "OTHER": ""},
    "CANCEL": {"DUPLICATE": "", "OTHER": ""},
    "FREEZE": {"FRAUD": "", "OTHER": ""},
    "UNFREEZE": {"FRAUD": "", "OTHER": ""},
}
TODAY = date(2026, 11, 30)


def line(ref: str, **kw: object) -> LineItemDetail:
    body = {
        "referenceLineItemID": ref,
        "externalReferenceLineItemID": f"li-{ref}",
        "accountIdentifier": "acct",
        "status": "COMPLETE",
        "rewardStatus": "ACTIVE",
        "utid": "U1",
        "amountIssued": {"value": "10.00", "currencyCode": "USD"},
        "amountCharged": {"value": "10.00", "currencyCode": "USD", "total": "10.00"},
        "recipient": {"email": "old@example.com"},
        "deliveryMethod": "EMAIL",
        **kw,
    }
    return LineItemDetail.model_validate(body)


LINES = {
    "L1": line("L1"),
    "L2": line("L2", status="FAILED", rewardStatus=None, deliveryStatus="FAILED"),
    "L3": None,
}


def sheet(tmp_path: Path, text: str):
    path = tmp_path / "actions.csv"
    path.write_text(text, encoding="utf-8")
    return read_sheet(path, ACTION_COLUMNS).frame


def checked(tmp_path: Path, text: str):
    return check(
        sheet(tmp_path, text),
        account="acct",
        currency="USD",
        reason_codes=CODES,
        lines=LINES,
        known={"li-L1": "L1"},
        today=TODAY,
    )


def test_headers_by_synonym_and_recognised_as_actions(tmp_path: Path) -> None:
    frame = sheet(tmp_path, "Action,Reference Line Item ID,New Email,Reason Code\nresend,L1,,\n")
    assert {"action", "line_id", "new_email", "reason_code"} <= set(frame.columns)
    assert is_actions_sheet(["Action", "Line ID", "New Email"])
    assert not is_actions_sheet(["Email", "UTID", "Amount", "Delivery Method"])


def test_without_an_action_column_one_line_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"actions.csv: missing required column\(s\) action"):
        sheet(tmp_path, "line_id,new_email\nL1,a@example.com\n")


def test_every_row_checked_with_row_column_and_reason(tmp_path: Path) -> None:
    result = checked(
        tmp_path,
        "action,line_id,external_ref_line_item_id,new_email,amount,delivery_date,note,"
        "reason_code,other_reason\n"
        "resend,L1,,new@example.com,,,,DELIVERY_INFO,\n"  # 2 ok
        "resend,L1,,not-an-email,,,,DELIVERY_INFO,\n"  # 3 bad email
        "cancel,L1,,,,,,,\n"  # 4 no reason code
        "freeze,L1,,,,,,OTHER,\n"  # 5 OTHER without words
        "reschedule,L1,,,,2026-12-01,,,\n"  # 6 too soon
        "explode,L1,,,,,,,\n"  # 7 no such action
        "cancel,L3,,,,,,DUPLICATE,\n"  # 8 unknown line
        "cancel,,li-L1,,,,,DUPLICATE,\n"  # 9 ok, by external ref
        "resend,L1,,new@example.com,,,,DELIVERY_INFO,\n"  # 10 repeats row 2
        "reissue,L1,,,12.50,,,REWARD_AMOUNT,\n"  # 11 ok
        "note,L1,,,,,=cmd(),,\n"  # 12 formula
        "unfreeze,L1,,,,,,NOPE,\n",  # 13 unknown code
    )
    said = {(p.row_number, p.column) for p in result.problems.itertuples()}
    assert said == {
        (3, "new_email"),
        (4, "reason_code"),
        (5, "other_reason"),
        (6, "delivery_date"),
        (7, "action"),
        (8, "line_id"),
        (10, "action"),
        (12, "note"),
        (13, "reason_code"),
    }
    assert [a.row_number for a in result.actions] == [2, 9, 11]
    assert result.actions[1].line_id == "L1" and result.actions[1].action is Act.CANCEL
    assert "repeats row 2" in result.rejected.set_index("row_number").loc[10, "problems"]
    assert result.actions[2].amount == Decimal("12.50")


def test_a_new_mobile_number_is_one_its_country_gives_mobiles(tmp_path: Path) -> None:
    """A resend or reissue by text goes to a mobile, as a sending run's does: a London
    landline, a US toll-free number and a number no country has are refused."""
    result = checked(
        tmp_path,
        "action,line_id,new_mobile_number,new_delivery_method,reason_code\n"
        "resend,L1,+44 7911 123456,PHONE,DELIVERY_INFO\n"  # 2 a UK mobile
        "resend,L1,+44 20 7946 0958,PHONE,DELIVERY_INFO\n"  # 3 a London landline
        "resend,L1,+1 800 555 0199,PHONE,DELIVERY_INFO\n"  # 4 toll-free
        "resend,L1,+999 1234567,PHONE,DELIVERY_INFO\n"  # 5 no such country
        "reissue,L1,+14155550123,PHONE,DELIVERY_INFO\n",  # 6 a US number: mobile or not, taken
    )
    said = {p.row_number: p.reason for p in result.problems.itertuples()}
    assert set(said) == {3, 4, 5}, said
    assert all("mobile" in reason for reason in said.values()), said
    assert [a.new_mobile_number for a in result.actions] == ["+447911123456", "+14155550123"]


def test_a_new_contact_the_delivery_method_would_not_use_is_refused(tmp_path: Path) -> None:
    """Tango uses a resend's new mobile number only when it goes by PHONE or WHATSAPP, and its
    new email only by EMAIL: a new number on a line sent by email, with no new method, was
    resent by email to the address that had bounced. Refused, saying which method to give."""
    result = checked(
        tmp_path,
        "action,line_id,new_email,new_mobile_number,new_delivery_method,reason_code\n"
        "resend,L1,,+447911123456,,DELIVERY_INFO\n"  # 2 L1 went by email: the number unused
        "resend,L1,,+447911123456,PHONE,DELIVERY_INFO\n"  # 3 by text: fine
        "resend,L1,new@example.com,,PHONE,DELIVERY_INFO\n"  # 4 the email unused
        "resend,L1,new@example.com,,,DELIVERY_INFO\n",  # 5 by email, as L1 went: fine
    )
    said = {(p.row_number, p.column): p.reason for p in result.problems.itertuples()}
    assert {row for row, _ in said} == {2, 4}, said
    assert "give new_delivery_method PHONE or WHATSAPP" in said[2, "new_mobile_number"]
    assert "this one goes by PHONE" in said[4, "new_email"], said

    assert [a.row_number for a in result.actions] == [3, 5]


def test_new_values_are_read_as_the_recipients_file_reads_them(tmp_path: Path) -> None:
    """What a recipients file accepts, an actions file accepts: an amount with the account's
    sign ("$12.50"), a method by its everyday name ("sms", "text"), a national number read in
    the default country. Each was refused ("a plain number", "a resend goes by EMAIL, PHONE,
    WHATSAPP", "write it with + and the country code"). What is wrong is said as a
    recipients file says it."""
    result = checked(
        tmp_path,
        "action,line_id,new_mobile_number,new_delivery_method,amount,reason_code\n"
        "resend,L1,(415) 555-0123,sms,,DELIVERY_INFO\n"  # 2
        "reissue,L1,,Text,$12.50,REWARD_AMOUNT\n"  # 3 (L1 has no number: PHONE needs one)
        "reissue,L1,,email,12.50 USD,REWARD_AMOUNT\n"  # 4
        'reissue,L1,,,"1,250.00",REWARD_AMOUNT\n'  # 5: a thousands separator
        "reissue,L1,,,€12.50,REWARD_AMOUNT\n"  # 6: another currency
        "reissue,L1,,,12.5%,REWARD_AMOUNT\n"  # 7: a percentage
        "resend,L1,,carrier pigeon,,DELIVERY_INFO\n",  # 8: no such method
    )
    said = {(p.row_number, p.column): p.reason for p in result.problems.itertuples()}
    assert said.keys() == {
        (3, "new_mobile_number"),
        (5, "amount"),
        (6, "amount"),
        (7, "amount"),
        (8, "new_delivery_method"),
    }, said
    assert "PHONE needs a mobile number" in said[3, "new_mobile_number"]
    assert "thousands separator" in said[5, "amount"]
    assert "another currency than the account's (USD)" in said[6, "amount"]
    assert "percentage" in said[7, "amount"]
    assert "unknown delivery method 'carrier pigeon'" in said[8, "new_delivery_method"]
    by_row = {a.row_number: a for a in result.actions}
    assert by_row[2].new_mobile_number == "+14155550123"
    assert by_row[2].new_delivery_method == "PHONE"
    assert by_row[4].new_delivery_method == "EMAIL" and by_row[4].amount == Decimal("12.50")


def test_the_same_action_has_the_same_id_in_any_file(tmp_path: Path) -> None:

    one = checked(
        tmp_path, "action,line_id,new_email,reason_code\nresend,L1,A@example.com,NOT_RECEIVED\n"
    )
    two = checked(
        tmp_path,
        "Line,What to do,New Email,Reason,Comment\nL1,Resend,a@example.com,not_received,x\n",
    )
    other = checked(
        tmp_path, "action,line_id,new_email,reason_code\nresend,L1,b@example.com,NOT_RECEIVED\n"
    )
    assert one.actions[0].id == two.actions[0].id != other.actions[0].id
    assert one.batch == two.batch


def test_cost_of_a_reissue_and_of_resending_a_failed_line(tmp_path: Path) -> None:
    from raas import CatalogItem

    item = CatalogItem.model_validate(
        {
            "utid": "U1",
            "rewardName": "Card",
            "currencyCode": "USD",
            "status": "active",
            "valueType": "VARIABLE_VALUE",
            "rewardType": "gift card",
            "minValue": "1",
            "maxValue": "100",
        }
    )
    result = check(
        sheet(
            tmp_path,
            "action,line_id,amount,reason_code\n"
            "reissue,L1,25,REWARD_AMOUNT\n"
            "resend,L2,,NOT_RECEIVED\n"
            "reissue,L1,500,REWARD_AMOUNT\n",
        ),
        account="acct",
        currency="USD",
        reason_codes=CODES,
        lines=LINES,
        known={},
        catalog={"U1": item},
        today=TODAY,
    )
    # the reissue: 25 for the new reward, less the 10 refunded; the failed line charged again
    assert [a.cost for a in result.actions] == [Decimal("15.00"), Decimal("10.00")]
    assert list(result.problems["column"]) == ["amount"]


def test_failed_deliveries_come_back_as_actions_from_csv_and_xlsx(tmp_path: Path) -> None:
    import pandas as pd

    from rewards import export
    from rewards.reading import headers

    report = pd.DataFrame(
        {
            "row_number": [2, 3, 4],
            "outcome": ["complete", "failed", "rejected_by_tango"],
            "reference_line_item_id": ["L1", "L2", ""],
            "external_ref_line_item_id": ["li-L1", "li-L2", "li-L3"],
            "first_name": ["A", "B", "C"],
            "last_name": ["x", "y", "z"],
            "delivery_method": ["EMAIL"] * 3,
            "email": ["a@example.com", "+b@fail.example.com", "c@example.com"],
            "mobile_number": ["", "", ""],
            "reason": ["", "bounced", "refused"],
        }
    )
    failed = export.failed_deliveries(report)
    assert failed["line_id"].tolist() == ["L2"]  # a line Tango refused has nothing to resend
    written = export.write_table(failed, tmp_path, "failed_deliveries")
    for path in written:  # .csv and .xlsx
        assert is_actions_sheet(headers(path)), path
        frame = read_sheet(path, ACTION_COLUMNS).frame
        frame.loc[frame.index[0], "new_email"] = "b@example.com"
        result = check(
            frame,
            account="acct",
            currency="USD",
            reason_codes=CODES,
            lines=LINES,
            known={},
            today=TODAY,
        )
        assert result.problems.empty, result.problems
        [action] = result.actions
        assert (action.action, action.line_id, action.new_email) == (
            Act.RESEND,
            "L2",
            "b@example.com",
        )
        assert frame.loc[frame.index[0], "email"] == "+b@fail.example.com"  # as it left


def test_files_without_a_valid_action_are_runs_of_their_own(tmp_path: Path) -> None:
    """Two different files whose every row is invalid do not share a report folder."""
    one = checked(tmp_path, "action,line_id\nresend,NOPE1\n")
    two = checked(tmp_path, "action,line_id\nfreeze,NOPE2\n")
    assert not one.actions and not two.actions
    assert one.batch != two.batch
    assert checked(tmp_path, "action,line_id\nresend,NOPE1\n").batch == one.batch


def test_a_header_that_looks_like_a_new_value_but_is_not_read_is_refused(tmp_path: Path) -> None:
    """ "Correct Amount" and "Updated Email" were kept as written and unread: the reissue went
    out at the old amount, the resend to the old address, and the run said "2 done". The
    file is refused naming each and the column to rename it as; our own failed_deliveries
    (the old email beside new_email) reads as before."""
    from rewards.managing import load

    path = tmp_path / "fixes.csv"
    path.write_text(
        "Action,Line ID,Correct Amount,Reason Code,Updated Email,Notes\n"
        "reissue,L1,$30.00,REWARD_AMOUNT,,\n"
        "resend,L2,,DELIVERY_INFO,sid.t@example.com,\n"
    )
    with pytest.raises(InputError) as refused:
        load(path, None, confined=False)
    said = str(refused.value)
    assert said.startswith("fixes.csv: column(s) 'Correct Amount' (if it is the new value: amount)")
    assert (
        "'Updated Email' (if it is the new value: new_email)" in said and "nothing was done" in said
    )
    ours = tmp_path / "failed_deliveries.csv"
    ours.write_text(
        "action,line_id,first_name,delivery_method,email,new_email,mobile_number,"
        "new_mobile_number,reason_code,why_it_failed\n"
        "resend,L2,Sid,EMAIL,sid@fail.example.com,sid.t@example.com,,,DELIVERY_INFO,bounced\n"
    )
    assert load(ours, None, confined=False).frame["new_email"].tolist() == ["sid.t@example.com"]


def test_a_reschedule_to_a_date_cell_with_its_time_is_read_as_its_day(tmp_path: Path) -> None:
    """A workbook's date cell reads "2026-12-20 00:00:00": it was "not a date; write
    YYYY-MM-DD". Read as its day, as a recipients file reads it; a time of day, not sent, is
    said in the action's warning."""
    result = check(
        sheet(
            tmp_path,
            "action,line_id,delivery_date\n"
            "reschedule,L4,2026-12-20 00:00:00\n"
            "reschedule,L4,2026-12-21T09:30:00\n"
            "reschedule,L4,next week\n",
        ),
        account="acct",
        currency="USD",
        reason_codes=CODES,
        lines={"L4": line("L4", status="PENDING", rewardStatus=None)},
        known={},
        today=TODAY,
    )
    said = {(p.row_number, p.column): p.reason for p in result.problems.itertuples()}
    assert list(said) == [(4, "delivery_date")], said
    assert [(a.delivery_date, a.warning) for a in result.actions] == [
        ("2026-12-20", None),
        ("2026-12-21", "the time (09:30) is not sent: Tango delivers on the day, 2026-12-21"),
    ]


def test_an_actions_file_under_a_title_row_is_told_from_recipients(tmp_path: Path) -> None:
    """A title above the header ("Fixes for December", then Action, Line ID, Note): dropped in
    the inbox it started the sending flow ("missing required column(s) utid..."), and `rewards
    run` said so too; an actions file is told by its header wherever the title rows end."""
    from rewards.inbox import UploadKind, kind_of
    from rewards.reading import read_recipients

    path = tmp_path / "fixes-dec.csv"
    path.write_text("Fixes for December,,\nAction,Line ID,Note\nnote,L1,called her\n")
    assert kind_of(path) is UploadKind.ACTIONS
    with pytest.raises(InputError, match=r"an actions file .* run it with `rewards manage"):
        read_recipients(path)


def test_a_resend_of_a_line_resent_and_delivered_since_is_warned_of(tmp_path: Path) -> None:
    """The batch's first failed_deliveries file, run again after its lines were fixed and
    delivered, resent each once more without a word: valid (a reminder is a resend), but
    said."""
    fixed = line(
        "L5",
        resendHistory=[
            {
                "dateIssued": "2026-11-29T10:00:00Z",
                "deliveryStatus": "DELIVERED",
                "deliveryMethod": "EMAIL",
            }
        ],
    )
    result = check(
        sheet(
            tmp_path, "action,line_id,reason_code\nresend,L5,DELIVERY_INFO\nresend,L1,REMINDER\n"
        ),
        account="acct",
        currency="USD",
        reason_codes={"RESEND": {"DELIVERY_INFO": "", "REMINDER": ""}},
        lines={"L5": fixed, "L1": LINES["L1"]},
        known={},
        today=TODAY,
    )
    assert [a.warning for a in result.actions] == [
        "resent before (2026-11-29, DELIVERED): this sends the reward to its recipient again; "
        "leave the row out if that resend was the fix",
        None,
    ]
