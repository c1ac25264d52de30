"""Reading spreadsheets: encodings, delimiters, headers, row numbers, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from rewards.columns import ROW
from rewards.errors import InputError
from rewards.reading import read_recipients

BASIC = "Email Address,Reward Amount,UTID,Delivery Method,Team\na@x.com,10,U1,email,007\n"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_synonyms_case_and_punctuation_find_columns(tmp_path: Path) -> None:
    sheet = read_recipients(write(tmp_path, "a.csv", BASIC))
    assert list(sheet.frame.columns) == [
        "row_number",
        "email",
        "amount",
        "utid",
        "delivery_method",
        "Team",
    ]
    assert sheet.unknown_columns == ["Team"]
    assert sheet.frame.loc[0, "Team"] == "007"  # text: leading zeros survive


def test_an_office_s_own_note_or_subject_is_not_what_the_recipient_reads(tmp_path: Path) -> None:
    """A "Note" column ("internal: manager approved, token award only") reached the
    recipient as the gift message, a school's "Subject" as the email's subject: neither is
    read as what the recipient sees; "Gift Message" and "Email Subject" are."""
    text = (
        "Email,UTID,Amount,Delivery Method,Note,Subject\n"
        "a@example.com,U100001,10,email,internal: token award only,Math\n"
    )
    sheet = read_recipients(write(tmp_path, "notes.csv", text))
    assert "message" not in sheet.frame and "email_subject" not in sheet.frame
    assert sheet.unknown_columns == ["Note", "Subject"]
    said = (
        "Email,UTID,Amount,Delivery Method,Gift Message,Email Subject\na@x.com,U1,1,email,Hi,Yo\n"
    )
    sheet = read_recipients(write(tmp_path, "said.csv", said))
    assert {"message", "email_subject"} <= set(sheet.frame.columns)


def test_one_whole_name_column_is_read_as_the_first_name_unless_names_are_split(
    tmp_path: Path,
) -> None:
    """An HR export's "Employee Name" (the whole name) greets "Jane Doe"; it was kept as an
    unknown column and the reward went out with no name at all. A file that names the first
    or last name keeps its "Full Name" beside them, as written."""
    whole = "Employee Name,Email,UTID,Amount,Delivery Method\nJane Doe,j@x.com,U100001,10,email\n"
    sheet = read_recipients(write(tmp_path, "hr.csv", whole))
    assert sheet.frame.loc[0, "first_name"] == "Jane Doe" and not sheet.unknown_columns
    split = "First Name,Full Name,Email,UTID,Amount,Delivery Method\nJane,Jane Doe,j@x.com,U1,1,e\n"
    sheet = read_recipients(write(tmp_path, "split.csv", split))
    assert sheet.frame.loc[0, "first_name"] == "Jane" and sheet.unknown_columns == ["Full Name"]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, sep: str) -> None:

    sheet = read_recipients(write(tmp_path, "a.csv", BASIC.replace(",", sep)))
    assert sheet.delimiter == sep and sheet.frame.loc[0, "email"] == "a@x.com"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_excel_s_sep_line_names_the_delimiter(tmp_path: Path, encoding: str) -> None:
    """ "sep=;" on the first line (Excel reads it as the delimiter to use): the file was
    "malformed (Expected 2 fields in line 2, saw 5)"; it is read by it, rows numbered as
    Excel shows them (the line hidden: the header is row 1)."""
    text = "sep=;\r\nName;Email;UTID;Amount;Delivery\r\nAnn;a@example.com;U100001;10,5;email\r\n"
    sheet = read_recipients(write(tmp_path, "sep.csv", text.encode(encoding)))
    assert sheet.delimiter == ";" and sheet.frame.loc[0, "amount"] == "10,5"
    assert sheet.frame[ROW].tolist() == [2]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:

    text = BASIC.replace("a@x.com", "zoë@x.com")
    sheet = read_recipients(write(tmp_path, "a.csv", text.encode(encoding)))
    assert sheet.frame.loc[0, "email"] == "zoë@x.com"


def test_row_numbers_count_the_header_and_skipped_blank_rows(tmp_path: Path) -> None:
    data = BASIC + "\n,,,,\n  b@x.com , 20 ,U1,email,\r\n"
    sheet = read_recipients(write(tmp_path, "a.csv", data))
    assert sheet.frame["row_number"].tolist() == [2, 5]
    assert sheet.frame.loc[1, "email"] == "b@x.com" and sheet.frame.loc[1, "amount"] == "20"


def test_quoted_newlines_and_na_text_survive(tmp_path: Path) -> None:
    data = 'UTID,Amount,Delivery Method,Message,Last Name\nU1,5,email,"two\nlines",NA\n'
    sheet = read_recipients(write(tmp_path, "a.csv", data))
    assert sheet.frame.loc[0, "message"] == "two\nlines"
    assert sheet.frame.loc[0, "last_name"] == "NA"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"UTID,Amount,Delivery Method\n", "header row but no recipient rows"),
        (b"Name,Email\nA,a@x.com\n", "missing required column(s) utid"),
        (b"UTID,utid,Amount,Delivery Method\nU1,U1,5,email\n", "duplicated columns"),
        (b"\x00\x01\x02\x03binary\x00\x00garbage" * 10, "not a text CSV"),
        (b"PK\x03\x04 not really a zip", "ZIP or Excel"),
    ],
)
def test_unusable_csv_files(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "input.csv", data))
    assert needle in str(info.value) and "input.csv" in str(info.value)


def test_an_office_s_longer_headers_are_read_and_a_near_miss_is_named(tmp_path: Path) -> None:
    office = "Gift Card UTID,Reward Amount (USD),Email Addr,Delivery Type\nU1,10,a@x.com,email\n"
    sheet = read_recipients(write(tmp_path, "a.csv", office))
    assert list(sheet.frame.columns)[1:] == ["utid", "amount", "email", "delivery_method"]
    # two headers hold "amount": no guess between them
    two = "UTID,Amount Paid,Amount Owed,Delivery Methd\nU1,1,2,email\n"
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "b.csv", two))
    message = str(info.value)
    assert "missing required column(s) amount" in message
    assert "'Amount Paid' and 'Amount Owed' could each be amount: name one amount." in message
    assert "Did you mean 'Delivery Methd' for delivery_method?" in message


def test_missing_columns_message_names_what_was_found(tmp_path: Path) -> None:

    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "a.csv", "Name,Email\nA,a@x.com\n"))
    message = str(info.value)
    assert "amount" in message and "delivery_method" in message and "'Name', 'Email'" in message


def test_xlsx_first_sheet_named_sheet_and_excel_numbers(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"About": ["this workbook"]}).to_excel(xl, sheet_name="Cover", index=False)
        pd.DataFrame(columns=["x"]).to_excel(xl, sheet_name="Empty", index=False)
        pd.DataFrame(
            {
                "UTID": ["U1"],
                "Amount": [25.5],
                "Delivery Method": ["sms"],
                "Phone": [14155550100],
                "Zip": ["02134"],
            }
        ).to_excel(xl, sheet_name="Recipients", index=False)
    unnamed = read_recipients(path)  # the one sheet with recipient columns, past a cover
    assert unnamed.sheet_name == "Recipients" and len(unnamed.frame) == 1
    with pytest.raises(InputError, match="missing required column"):
        read_recipients(path, "Cover")  # a sheet named is the sheet read
    sheet = read_recipients(path, "Recipients")

    row = sheet.frame.iloc[0]
    assert (row["amount"], row["mobile_number"], row["postal_code"]) == (
        "25.5",
        "14155550100",
        "02134",
    )
    with pytest.raises(InputError, match=r"no sheet 'Nope'.*'Cover', 'Empty', 'Recipients'"):
        read_recipients(path, "Nope")


def test_empty_first_sheet_points_at_the_others(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame().to_excel(xl, sheet_name="Blank", index=False)
        pd.DataFrame({"UTID": ["U1"]}).to_excel(xl, sheet_name="Data", index=False)
    with pytest.raises(InputError, match=r"'Blank' is empty.*'Data'"):
        read_recipients(path)


def test_broken_workbooks(tmp_path: Path) -> None:
    not_zip = write(tmp_path, "locked.xlsx", b"\xd0\xcf\x11\xe0 encrypted container")
    with pytest.raises(InputError, match="password"):
        read_recipients(not_zip)
    other_zip = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(InputError, match="cannot be opened"):
        read_recipients(other_zip)


def test_missing_file_and_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_recipients(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unsupported file type"):
        read_recipients(write(tmp_path, "a.pdf", b"%PDF"))


def test_blank_lines_above_the_header_keep_row_numbers(tmp_path: Path) -> None:
    sheet = read_recipients(write(tmp_path, "a.csv", "\r\n,,,\r\n" + BASIC))
    assert sheet.frame.loc[0, "email"] == "a@x.com"
    assert sheet.frame["row_number"].tolist() == [4]  # header on row 3


def test_a_column_named_like_the_row_number_is_kept_beside_it(tmp_path: Path) -> None:
    sheet = read_recipients(write(tmp_path, "a.csv", "row_number," + BASIC.replace("\na", "\n7,a")))
    assert sheet.frame["row_number"].tolist() == [2]  # the spreadsheet row, not the cell
    assert sheet.frame.loc[0, "row_number (1)"] == "7"
    assert "row_number (1)" in sheet.unknown_columns


def test_a_late_non_utf8_byte_still_reads_as_cp1252(tmp_path: Path) -> None:
    """The fast path checks the first 64 KiB; a cp1252 byte after that is found by the parser."""
    rows = "".join(f"u{i}@x.com,10,U1,email,\n" for i in range(8000))
    data = (BASIC + rows).encode() + "zoë@x.com,10,U1,email,\n".encode("cp1252")
    sheet = read_recipients(write(tmp_path, "a.csv", data))
    assert sheet.encoding == "cp1252" and sheet.frame["email"].iloc[-1] == "zoë@x.com"


SECRET = "canary-4f1b9e"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (".env", f"TANGO_PLATFORM_KEY={SECRET}\nTANGO_PLATFORM_NAME=acme\n"),
        ("shadow", f"root:$6${SECRET}$Zx0:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"),
        ("page.csv", f"<!DOCTYPE html><html><body>{SECRET}</body></html>\n"),
        ("keys.csv", f"id,secret\n1,{SECRET}\n"),
    ],
)
def test_a_file_that_is_not_a_recipient_sheet_is_not_quoted(
    tmp_path: Path, name: str, data: str
) -> None:
    """The message goes to logs and run states others read: a .env, a password file or a
    page is named and described, never quoted."""
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, name, data))
    message = str(info.value)
    assert SECRET not in message and "TANGO" not in message and "root" not in message
    assert message.startswith(f"{name}: missing required column(s)")
    assert "No column has a recipient sheet's name" in message


def test_quoted_headers_are_capped_in_count_and_length(tmp_path: Path) -> None:
    headers = ["Email", *(f"{'x' * 60}{i}" for i in range(30))]
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "a.csv", ",".join(headers) + "\n" + "v," * 30 + "v\n"))
    message = str(info.value)
    assert "'Email'" in message and "and 21 more" in message
    assert "x" * 40 not in message and len(message) < 1200


def test_a_file_mixing_utf8_and_cp1252_rows_is_refused_with_their_lines(tmp_path: Path) -> None:
    """Read as cp1252, the UTF-8 row's "José Müller" went to Tango as "JosÃ© MÃ¼ller"."""
    data = (
        b"First Name,Last Name,Email,UTID,Amount,Delivery Method\n"
        + "José,Müller,jm@example.com,U100001,5,email\n".encode()
        + "Renée,Lévy,rl@example.com,U100001,5,email\n".encode("cp1252")
        + b"Ann,Lee,al@example.com,U100001,5,email\n"
    )
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "mixed.csv", data))
    message = str(info.value)
    assert "line(s) 2 are UTF-8 and line(s) 3 are not" in message and "UTF-8" in message
    assert "José" not in message and "Ã" not in message


