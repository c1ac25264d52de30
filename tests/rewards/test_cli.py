"""``rewards validate``: against Tango (the sandbox over HTTP) or offline with a saved catalog;
exit 0 when every row is valid, 1 when some are rejected, 2 with a one-line error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deployments.cli import main
from sandbox import SandboxServer
from tests.conftest import point_tango_at

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data/sample_recipients.csv"
CATALOG = ROOT / "data/sandbox/catalog.json"
REJECTED = [48, 49, 50, 51]  # the sample's deliberately invalid rows


@pytest.fixture
def no_tango(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.tango import tango_client

    for name in ("TANGO_BASE_URL", "TANGO_PLATFORM_NAME", "TANGO_PLATFORM_KEY"):
        monkeypatch.delenv(name, raising=False)
    tango_client.cache_clear()


def test_offline_with_a_saved_catalog_writes_the_rows_to_fix(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(SAMPLE), "--catalog", str(CATALOG), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "50 rows, 46 valid, 4 rejected (account currency USD)" in out
    # which header was read as what, before anything is sent
    assert "columns read: first_name, last_name, 'Email Address' as email," in out, out
    assert "; kept as written: 'Department'" in out, out

    assert "row 50: utid: utid U999999 is not in the account's catalog" in out
    rejected = pd.read_csv(tmp_path / "rejected_rows.csv", dtype=str, keep_default_na=False)
    assert rejected["row_number"].astype(int).tolist() == REJECTED
    assert rejected.loc[2, "problems"] == "utid: utid U999999 is not in the account's catalog"
    assert (tmp_path / "rejected_rows.xlsx").exists()


def test_a_reason_many_rows_share_is_said_once_with_their_rows(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header nothing reads ("Work Email") printed the same line for each of the rows: one
    line now, naming the first rows and how many more; the other rows' own lines stay."""
    source = tmp_path / "work.csv"
    lines = [f"P{i},p{i}@example.com,U100001,10,email" for i in range(12)]
    source.write_text(
        "Name,Work Email,UTID,Amount,Delivery Method\n"
        + "\n".join(lines)
        + "\nB,b@x.com,U9,1,email\n"
    )
    code = main(["validate", str(source), "--catalog", str(CATALOG)])
    out = capsys.readouterr().out
    assert code == 1, out
    said = [line for line in out.splitlines() if "EMAIL delivery needs an email address" in line]
    assert len(said) == 1 and said[0].startswith("  rows 2, 3, 4, 5, 6 and 8 more: email: "), out
    assert "  row 14: utid: utid U9 is not in the account's catalog" in out, out


