"""Identifiers, chunking, the ledger's claims, reconciliation and exported files."""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from raas import Catalog
from rewards import export
from rewards.columns import ROW
from rewards.errors import BooksDoNotBalanceError
from rewards.identity import batch_id, line_item_ids, order_ref, recipient_keys
from rewards.ledger import Ledger, LineStatus
from rewards.planning import Plan, plan_batch
from rewards.reconcile import assert_balanced, reconcile
from rewards.standing import Positions, Standing, stand
from rewards.validation import ValidationOptions, validate

CATALOG = Catalog.model_validate(
    json.loads((Path(__file__).resolve().parents[2] / "data/sandbox/catalog.json").read_text())
)


def valid_rows(n: int, campaign: str = "c1", **over: str) -> pd.DataFrame:
    df = pd.DataFrame(
        [
            {
                "utid": "U100002",
                "amount": "10",
                "delivery_method": "email",
                "email": f"p{i}@example.com",
                "campaign": campaign,
                **over,
            }
            for i in range(n)
        ]
    ).astype("str")
    df.insert(0, ROW, range(2, 2 + n))
    return validate(df, CATALOG, "USD", ValidationOptions(today=date(2026, 11, 28))).valid


def _recipient_of(*plans: Plan) -> dict[str, str | None]:
    """Line id -> recipient key, as a run gives them to the ledger."""
    return {i: r for p in plans for i, r in zip(p.line_ids, p.recipients, strict=True)}


def test_line_ids_depend_on_content_not_on_position() -> None:
    rows = valid_rows(3)
    ids = line_item_ids(rows, "acct-1")
    assert ids.str.fullmatch(r"li-[0-9a-f]{32}").all() and ids.is_unique
    shuffled = rows.iloc[::-1].reset_index(drop=True)
    assert set(line_item_ids(shuffled, "acct-1")) == set(ids)
    assert set(line_item_ids(rows, "acct-2")).isdisjoint(ids)  # per account
    again = valid_rows(3, campaign="c2")
    assert set(line_item_ids(again, "acct-1")).isdisjoint(ids)  # a new campaign is a new reward
    assert batch_id(list(ids), "acct-1") == batch_id(list(ids)[::-1], "acct-1")
    assert order_ref("b123", 7) == "rw-b123-00007" and len(order_ref("b" * 24, 99999)) <= 100


def test_plan_chunks_by_campaign_and_costs_include_fees() -> None:
    rows = pd.concat([valid_rows(5, "a"), valid_rows(3, "b")], ignore_index=True)
    plan = plan_batch(rows, account="acct", customer="cust", chunk_size=2)
    sizes = [(o.body.get("campaign"), len(o.body["lineItems"])) for o in plan.new_orders()]
    assert sizes == [("a", 2), ("a", 2), ("a", 1), ("b", 2), ("b", 1)]
    refs = [o.external_ref_id for o in plan.new_orders()]
    assert refs == [order_ref(plan.batch, i) for i in range(5)]
    line = next(plan.new_orders()).body["lineItems"][0]
    assert line == {
        "externalRefLineItemID": line["externalRefLineItemID"],
        "utid": "U100002",
        "amount": 10.0,
        "deliveryMethod": "EMAIL",
        "recipient": {"email": "p0@example.com"},
    }
    assert plan.costs == {"USD": pd.Series(["10.20"] * 8).map(__import__("decimal").Decimal).sum()}


def _claim(book: Ledger, plan, name: str) -> list:
    return book.claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=name,
        source_sha256="0" * 64,
        planned=plan.new_orders(),
        lines=plan.new_lines,
        lease_seconds=60,
    ).orders