def test_a_late_cp1252_row_in_a_large_utf8_file_is_refused_too(tmp_path: Path) -> None:
    rows = "".join(f"u{i}@x.com,10,U1,email,Zoë\n" for i in range(8000))
    data = (BASIC + rows).encode() + "zoë@x.com,10,U1,email,\n".encode("cp1252")
    with pytest.raises(InputError, match=r"line\(s\) 8003 are not"):
        read_recipients(write(tmp_path, "a.csv", data))


@pytest.mark.parametrize(
    "head",
    [
        "Q4 Rewards - Sales team,,,\n,,,\n",  # Excel's export of a title: padded with commas
        "Q4 Rewards - Sales team\n\nPrepared by HR\n",  # a title and a note of one cell
    ],
)
def test_a_title_above_the_header_is_skipped_and_row_numbers_still_match(
    tmp_path: Path, head: str
) -> None:
    body = (
        "Email,UTID,Amount,Delivery Method\na@example.com,U1,25,email\nb@example.com,U1,5,email\n"
    )
    sheet = read_recipients(write(tmp_path, "t.csv", head + body))
    first = head.count("\n") + 2  # the header's row, plus one
    assert sheet.frame[ROW].tolist() == [first, first + 1]
    assert sheet.frame["email"].tolist() == ["a@example.com", "b@example.com"]