def test_a_clean_file_exits_0_and_writes_nothing(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("Email,UTID,Amount,Delivery Method\na@example.com,U100001,10,email\n")
    code = main(["validate", str(good), "--catalog", str(CATALOG), "--out", str(tmp_path / "o")])
    assert code == 0 and "1 rows, 1 valid, 0 rejected" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()


def test_against_the_sandbox_over_http(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tasks.tango import tango_client

    point_tango_at(sandbox, monkeypatch)
    tango_client.cache_clear()
    try:
        code = main(["validate", str(SAMPLE)])
    finally:
        tango_client.cache_clear()
    assert code == 1
    assert "50 rows, 46 valid, 4 rejected (account currency USD)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.csv", "--catalog", str(CATALOG)], "missing.csv: no such file"),
        ([str(SAMPLE), "--catalog", "nope.json"], "nope.json: no such catalog file"),
        ([str(SAMPLE), "--catalog", str(SAMPLE)], "not a Tango catalog (Expecting value"),
        ([str(SAMPLE)], "Tango is not configured"),
    ],
)
def test_mistakes_get_one_line_and_exit_2(
    no_tango: None, args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err and err.count("\n") == 1


def test_a_catalog_of_the_wrong_shape_names_the_field(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "catalog.json"
    wrong.write_text('{"catalogName": "saved", "brands": 3}')
    assert main(["validate", str(SAMPLE), "--catalog", str(wrong)]) == 2
    assert "not a Tango catalog (brands: " in capsys.readouterr().err


def test_warnings_are_shown_and_written_beside_the_rejected_rows(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lossy = tmp_path / "lossy.csv"
    lossy.write_text(
        "First Name,Email,UTID,Amount,Delivery Method\nJos?,a@example.com,U100001,10,email\n"
    )
    code = main(["validate", str(lossy), "--catalog", str(CATALOG), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0 and "1 rows, 1 valid, 0 rejected" in out
    assert "1 warning(s); these rows are valid and go on:" in out and "row 2: first_name:" in out
    assert "lost letters" in (tmp_path / "o" / "warnings.csv").read_text()


def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """``rewards ARGS`` as a subprocess: exit code, stdout, stderr."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"TANGO_PLATFORM_KEY": "wrong"}, "TANGO_PLATFORM_KEY"),  # credentials refused
        ({"TANGO_ACCOUNT_IDENTIFIER": "nobody"}, "TANGO_ACCOUNT_IDENTIFIER"),  # unknown account
        ({"TANGO_ACCOUNT_IDENTIFIER": ""}, "TANGO_ACCOUNT_IDENTIFIER"),  # none configured
        ({"TANGO_BASE_URL": "http://127.0.0.1:9/raas/v2"}, "TANGO_BASE_URL"),  # unreachable
    ],
)
def test_tango_failing_is_exit_2_and_one_line_naming_the_setting(
    sandbox: SandboxServer, change: dict[str, str], says: str
) -> None:
    env = {**sandbox.tango_env(), "TANGO_MAX_ATTEMPTS": "1", **change}
    code, out, err = _cli("validate", str(SAMPLE), env=env)
    assert code == 2, out + err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "run the same file again" not in err or "TANGO_BASE_URL" in says


def test_a_closed_pipe_ends_quietly(no_tango: None) -> None:
    """``rewards validate ... | head``: the reader goes away before the writer is done."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deployments.cli",
            "validate",
            str(SAMPLE),
            "--catalog",
            str(CATALOG),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # type: ignore[union-attr]  # every write from now on: EPIPE
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.wait(60) == 141 and "Traceback" not in err and "BrokenPipe" not in err


def test_a_country_that_is_not_one_is_refused(no_tango: None) -> None:
    code, _, err = _cli(
        "validate", str(SAMPLE), "--catalog", str(CATALOG), "--phone-country", "XX", env={}
    )
    assert code == 2 and "'XX' is not a country" in err and "Traceback" not in err


def test_an_amount_with_the_account_currency_s_sign_is_taken(
    no_tango: None, tmp_path: Path
) -> None:
    """ "$25.00" in a USD account is 25.00; "£25" is refused with the reason; a thousands
    separator is still refused as ambiguous."""
    source = tmp_path / "signs.csv"
    source.write_text(
        "Email,UTID,Amount,Delivery Method\n"
        "a@example.com,U100001,$25.00,email\n"
        "b@example.com,U100001,25 USD,email\n"
        "c@example.com,U100001,£25,email\n"
        'd@example.com,U100001,"$1,000",email\n'
    )
    code, out, err = _cli(
        "validate", str(source), "--catalog", str(CATALOG), "--out", str(tmp_path), env={}
    )
    assert code == 1, out + err
    assert "2 valid, 2 rejected" in out, out
    assert "row 4: amount: amount is written in another currency than the account's (USD)" in (out)
    rejected = pd.read_csv(tmp_path / "rejected_rows.csv", dtype=str)
    assert rejected["row_number"].tolist() == ["4", "5"]


def test_out_and_currency_mistakes_are_exit_2_and_the_out_folder_holds_only_this_run(
    no_tango: None, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Email,UTID,Amount,Delivery Method\na@example.com,U100001,-5,email\n")
    good = tmp_path / "good.csv"
    good.write_text("Email,UTID,Amount,Delivery Method\na@example.com,U100001,5,email\n")
    code, _, err = _cli("validate", str(good), "--catalog", str(CATALOG), "--out", str(bad), env={})
    assert code == 2 and "--out" in err and "Traceback" not in err, err
    code, _, err = _cli(
        "validate", str(good), "--catalog", str(CATALOG), "--currency", "usdd", env={}
    )
    assert code == 2 and "--currency" in err and "Traceback" not in err, err
    out = tmp_path / "out"
    code, _, _ = _cli("validate", str(bad), "--catalog", str(CATALOG), "--out", str(out), env={})
    assert code == 1 and (out / "rejected_rows.csv").exists()
    code, _, _ = _cli("validate", str(good), "--catalog", str(CATALOG), "--out", str(out), env={})
    assert code == 0 and not list(out.glob("rejected_rows.*"))  # nothing stale left behind


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("Reward Amount (EUR)", "EUR"),
        ("amount_gbp", "GBP"),
        ("Amount (€)", "EUR"),
        ("Amount CAD", "CAD"),
    ],
)
def test_an_amount_header_that_names_another_currency_rejects_every_amount(
    no_tango: None, tmp_path: Path, header: str, named: str
) -> None:
    """A header saying the amounts are in EUR, in a USD account: sending 25 of them as 25 USD
    would pay the wrong sum, so no row goes on, and the reason names the header."""
    source = tmp_path / "eur.csv"
    source.write_text(
        f"Email,UTID,{header},Delivery Method\n"
        "a@example.com,U100001,25,email\n"
        "b@example.com,U100001,30.50,email\n"
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1, out + err
    assert "0 valid, 2 rejected" in out, out
    assert f"the header '{header}' says the amounts are in {named}" in out, out
    assert "the account is in USD" in out and "convert" in out, out


def _amounts_book(path: Path, cells: list[tuple[object, str]]) -> Path:
    """A workbook of one reward per (amount cell, its number format), as Excel saves them."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email", "UTID", "Amount", "Delivery Method"])
    for i, (value, number_format) in enumerate(cells):
        sheet.append([f"p{i}@example.com", "U100001", value, "email"])
        sheet.cell(row=i + 2, column=3).number_format = number_format
    book.save(path)
    return path


def test_amount_cells_formatted_in_another_currency_are_refused(
    no_tango: None, tmp_path: Path
) -> None:
    """Excel shows "€25.00" for 25 formatted in euros; the reader gets 25. In a USD account
    the row is refused as if the sign were typed; dollars and plain numbers go on."""

    formats = [
        "[$€-407]#,##0.00",
        '"£"#,##0.00',
        "$#,##0.00",
        "General",
        "#,##0.00 [$EUR]",
        '#,##0.00" GBP"',  # 7: a code written as text in the format (sent as 25 USD)
        '"C$"#,##0.00',  # 8
        '0.00 "USD"',  # 9: the account's own
        '0.00" pts"',  # 10: points, not dollars
    ]
    source = _amounts_book(tmp_path / "formatted.xlsx", [(25, f) for f in formats])
    code, out, err = _cli(
        "validate", str(source), "--catalog", str(CATALOG), "--out", str(tmp_path), env={}
    )
    assert code == 1, out + err
    assert "3 valid, 6 rejected" in out, out
    assert (
        "rows 2, 3, 6, 7, 8 and 1 more: amount: amount is written in another currency than the "
        "account's (USD)" in out
    ), out
    rejected = pd.read_csv(tmp_path / "rejected_rows.csv", dtype=str)
    assert rejected["row_number"].tolist() == ["2", "3", "6", "7", "8", "10"]
    shown = ["€25", "£25", "EUR 25", "GBP 25", "C$25", "pts 25"]  # as Excel shows them
    assert rejected["amount"].tolist() == shown


def test_amount_cells_formatted_as_percentages_are_refused(no_tango: None, tmp_path: Path) -> None:
    """ "25%" typed into Excel is 0.25, shown 25%; 25 formatted 0.00% is shown 2500.00%, and
    12.5 formatted 0.0"%" is shown 12.5%. Each was read as its bare number (a quarter dollar
    refused for the wrong reason, 25 sent for what the sheet shows as 2500%): refused as a
    percentage, as the same text in a CSV is."""

    cells = [(0.25, "0%"), (25, "0.00%"), (25, "General"), (12.5, '0.0"%"'), (30, "#,##0.00")]
    source = _amounts_book(tmp_path / "percent.xlsx", [*cells, ("7%", "General")])  # 7: text
    code, out, err = _cli(
        "validate", str(source), "--catalog", str(CATALOG), "--out", str(tmp_path), env={}
    )
    assert code == 1, out + err
    assert "2 valid, 4 rejected" in out, out
    assert "rows 2, 3, 5, 7: amount: amount is a percentage" in out, out
    rejected = pd.read_csv(tmp_path / "rejected_rows.csv", dtype=str)
    assert rejected["row_number"].tolist() == ["2", "3", "5", "7"]
    assert rejected["amount"].tolist() == ["25%", "2500%", "12.5%", "7%"]  # as Excel shows them


def test_a_workbook_whose_formulas_have_no_saved_value_is_refused_naming_the_cells(
    no_tango: None, tmp_path: Path
) -> None:
    """A workbook written by a program (openpyxl) keeps a formula and no value: the reader got
    an empty cell and said "amount is empty" or "needs an email address" for what Excel shows
    filled. XlsxWriter saves 0 for each formula and asks Excel to work them out on opening.
    Both: the file is refused, naming the cells and what to do; a formula Excel saved goes on."""
    import openpyxl
    import xlsxwriter

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email", "UTID", "Amount", "Delivery Method"])
    sheet.append(["a@example.com", "U100001", "=20+5", "email"])
    sheet.append(['="b"&"@example.com"', "U100001", 10, "email"])
    sheet.append(["c@example.com", "U100001", 10, "email"])
    unsaved = tmp_path / "unsaved.xlsx"
    book.save(unsaved)
    code, out, err = _cli("validate", str(unsaved), "--catalog", str(CATALOG), env={})
    assert code == 2, out + err
    assert "unsaved.xlsx, sheet 'Sheet': cells C2, A3 hold a formula with no saved value" in err
    assert "open it in Excel or LibreOffice and save it" in err, err
    assert "amount is empty" not in out + err

    sheet["F1"], sheet["F3"] = "Full", "=A3"  # in a column of the office's own: kept, read
    kept = tmp_path / "kept.xlsx"
    for row in (2, 3):
        sheet.cell(row=row, column=1).value = f"{'ab'[row - 2]}@example.com"
        sheet.cell(row=row, column=3).value = 10
    book.save(kept)
    code, out, err = _cli("validate", str(kept), "--catalog", str(CATALOG), env={})
    assert code == 0 and "3 valid, 0 rejected" in out, out + err

    written = tmp_path / "xlsxwriter.xlsx"
    with xlsxwriter.Workbook(str(written)) as wb:
        ws = wb.add_worksheet("Rewards")
        ws.write_row(0, 0, ["Email", "UTID", "Amount", "Delivery Method"])
        ws.write_row(1, 0, ["a@example.com", "U100001"])
        ws.write_formula(1, 2, "=20+5")
        ws.write(1, 3, "email")
    code, out, err = _cli("validate", str(written), "--catalog", str(CATALOG), env={})
    assert code == 2, out + err
    assert "sheet 'Rewards': cell C2 holds a formula with no saved value" in err, err

    given = tmp_path / "given.xlsx"  # the program gave XlsxWriter the formula's value: read
    with xlsxwriter.Workbook(str(given)) as wb:
        ws = wb.add_worksheet("Rewards")
        ws.write_row(0, 0, ["Email", "UTID", "Amount", "Delivery Method"])
        ws.write_row(1, 0, ["a@example.com", "U100001"])
        ws.write_formula(1, 2, "=20+5", None, 25)
        ws.write(1, 3, "email")
    code, out, err = _cli("validate", str(given), "--catalog", str(CATALOG), env={})
    assert code == 0 and "1 valid, 0 rejected" in out, out + err


def test_an_amount_its_cell_shows_rounded_is_refused_saying_both(
    no_tango: None, tmp_path: Path
) -> None:
    """25.5 formatted "$"#,##0 shows $26 and 1999.99 shows $2,000: the hidden decimals were
    sent (25.50, 1,999.99) for what the sheet showed. Refused, the rows to fix saying the
    value and what the cell showed; a whole amount, General and a cell that shows its cents
    go on."""

    cells = [
        (25.5, '"$"#,##0'),
        (1999.99, '"$"#,##0'),
        (25.4, "0"),
        (12.345, '"$"#,##0.00'),
        (26, '"$"#,##0'),
        (25.5, "General"),
        (25.5, "#,##0.00"),
    ]
    source = _amounts_book(tmp_path / "rounded.xlsx", cells)
    code, out, err = _cli(
        "validate", str(source), "--catalog", str(CATALOG), "--out", str(tmp_path), env={}
    )
    assert code == 1, out + err
    assert "3 valid, 4 rejected" in out, out
    assert "rows 2, 3, 4, 5: amount: amount has more decimals than its cell shows" in out, out
    rejected = pd.read_csv(tmp_path / "rejected_rows.csv", dtype=str)
    assert rejected["amount"].tolist() == [
        "$25.5 (shown as $26)",
        "$1999.99 (shown as $2000)",
        "25.4 (shown as 25)",
        "$12.345 (shown as $12.35)",
    ]


def test_a_row_struck_through_is_not_sent_unseen(no_tango: None, tmp_path: Path) -> None:
    """A row an office crossed out (strikethrough: "left the company") was sent as any
    other: the file is refused naming it. A struck-through cell in a column nothing reads,
    or an empty one, changes nothing."""
    import xlsxwriter

    path = tmp_path / "struck.xlsx"
    with xlsxwriter.Workbook(path) as wb:
        ws, struck = wb.add_worksheet("Recipients"), wb.add_format({"font_strikeout": True})
        ws.write_row(0, 0, ["Email", "UTID", "Amount", "Delivery Method", "Status"])
        ws.write_row(1, 0, ["a@example.com", "U100001", 10, "email", "ok"])
        ws.write_row(2, 0, ["b@example.com", "U100001", 10, "email", "left"], struck)
        ws.write_row(3, 0, ["c@example.com", "U100001", 10, "email"])
        ws.write(3, 4, "old note", struck)  # only an unread cell: nothing crossed out
        ws.write_blank(3, 5, None, struck)
    code, out, err = _cli("validate", str(path), "--catalog", str(CATALOG), env={})
    assert code == 2 and "row(s) 3 are struck through" in err, out + err


def test_hidden_columns_and_rows_are_not_read_unseen(no_tango: None, tmp_path: Path) -> None:
    """A hidden "Amount" beside a visible "Revised Amount" was read (300.00 USD sent for what
    the sheet shows as 125.00), a hidden work "Email" beside the visible personal one too,
    and a row hidden to leave it out was paid: each is refused, naming the column or row. A
    hidden column nothing reads, and a hidden blank row, change nothing."""
    import openpyxl

    def book(name: str, header: list[str], rows: list[list[object]], hide) -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(header)
        for row in rows:
            ws.append(row)
        hide(ws)
        path = tmp_path / name
        wb.save(path)
        return path

    header = ["Name", "Email", "UTID", "Amount", "Revised Amount", "Delivery Method"]
    rows: list[list[object]] = [
        ["Hid One", "hid1@example.com", "U100001", 100, 50, "email"],
        ["Hid Two", "hid2@example.com", "U100001", 200, 75, "email"],
    ]

    def column_d(ws) -> None:
        ws.column_dimensions["D"].hidden = True

    code, out, err = _cli("validate", str(book("c.xlsx", header, rows, column_d)), env={})
    assert code == 2, out + err
    assert "c.xlsx, sheet 'Sheet': column(s) D 'Amount' are hidden" in err, err

    def row_3(ws) -> None:
        ws.row_dimensions[3].hidden = True

    plain = [h for h in header if h != "Revised Amount"]
    kept = [[c for i, c in enumerate(r) if i != 4] for r in rows]
    code, out, err = _cli("validate", str(book("r.xlsx", plain, kept, row_3)), env={})
    assert code == 2, out + err
    assert "row(s) 3 are hidden (or filtered out), and would be sent unseen" in err, err

    def harmless(ws) -> None:
        ws.column_dimensions["G"].hidden = True  # a column of the office's own
        ws.row_dimensions[3].hidden = True  # blank

    extra = [[*r, "internal"] for r in kept]
    code, out, err = _cli(
        "validate",
        str(book("ok.xlsx", [*plain, "Cost centre"], [extra[0], [], extra[1]], harmless)),
        "--catalog",
        str(CATALOG),
        env={},
    )
    assert code == 0 and "2 valid, 0 rejected" in out, out + err


def test_a_formula_s_error_is_read_as_excel_shows_it_and_refused(
    no_tango: None, tmp_path: Path
) -> None:
    """A VLOOKUP that found nothing shows #N/A: the reader read the cell empty and said "utid
    is empty"; #DIV/0! in an amount was "amount is empty". Read as shown and refused as an
    error, as the same text exported in a CSV is; the other rows go on."""
    import xlsxwriter

    book = tmp_path / "errors.xlsx"
    with xlsxwriter.Workbook(str(book)) as wb:
        ws = wb.add_worksheet("Rewards")
        ws.write_row(0, 0, ["Email", "UTID", "Amount", "Delivery Method", "Message"])
        ws.write_row(1, 0, ["a@example.com"])
        ws.write_formula(1, 1, "=VLOOKUP(A2,Z:Z,1,0)", None, "#N/A")
        ws.write_row(1, 2, [10, "email"])
        ws.write_row(2, 0, ["b@example.com", "U100001"])
        ws.write_formula(2, 2, "=1/0", None, "#DIV/0!")
        ws.write_row(2, 3, ["email"])
        ws.write_row(3, 0, ["c@example.com", "U100001", 10, "email"])
        ws.write_formula(3, 4, '="Thanks "&Z1', None, "Thanks")  # a saved text: read
    code, out, err = _cli("validate", str(book), "--catalog", str(CATALOG), env={})
    assert code == 1 and "1 valid, 2 rejected" in out, out + err
    assert "row 2: utid: utid shows a formula's error (#N/A, #DIV/0!" in out, out
    assert "row 3: amount: amount shows a formula's error" in out, out
    # and that alone: "#N/A" is not also "utid must be U followed by digits"
    assert "U followed by digits" not in out and "not a number" not in out, out
    exported = tmp_path / "errors.csv"
    exported.write_text("Email,UTID,Amount,Delivery Method\na@example.com,#N/A,10,email\n")
    code, out, err = _cli("validate", str(exported), "--catalog", str(CATALOG), env={})
    assert code == 1 and "row 2: utid: utid shows a formula's error" in out, out + err


def test_cells_merged_over_recipient_rows_are_refused_naming_them(
    no_tango: None, tmp_path: Path
) -> None:
    """ "Email" merged down F2:F4 shows on three rows and is held by the first: rows 3 and 4
    were "delivery method is empty". The file is refused naming the range; a merged title
    above the header and a header merged over two columns read as before."""
    import xlsxwriter

    header = ["First Name", "Last Name", "Email", "UTID", "Amount", "Delivery Method"]
    rows = [["Pat", "Jones", f"p{i}@example.com", "U100001", 10] for i in range(3)]

    def book(name: str, merge) -> Path:
        path = tmp_path / name
        with xlsxwriter.Workbook(str(path)) as wb:
            ws = wb.add_worksheet("Rewards")
            ws.merge_range(0, 0, 0, 5, "Q4 rewards")  # a title over the header
            ws.write_row(1, 0, header)
            for i, row in enumerate(rows):
                ws.write_row(i + 2, 0, row)
            merge(ws)
        return path

    def down(ws) -> None:
        ws.merge_range(2, 5, 4, 5, "Email")

    code, out, err = _cli("validate", str(book("down.xlsx", down)), env={})
    assert code == 2, out + err
    assert "sheet 'Rewards': merged cells F3:F5 span recipient rows" in err, err

    def each(ws) -> None:
        for r in (2, 3, 4):
            ws.write(r, 5, "Email")

    code, out, err = _cli(
        "validate", str(book("each.xlsx", each)), "--catalog", str(CATALOG), env={}
    )
    assert code == 0 and "3 valid, 0 rejected" in out, out + err


def test_ordinary_office_workbooks_are_read_as_excel_shows_them(
    no_tango: None, tmp_path: Path
) -> None:
    """Found by a trial, each refused or misread before: a two-row header whose "First Name"
    is merged over both rows (the names were dropped, two people called repeats of the
    first); an amount a formula saved as 27.500000000000004 (shown 27.5: "at most 2
    decimals"); a ZIP code 2134 formatted 00000 (shown 02134: "has 5 digits"); an empty hidden
    "Mobile" column and a hidden note under the list (each refused the whole file). A row
    shut to no height is hidden, as a hidden row is."""
    import xlsxwriter

    path = tmp_path / "office.xlsx"
    with xlsxwriter.Workbook(str(path)) as wb:
        ws = wb.add_worksheet("Recipients")
        for c, h in enumerate(["First Name", "Last Name", "Email"]):
            ws.merge_range(0, c, 1, c, h)
        ws.merge_range(0, 3, 0, 9, "Reward")
        header = ["UTID", "Amount", "Delivery Method", "Street Line 1", "City", "Postal Code"]
        ws.write_row(1, 3, [*header, "Country", "Shipping Method", "Mobile"])
        zip_code = wb.add_format({"num_format": "00000"})
        for i, name in enumerate(["Ann", "Bob", "Cy"]):
            row = 2 + i
            ws.write_row(row, 0, [name, "Smith", f"{name.lower()}@example.com", "U100006"])
            ws.write_formula(row, 4, "=25*1.1", None, 25 * 1.1)  # 27.500000000000004
            ws.write_row(row, 5, ["address", "1 Main St", "Boston"])
            ws.write_number(row, 8, 2134, zip_code)
            ws.write_row(row, 9, ["US", "uspspriority"])
        ws.set_column(11, 11, None, None, {"hidden": True})  # the template's unused Mobile
        ws.write(6, 0, "internal note: check with payroll")
        ws.set_row(6, None, None, {"hidden": True})
    code, out, err = _cli(
        "validate", str(path), "--catalog", str(CATALOG), "--out", str(tmp_path), env={}
    )
    assert code == 1 and "4 rows, 3 valid, 1 rejected" in out, out + err
    assert "columns read: first_name, last_name, email, utid, amount," in out, out
    assert "row 7: row: holds one cell only" in out, out  # the note: said, never sent

    shut = tmp_path / "shut.xlsx"
    with xlsxwriter.Workbook(str(shut)) as wb:
        ws = wb.add_worksheet("Recipients")
        ws.write_row(0, 0, ["Email", "UTID", "Amount", "Delivery Method"])
        for row in (1, 2):
            ws.write_row(row, 0, [f"p{row}@example.com", "U100001", 10, "email"])
        ws.set_row(2, 0)  # dragged shut
    code, out, err = _cli("validate", str(shut), env={})
    assert code == 2 and "row(s) 3 are hidden" in err, out + err


def test_a_total_row_under_the_list_is_said_to_be_one(no_tango: None, tmp_path: Path) -> None:
    """ "Total" and a SUM under the list was refused as a broken recipient ("utid must be U
    followed by digits", "delivery method is empty"): it is said to be a total row."""
    source = tmp_path / "totals.csv"
    source.write_text(
        "Name,Email,UTID,Amount,Delivery Method\n"
        "Ann,a@example.com,U100001,10,email\n"
        "Bob,b@example.com,U100001,15,email\n"
        "Grand Total,,,25,\n"
        ",,Total,25,\n"  # typed in the cell left of the sum
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1 and "2 valid, 2 rejected" in out, out + err
    assert "rows 4, 5: row: looks like a total row under the list" in out, out
    assert "delivery method is empty" not in out, out


def test_a_delivery_date_under_another_header_is_read_or_refused(
    no_tango: None, tmp_path: Path
) -> None:
    """ "Deliver On" was kept as written, unread: the reward link went out at once, and a
    reward sent cannot be unsent. Read as the delivery date; a column of dates whose header
    speaks of sending, not read, refuses the file."""
    read = tmp_path / "on.csv"
    read.write_text(
        "Email,UTID,Amount,Delivery Method,Deliver On\na@example.com,U100008,10,link,2026-12-20\n"
    )
    code, out, err = _cli("validate", str(read), "--catalog", str(CATALOG), env={})
    assert "'Deliver On' as delivery_date" in out, out + err
    unread = tmp_path / "out.csv"
    unread.write_text(
        "Email,UTID,Amount,Delivery Method,Send Out\na@example.com,U100008,10,link,12/20/2026\n"
    )
    code, out, err = _cli("validate", str(unread), "--catalog", str(CATALOG), env={})
    assert code == 2 and "column 'Send Out' holds dates but is not read" in err, out + err


def test_a_spacer_column_is_no_column_of_the_file(no_tango: None, tmp_path: Path) -> None:
    """An empty column with no header (a gap an office leaves between groups) was listed as
    kept ('column_2') and carried into the report; a headerless column holding something is
    kept."""
    source = tmp_path / "spacer.csv"
    source.write_text(
        "Name,,Email,UTID,Amount,Delivery Method,,Dept\n"
        "Ann,,a@example.com,U100001,10,email,x,HR\n"
        "Bob,,b@example.com,U100001,10,email,,\n"
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 0 and "kept as written: 'column_7', 'Dept'" in out, out + err
    assert "column_2" not in out, out


def test_a_note_or_a_section_label_in_the_list_is_said_to_be_one(
    no_tango: None, tmp_path: Path
) -> None:
    """A section label between groups ("Sales team") and a note under the list ("approved by
    HR") were refused with a broken recipient's reasons ("utid is empty", "delivery method is
    empty"): each is said to be a row of one cell."""
    source = tmp_path / "sections.csv"
    source.write_text(
        "Name,Email,UTID,Amount,Delivery Method\n"
        "Sales team,,,,\n"
        "Ann,a@example.com,U100001,10,email\n"
        "Bob,b@example.com,U100001,15,email\n"
        ",approved by HR on 3 March,,,\n"
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1 and "2 valid, 2 rejected" in out, out + err
    assert "rows 2, 5: row: holds one cell only (no reward, no method)" in out, out
    assert "utid is empty" not in out and "contains a space" not in out, out


def test_a_formula_excel_saved_is_read_as_its_value(no_tango: None, tmp_path: Path) -> None:
    """The same cells as Excel saves them (the formula and its value, and no request to work
    every formula out on opening, which openpyxl writes): read as the value."""
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email", "UTID", "Amount", "Delivery Method"])
    sheet.append(["a@example.com", "U100001", "=20+5", "email"])
    path = tmp_path / "saved.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    part = "xl/worksheets/sheet1.xml"
    assert b"<f>20+5</f><v />" in parts[part]
    parts[part] = parts[part].replace(b"<f>20+5</f><v />", b"<f>20+5</f><v>25</v>")
    assert b'fullCalcOnLoad="1"' in parts["xl/workbook.xml"]
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b' fullCalcOnLoad="1"', b"")

    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    code, out, err = _cli("validate", str(path), "--catalog", str(CATALOG), env={})
    assert code == 0 and "1 valid, 0 rejected" in out, out + err


@pytest.mark.parametrize(
    "header", ["Reward Amount (USD)", "Amount $", "Amount US$", "Amount (usd)", "Amount in dollars"]
)
def test_an_amount_header_naming_the_account_currency_is_read(
    no_tango: None, tmp_path: Path, header: str
) -> None:
    source = tmp_path / "usd.csv"
    source.write_text(f"Email,UTID,{header},Delivery Method\na@example.com,U100001,25,email\n")
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 0 and "1 valid, 0 rejected" in out, out + err


def test_amounts_as_offices_write_them_get_the_reason_that_fits(
    no_tango: None, tmp_path: Path
) -> None:
    """The account's code in any case and its regional dollar sign are the account's currency;
    a fullwidth sign is a sign; another dollar is another currency; a negative amount, a
    decimal comma and a thousands separator each get their own reason."""
    source = tmp_path / "signs.csv"
    source.write_text(
        "Email,UTID,Amount,Delivery Method\n"
        "a@example.com,U100001,usd 25,email\n"  # 2
        "b@example.com,U100001,US$25,email\n"  # 3
        "c@example.com,U100001,\uff0425,email\n"  # 4: a fullwidth dollar sign
        "d@example.com,U100001,C$25,email\n"  # 5
        "e@example.com,U100001,-25,email\n"  # 6
        'f@example.com,U100001,"25,50",email\n'  # 7
        'g@example.com,U100001,"1,000",email\n'  # 8
        "h@example.com,U100001,25.505,email\n"  # 9
        "i@example.com,U100001,twenty,email\n"  # 10
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1, out + err
    assert "3 valid, 6 rejected" in out, out
    said = {
        int(line.split(":")[0].split()[1]): line.split(": ", 2)[2]
        for line in out.splitlines()
        if line.startswith("  row ")
    }
    assert "another currency" in said[5] and "(USD)" in said[5], said
    assert "greater than 0" in said[6] and "minus" in said[6], said
    assert "decimal point" in said[7] and "25.50" in said[7], said
    assert "thousands separator" in said[8] and "1000" in said[8], said
    assert "at most 2 decimals" in said[9], said
    assert "not a number" in said[10], said


def test_out_files_are_written_even_when_the_reader_of_the_output_stops_early(
    no_tango: None, tmp_path: Path
) -> None:
    """`rewards validate FILE --out DIR | head -1`: the listing is cut, the files are whole."""
    import subprocess
    import sys

    source = tmp_path / "bad.csv"
    rows = "".join(f"a{i}@example.com,U100001,-5,email\n" for i in range(200))
    source.write_text("Email,UTID,Amount,Delivery Method\n" + rows)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deployments.cli",
            "validate",
            str(source),
            "--catalog",
            str(CATALOG),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # type: ignore[union-attr]  # the reader has gone before any line
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.wait(60) == 141 and "Traceback" not in err
    assert len(pd.read_csv(out / "rejected_rows.csv", dtype=str)) == 200


def test_an_actions_file_to_validate_names_the_command_that_takes_it(
    no_tango: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fixes.csv"
    path.write_text("action,line_id,reason_code\ncancel,RA1,DUPLICATE\n", encoding="utf-8")
    code = main(["validate", str(path), "--catalog", str(CATALOG)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"rewards manage {path}" in err, err


def test_a_currency_no_reward_of_the_catalog_is_in_is_an_error_not_every_row_rejected(
    no_tango: None, tmp_path: Path
) -> None:
    """--currency XYZ was taken, and then each of 50 rows was rejected for "the reward is in
    USD, the account in XYZ" (a new-user trial)."""
    source = tmp_path / "r.csv"
    source.write_text("Email,UTID,Amount,Delivery Method\na@x.com,U100001,5,email\n")
    code, out, err = _cli(
        "validate", str(source), "--catalog", str(CATALOG), "--currency", "XYZ", env={}
    )
    assert code == 2 and not out, out
    assert "--currency XYZ: no reward in" in err and "USD" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_contact_column_is_named_as_what_may_be_the_email(no_tango: None, tmp_path: Path) -> None:
    source = tmp_path / "contact.csv"
    source.write_text("Name,Contact,UTID,Amount,Delivery Method\nAnn,a@x.com,U100001,5,email\n")
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1, out + err
    assert "no column was read as email; 'Contact' could be it" in out, out


def test_a_needed_contact_column_that_was_not_read_names_the_headers_that_may_be_it(
    no_tango: None, tmp_path: Path
) -> None:
    source = tmp_path / "two.csv"
    source.write_text(
        "Work Email,Personal Email,Cell,UTID,Amount,Delivery Method\n"
        "a@x.com,b@y.com,,U100001,5,email\n"
        "a@x.com,b@y.com,,U100001,5,sms\n"
    )
    code, out, err = _cli("validate", str(source), "--catalog", str(CATALOG), env={})
    assert code == 1, out + err
    assert "no column was read as email; 'Work Email', 'Personal Email' could be it" in out
    assert "PHONE delivery needs a mobile number" in out and "'Cell' could be it" not in out