def test_ledger_claims_once_and_reports_where(tmp_path: Path) -> None:
    book = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    first = plan_batch(valid_rows(4), account="acct", customer="cust", chunk_size=10)
    recorded = _claim(book, first, "first.csv")
    assert len(recorded) == 1
    book.record_acceptance(recorded[0].external_ref_id, 202, {})  # Tango has them
    bigger = valid_rows(6)
    ids = line_item_ids(bigger, "acct")
    holders = book.holders("acct", ids.tolist())
    positions = Positions({i: stand(holders.get(i), "other") for i in ids}, holders)
    second = plan_batch(bigger, account="acct", customer="cust", chunk_size=10, positions=positions)
    assert len(second.already_sent) == 4 and len(second.to_send) == 2
    assert set(second.already_sent["sent_from_file"]) == {"first.csv"}
    assert (
        sum(second.costs.values())
        == pd.Series(["10.20"] * 2).map(__import__("decimal").Decimal).sum()
    )
    recorded = _claim(book, second, "second.csv")
    assert [len(o.line_ids) for o in recorded] == [2]
    request = book.order(recorded[0].external_ref_id).request_json  # as it will be sent
    assert len(json.loads(request)["lineItems"]) == 2


def test_concurrent_claims_of_the_same_lines_give_each_line_one_owner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    rows = valid_rows(40)
    plans = [
        plan_batch(
            rows.iloc[i:].reset_index(drop=True), account="acct", customer="cust", chunk_size=7
        )
        for i in range(0, 8, 2)
    ]  # four overlapping batches
    results: list[list] = []
    errors: list[BaseException] = []

    def worker(plan) -> None:
        try:  # each worker opens the ledger itself, as separate processes would
            results.append(_claim(Ledger(url), plan, f"{plan.batch}.csv"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    book = Ledger(url)
    requests = [book.order(o.external_ref_id) for orders in results for o in orders]
    claimed = [  # the lines of the requests as the ledger will send them
        li["externalRefLineItemID"]
        for r in requests
        for li in json.loads(r.request_json)["lineItems"]
    ]
    assert len(claimed) == len(set(claimed)) == 40
    assert sorted(claimed) == sorted(o for orders in results for c in orders for o in c.line_ids)


def _report(tmp_path: Path, charged: str = "10.20", tango_total: str = "10.20"):
    book = Ledger(f"sqlite:///{tmp_path / 'r.db'}")
    rows = valid_rows(1)
    plan = plan_batch(rows, account="acct", customer="cust", chunk_size=5)
    [order] = _claim(book, plan, "r.csv")
    book.record_acceptance(order.external_ref_id, 202, {})
    line = LineStatus(
        order.line_ids[0], "COMPLETE", "DELIVERED", "R-1", Decimal(charged), None, None
    )
    book.record_status(order.external_ref_id, "COMPLETE", "R", tango_total, [line], True)
    original = pd.DataFrame({ROW: [2, 3], "Team": ["x", "y"]})
    rejected = pd.DataFrame({ROW: [3], "problems": ["amount: bad"], "amount": ["abc"]})
    return reconcile(
        original=original,
        rejected=rejected,
        valid=rows.assign(line_id=plan.line_ids),
        batch=plan.batch,
        holders=book.holder_table("acct", plan.line_ids.tolist()),
        ledger_lines=book.line_table(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
        extra_columns=["Team"],
    )


def test_reconciliation_balances_and_carries_unknown_columns(tmp_path: Path) -> None:
    result = _report(tmp_path)
    assert result.balanced, result.discrepancies
    assert result.report["outcome"].tolist() == ["complete", "rejected"]
    assert result.report["Team"].tolist() == ["x", "y"]
    assert result.counts["rows_in"] == 2 and result.counts["submitted"] == 1
    assert str(result.money.loc[0, "charged"]) == "10.20"


def test_the_totals_by_method_are_one_line_per_method_not_per_address(tmp_path: Path) -> None:
    """by_method.csv: mailed cards to two addresses are one ADDRESS line (it grouped by every
    column of the method's section, the street and city too: a line per address)."""
    book = Ledger(f"sqlite:///{tmp_path / 'm.db'}")
    mailed = {"delivery_method": "mail", "utid": "U100006", "amount": "10", "city": "Springfield"}
    mailed |= {"postal_code": "12345", "country": "US", "shipping_method": "upsground"}
    sheet = pd.DataFrame(
        [{**mailed, "street_line_1": street} for street in ("1 Main St", "2 Elm St")]
    ).astype("str")
    sheet.insert(0, ROW, [2, 3])
    rows = validate(sheet, CATALOG, "USD", ValidationOptions(today=date(2026, 11, 28))).valid
    assert len(rows) == 2
    plan = plan_batch(rows, account="acct", customer="cust", chunk_size=5)
    [order] = _claim(book, plan, "m.csv")
    book.record_acceptance(order.external_ref_id, 202, {})
    lines = [
        LineStatus(lid, "COMPLETE", "DELIVERED", f"R-{i}", Decimal("13.95"), None, None)
        for i, lid in enumerate(order.line_ids)
    ]
    book.record_status(order.external_ref_id, "COMPLETE", "R", "27.90", lines, True)
    result = reconcile(
        original=pd.DataFrame({ROW: [2, 3]}),
        rejected=pd.DataFrame({ROW: [], "problems": []}),
        valid=rows.assign(line_id=plan.line_ids),
        batch=plan.batch,
        holders=book.holder_table("acct", plan.line_ids.tolist()),
        ledger_lines=book.line_table(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
    )
    assert result.balanced, result.discrepancies
    by_method = result.by_method
    assert len(by_method) == 1, by_method
    assert by_method.iloc[0]["rows"] == 2 and str(by_method.iloc[0]["charged"]) == "27.90"
    assert "street_line_1" not in by_method.columns


@pytest.mark.parametrize(
    ("charged", "tango", "needle"),
    [
        ("9.00", "9.00", "charged 9.00"),
        ("10.20", "99.00", "Tango's orders to 99.00"),
    ],
)
def test_unbalanced_books_fail_loudly_and_say_where(tmp_path, charged, tango, needle) -> None:
    result = _report(tmp_path, charged, tango)
    assert not result.balanced
    with pytest.raises(BooksDoNotBalanceError, match=needle):
        assert_balanced(result)


def test_exported_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": ["=1+1", "+cmd", "-2", "@SUM(A1)", "plain", None], "n": [1, 2, 3, 4, 5, 6]}
    )
    files = export.write_table(frame, tmp_path, "out")
    text = (tmp_path / "out.csv").read_text()
    for cell in ("'=1+1", "'+cmd", "'-2", "'@SUM(A1)"):
        assert cell in text
    back = pd.read_excel(files[1], engine="calamine")
    assert back["a"].iloc[0] == "=1+1" and pd.isna(back["a"].iloc[5])  # as it was...
    assert back["n"].tolist() == [1, 2, 3, 4, 5, 6]  # numbers stay numbers, text stays text
    import openpyxl

    cell = openpyxl.load_workbook(files[1])["out"]["A2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")  # ...in a text cell: never a formula


def test_a_report_too_big_for_a_workbook_is_written_as_csv_only(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", "y", "z"]})
    files = export.write_table(frame, tmp_path, "big", xlsx_max_rows=2)
    assert files == [tmp_path / "big.csv"] and not (tmp_path / "big.xlsx").exists()
    assert len(pd.read_csv(files[0])) == 3
    assert export.mask_email("ada@example.com") == "a***@example.com"


def test_a_renamed_recipient_is_held_by_the_line_sent_under_the_old_name(tmp_path: Path) -> None:
    """The recipient key leaves the name out: a corrected spelling finds the line sent before,
    unless Tango refused it (then the corrected row is what should go) or the rows have no
    contact (links: the name is all that tells people apart)."""
    old = valid_rows(2, first_name="Jon")
    new = valid_rows(2, first_name="John")
    keyed = valid_rows(2, first_name="John", client_row_key="second")
    assert (recipient_keys(old, "a") == recipient_keys(new, "a")).all()
    assert set(line_item_ids(old, "a")).isdisjoint(line_item_ids(new, "a"))
    assert set(recipient_keys(keyed, "a")).isdisjoint(recipient_keys(old, "a"))
    links = valid_rows(1, delivery_method="embedded", email="", first_name="Ann")
    assert recipient_keys(links, "a").isna().all()

    book = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    first = plan_batch(old, account="acct", customer="cust", chunk_size=10)
    order = _claimed(book, first, "jon.csv")
    refused = first.line_ids.iloc[0]  # Tango refused Jon's first line: John's goes out
    book.record_acceptance(order.external_ref_id, 202, {refused: "name not allowed"})
    renamed = plan_batch(new, account="acct", customer="cust", chunk_size=10)
    held = book.holders("acct", renamed.line_ids.tolist(), _recipient_of(renamed))
    assert {h.line_id for h in held.values()} == {first.line_ids.iloc[1]}
    assert set(held) == {renamed.line_ids.iloc[1]}
    assert all(h.renamed and stand(h, renamed.batch) is Standing.SENT_BEFORE for h in held.values())
    assert book.holders("acct", renamed.line_ids.tolist()) == {}  # by line id alone: nobody
    keyed_plan = plan_batch(keyed, account="acct", customer="cust", chunk_size=10)
    assert (
        book.holders(
            "acct",
            keyed_plan.line_ids.tolist(),
            _recipient_of(keyed_plan),
        )
        == {}
    )


def _claimed(book: Ledger, plan, source_name: str):
    """``plan``'s one order, claimed in ``book``."""
    (order,) = book.claim(
        batch=plan.batch,
        account="acct",
        customer="cust",
        source_name=source_name,
        source_sha256="0" * 64,
        planned=plan.new_orders(),
        lines=plan.new_lines,
        lease_seconds=60,
    ).orders
    return order


def _same_as_holders(book: Ledger, ids: list[str], recipients: dict[str, str | None] | None):
    """Ledger.holder_table says what Ledger.holders says, line by line."""
    aligned = None if recipients is None else [recipients.get(i) for i in ids]
    table = book.holder_table("acct", ids, aligned).set_index("line_id")

    held = book.holders("acct", ids, recipients)
    assert set(table.index) == set(held)
    for lid, h in held.items():
        row = table.loc[lid]
        assert (row["batch_id"], row["external_ref_id"], row["source_name"]) == (
            h.batch_id,
            h.external_ref_id,
            h.source_name,
        )
        assert (row["line_state"], row["order_state"], bool(row["renamed"])) == (
            h.line_state,
            h.order_state,
            h.renamed,
        )
        assert row["lease_expires"] == h.lease_expires
    return table


def test_the_holder_table_agrees_with_holders_renamed_refused_and_freed(tmp_path: Path) -> None:
    book = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    first = plan_batch(
        valid_rows(3, first_name="Jon"), account="acct", customer="cust", chunk_size=10
    )
    order = _claimed(book, first, "jon.csv")

    book.record_acceptance(order.external_ref_id, 202, {first.line_ids.iloc[0]: "refused"})
    renamed = plan_batch(
        valid_rows(3, first_name="John"), account="acct", customer="cust", chunk_size=10
    )
    both = [*first.line_ids, *renamed.line_ids]
    table = _same_as_holders(
        book,
        both,
        _recipient_of(first, renamed),
    )
    assert table["renamed"].sum() == 2  # John's 2nd and 3rd: Jon's are at Tango; the 1st refused
    assert len(_same_as_holders(book, list(renamed.line_ids), None)) == 0
    assert len(_same_as_holders(book, [], None)) == 0


def test_a_plan_of_rows_all_sent_before_makes_no_order_and_claims_nothing(tmp_path: Path) -> None:
    book = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    first = plan_batch(valid_rows(3), account="acct", customer="cust", chunk_size=10)
    book.record_acceptance(_claim(book, first, "first.csv")[0].external_ref_id, 202, {})
    ids = line_item_ids(valid_rows(3), "acct")
    holders = book.holders("acct", ids.tolist())
    positions = Positions({i: stand(holders.get(i), "other") for i in ids}, holders)
    again = plan_batch(
        valid_rows(3), account="acct", customer="cust", chunk_size=10, positions=positions
    )
    assert again.order_count == 0 and list(again.new_orders()) == [] and again.unsent == 0
    assert _claim(book, again, "again.csv") == []