def test_a_header_below_a_title_that_lacks_columns_is_the_one_the_message_quotes(
    tmp_path: Path,
) -> None:
    """Title rows, then a header naming none of the required columns as we know them: the
    message lists that header's cells (not the title's) and what is missing from it."""
    text = (
        "Rewards Q4,,,,\nPrepared by HR,,,,\n"
        "Employee Name,E-mail,Gift Card ID,Reward Amount,How to send\n"
        "Ann,ann@example.com,U100001,25,email\n"
    )
    with pytest.raises(InputError) as caught:
        read_recipients(write(tmp_path, "office.csv", text))
    said = str(caught.value)
    assert "missing required column(s) utid" in said and "amount (" not in said, said
    assert "Columns found (row 3): 'Employee Name', 'E-mail', 'Gift Card ID'" in said, said


def test_recipients_only_on_a_hidden_sheet_are_not_read_but_pointed_at(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    wb.active.append(["Q4 rewards"])
    data = wb.create_sheet("Data")
    data.append(["Email", "UTID", "Amount", "Delivery Method"])
    data.append(["a@example.com", "U100001", 25, "email"])
    data.sheet_state = "hidden"
    wb.save(tmp_path / "hidden.xlsx")
    with pytest.raises(InputError) as caught:
        read_recipients(tmp_path / "hidden.xlsx")
    assert "the hidden sheet(s) 'Data' do: name the sheet to read it" in str(caught.value)
    assert len(read_recipients(tmp_path / "hidden.xlsx", sheet_name="Data").frame) == 1


def test_a_title_row_in_a_workbook_and_sheets_to_choose_from(tmp_path: Path) -> None:
    """A notes sheet in front is passed over for the one sheet with recipients; two such
    sheets are not guessed between."""
    import openpyxl

    def book(name: str, sheets: dict[str, list[list[str]]]) -> Path:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        wb.save(tmp_path / name)
        return tmp_path / name

    table = [["Email", "UTID", "Amount", "Delivery Method"], ["a@example.com", "U1", "25", "email"]]
    notes = [["Fill in the Recipients sheet"], ["Amounts in USD"]]
    titled = book("t.xlsx", {"Notes": notes, "Recipients": [["Q4 rewards"], [], *table]})
    sheet = read_recipients(titled)
    assert sheet.sheet_name == "Recipients" and sheet.frame[ROW].tolist() == [4]
    two = book("two.xlsx", {"Notes": notes, "March": table, "April": table})
    with pytest.raises(InputError, match=r"sheets 'March', 'April' each hold recipient rows") as e:
        read_recipients(two)
    assert "(--sheet, or Sheet name in the run form)" in str(e.value)  # where to name it

    assert read_recipients(two, "April").sheet_name == "April"


def test_a_workbook_with_no_sheet_of_recipients_says_each_sheet_and_what_it_lacks(
    tmp_path: Path,
) -> None:
    """A notes sheet first, the rows under a title with a header that lacks amount: the
    message named the notes sheet's one cell only. It names each sheet, the row its header
    was looked for in, what that lacks and the header that may be it."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Q4 awards, approved by HR on 2026-11-20"])
    awards = wb.create_sheet("Q4 Awards")
    awards.append(["Q4 Spot Awards"])
    awards.append([])
    awards.append(["Employee Name", "Email", "Reward ID", "Award ($)", "Send Via"])
    awards.append(["Jane Doe", "jane@example.com", "U100001", 25, "email"])
    wb.save(tmp_path / "hr.xlsx")

    with pytest.raises(InputError) as caught:
        read_recipients(tmp_path / "hr.xlsx")
    said = str(caught.value)
    assert "\n" not in said
    assert "Sheet 'Notes': No column has a recipient sheet's name (row 1 has 1 cell)." in said
    assert "Sheet 'Q4 Awards': missing required column(s) amount (" in said, said
    assert "Columns found (row 3): 'Employee Name', 'Email', 'Reward ID'" in said
    assert "Did you mean 'Award ($)' for amount?" in said


def test_headers_offices_write_for_method_phone_and_postal_code(tmp_path: Path) -> None:
    text = "E-mail,UTID,Amount,Method of Delivery,Phone No.,Zip/Postal Code\nx@y.z,U1,5,sms,1,2\n"
    frame = read_recipients(write(tmp_path, "h.csv", text)).frame
    assert {"email", "delivery_method", "mobile_number", "postal_code"} <= set(frame.columns)


def test_rejected_rows_fixed_and_sent_again_keep_where_they_came_from(tmp_path: Path) -> None:
    text = "row_number,Email,UTID,Amount,Delivery Method,problems\n7,a@x.com,U1,5,email,amount: x\n"
    sheet = read_recipients(write(tmp_path, "rejected_rows.csv", text))
    assert sheet.frame.loc[0, "row_number"] == 2
    assert sheet.frame.loc[0, "earlier_row_number"] == "7"
    assert sheet.frame.loc[0, "earlier_problems"] == "amount: x"
    assert not [c for c in sheet.frame.columns if "(1)" in c]


def test_a_hidden_sheet_is_never_read_unnamed_and_two_visible_ones_are_refused(
    tmp_path: Path,
) -> None:
    """A hidden sheet in front (last year's list, 500 each) is not what is sent; recipients
    on two visible sheets are not half-sent."""
    import openpyxl

    header = ["Email", "UTID", "Amount", "Delivery Method"]
    book = openpyxl.Workbook()
    old = book.active
    old.title = "old"
    for row in (header, ["old@example.com", "U1", "500", "email"]):
        old.append(row)
    old.sheet_state = "hidden"
    current = book.create_sheet("current")
    for row in (header, ["new@example.com", "U1", "5", "email"]):
        current.append(row)
    book.active = 1
    book.save(tmp_path / "hidden.xlsx")
    sheet = read_recipients(tmp_path / "hidden.xlsx")
    assert sheet.sheet_name == "current" and sheet.frame["email"].tolist() == ["new@example.com"]
    assert read_recipients(tmp_path / "hidden.xlsx", "old").frame["amount"].tolist() == ["500"]

    east = book.create_sheet("East")
    for row in (header, ["e@example.com", "U1", "5", "email"]):
        east.append(row)
    book.save(tmp_path / "two.xlsx")
    with pytest.raises(InputError, match=r"sheets 'current', 'East' each hold recipient rows"):
        read_recipients(tmp_path / "two.xlsx")


def test_a_sheet_named_in_another_case_is_read_and_a_csv_has_no_sheets(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Rewards"
    for row in (["Email", "UTID", "Amount", "Delivery Method"], ["a@x.com", "U1", "5", "email"]):
        book.active.append(row)
    book.save(tmp_path / "b.xlsx")
    assert read_recipients(tmp_path / "b.xlsx", "rewards").sheet_name == "Rewards"
    csv_file = write(tmp_path, "a.csv", "Email,UTID,Amount,Delivery Method\na@x.com,U1,5,email\n")
    with pytest.raises(InputError, match="a CSV has no sheets"):
        read_recipients(csv_file, "Sheet1")


def test_a_csv_named_xlsx_is_told_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "r.xlsx", "Email,UTID,Amount,Delivery Method\na@x.com,U1,5,email\n")
    with pytest.raises(InputError, match=r"a CSV \(text\) file named \.xlsx; rename it \.csv"):
        read_recipients(path)


def test_every_white_space_arrow_trims_is_trimmed_at_either_end_of_a_cell(tmp_path: Path) -> None:
    """The reader trims only the columns whose cells' first or last bytes could be white
    space: each character Arrow's trim takes off, alone in its column, must send that
    column to the trim."""
    import pyarrow as pa
    import pyarrow.compute as pc

    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    cells = pa.array([f"x{chr(c)}" for c in points], pa.large_string())
    trimmed = pc.utf8_trim_whitespace(cells).to_numpy(zero_copy_only=False)
    spaces = [chr(points[i]) for i in range(len(points)) if trimmed[i] == "x"]
    assert " " in spaces and "\u00a0" in spaces and "\u3000" in spaces and len(spaces) > 20
    padded = [f"{s}x" for s in spaces] + [f"x{s}" for s in spaces]
    header = ["Email", "Amount", "UTID", "Delivery Method"] + [f"c{i}" for i in range(len(padded))]
    lines = [
        header,
        ["a@x.com", "10", "U1", "email", *padded],
        ["b@x.com", "10", "U1", "email", *["y"] * len(padded)],
    ]
    text = "\n".join(",".join('"' + v.replace('"', '""') + '"' for v in row) for row in lines)
    frame = read_recipients(write(tmp_path, "padded.csv", text + "\n")).frame
    assert frame.iloc[0, 5:].tolist() == ["x"] * len(padded)
    assert frame.iloc[1, 5:].tolist() == ["y"] * len(padded)


def test_a_workbook_s_message_names_the_sheet_it_read(tmp_path: Path) -> None:
    """One sheet, its header lacking amount: the message named the file only."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Q4 Awards"
    wb.active.append(["Email", "UTID", "Prize", "Delivery Method"])
    wb.active.append(["a@example.com", "U100001", 25, "email"])
    wb.save(tmp_path / "one.xlsx")
    with pytest.raises(InputError) as caught:
        read_recipients(tmp_path / "one.xlsx")
    said = str(caught.value)
    assert said.startswith("one.xlsx, sheet 'Q4 Awards': missing required column(s) amount"), said


def test_a_column_with_no_text_at_all_is_read(tmp_path: Path) -> None:
    """A trailing comma on every line makes a last column with no header and no cell: its
    text buffer is empty, and looking at its cells' first bytes raised IndexError (a
    traceback for an everyday export)."""
    text = (
        "Email,UTID,Amount,Delivery Method,\na@x.com,U100001,5,email,\nb@x.com,U100001,5,email,\n"
    )
    frame = read_recipients(write(tmp_path, "trailing.csv", text)).frame
    assert frame["email"].tolist() == ["a@x.com", "b@x.com"]
    quoted = (
        "Email,Team,UTID,Amount,Delivery Method\n'=1,,U100001,5,email\nb@x.com,,U100001,5,email\n"
    )
    frame = read_recipients(write(tmp_path, "empty_middle.csv", quoted)).frame
    assert frame["Team"].tolist() == ["", ""] and frame["email"].tolist() == ["=1", "b@x.com"]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_unknown_headers_are_the_header_not_the_first_recipient_s_row(
    tmp_path: Path, kind: str
) -> None:
    """Headers the tool does not know above a row whose method cell says "email" (a column's
    name): that row was taken for the header, and the message quoted a recipient's name and
    address (messages land in logs) with no hint for the headers."""
    rows = [
        ["Employee", "Work E-mail", "Card", "Value (USD)", "Send by"],
        ["Ann Lee", "ann@example.com", "U100001", "25", "email"],
    ]
    if kind == "csv":
        path = write(tmp_path, "unknown.csv", "\n".join(",".join(r) for r in rows) + "\n")
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        for r in rows:
            wb.active.append(r)
        wb.save(tmp_path / "unknown.xlsx")
        path = tmp_path / "unknown.xlsx"
    with pytest.raises(InputError) as caught:
        read_recipients(path)
    said = str(caught.value)
    assert "ann@example.com" not in said and "Ann Lee" not in said, said
    assert "row 1" in said, said
