"""A corpus of hostile or broken recipient files, generated (never hand-edited binaries).

Each entry: a file name and a function writing it; ``expect`` says what a user should get:
``error`` (one clear message naming the file) or ``rows`` (processing, with bad rows
rejected), and where it matters how many rows are rejected or warned about, and a text of
the file that no message may quote. ``via`` says how it arrives: as a run's source (read
as the flow reads it, confined to the corpus folder) or dropped into an inbox.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from proof import hostile

HEADER = ["First Name", "Last Name", "Email", "UTID", "Amount", "Delivery Method"]
GOOD = ["Ada", "Lovelace", "ada@example.com", "U100001", "25", "email"]


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # "error" or "rows"
    write: Callable[[Path], None]
    send: bool = True  # the million-row files are validated only (sending takes minutes)
    rejected: int | None = None  # how many rows must be rejected, when it is known
    warnings: int | None = None  # how many warnings
    secret: str | None = None  # text of the file that no message may quote
    via: str = "source"  # "source": a run's source_path; "inbox": dropped into the inbox


def _csv(rows: list[list[str]], **kw: object) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, **kw).writerows(rows)  # type: ignore[arg-type]
    return buf.getvalue().encode("utf-8")


def _rows(*extra: list[str], good: int = 3) -> list[list[str]]:
    body = [[f"P{i}", "Test", f"p{i}@example.com", "U100001", "10", "email"] for i in range(good)]
    return [HEADER, *body, *extra]


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data)


def _xlsx(sheets: dict[str, list[list[object]]]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        book.remove(book.active)
        for name, rows in sheets.items():
            sheet = book.create_sheet(name)
            for row in rows:
                sheet.append(row)
        book.save(path)

    return write


def _formula_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(
        ["Eve", "Formula", '=HYPERLINK("http://evil.example","click")', "U100001", "=5*5", "email"]
    )
    ws.append(GOOD)
    wb.save(path)


def _amount(value: str) -> Callable[[Path], None]:
    return _bytes(_csv(_rows(["Bad", "Amount", "bad@example.com", "U100001", value, "email"])))


def _big(rows: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(HEADER)
            for i in range(rows - 1):
                w.writerow([f"P{i}", "Big", f"p{i}@example.com", "U100001", "10", "email"])
            w.writerow(["Last", "Row", "last@example.com", "U100001", "ten", "email"])

    return write


def cases(big_rows: int = 1_000_000) -> list[Case]:
    text = _csv(_rows()).decode()
    return [
        Case("empty.csv", "error", _bytes(b"")),
        Case("whitespace_only.csv", "error", _bytes(b"  \n \r\n\t\n")),
        Case("header_only.csv", "error", _bytes(_csv([HEADER]))),
        Case("unknown_columns_only.csv", "error", _bytes(_csv([["foo", "bar"], ["1", "2"]]))),
        Case(
            "missing_required.csv",
            "error",
            _bytes(_csv([["Email", "Amount"], ["a@example.com", "5"]])),
        ),
        Case(
            "duplicated_headers.csv",
            "error",
            _bytes(
                _csv(
                    [
                        ["Email", "E-mail", "UTID", "Amount", "Delivery Method"],
                        ["a@x.com", "b@x.com", "U100001", "5", "email"],
                    ]
                )
            ),
        ),
        Case("utf8_bom.csv", "rows", _bytes(b"\xef\xbb\xbf" + text.encode())),
        Case("utf16_bom.csv", "rows", _bytes(text.encode("utf-16"))),
        Case("utf16le_no_bom.csv", "rows", _bytes(text.encode("utf-16-le"))),
        Case("utf16be_no_bom.csv", "rows", _bytes(text.encode("utf-16-be"))),
        Case(
            "cp1252.csv",
            "rows",
            _bytes(
                _csv(_rows(["Renée", "Müller", "rm@example.com", "U100001", "5", "email"]))
                .decode()
                .encode("cp1252")
            ),
        ),
        Case("mixed_line_endings.csv", "rows", _bytes(text.replace("\r\n", "\n", 2).encode())),
        Case("old_mac_cr.csv", "rows", _bytes(text.replace("\r\n", "\r").encode())),
        Case("semicolon.csv", "rows", _bytes(_csv(_rows(), delimiter=";"))),
        Case("tab.tsv", "rows", _bytes(_csv(_rows(), delimiter="\t"))),
        Case("pipe.txt", "rows", _bytes(_csv(_rows(), delimiter="|"))),
        Case(
            "quoted_newlines.csv",
            "rows",
            _bytes(_csv(_rows(["Multi\nLine", "Name", "ml@example.com", "U100001", "5", "email"]))),
        ),
        Case("ragged_row.csv", "error", _bytes(text.encode() + b"a,b,c,d,e,f,g,h,i\r\n")),
        Case("unclosed_quote.csv", "error", _bytes(text.encode() + b'"Open,Quote,x@x.com\r\n')),
        Case("blank_lines_first.csv", "rows", _bytes(b"\r\n,,,\r\n" + text.encode())),
        Case(
            "huge_cell.csv",  # 10 million characters: more than a cell holds (32,767)
            "error",
            _bytes(
                _csv(_rows(["X" * 10_000_000, "Huge", "huge@example.com", "U100001", "5", "email"]))
            ),
        ),
        Case("binary.csv", "error", _bytes(bytes(range(256)) * 64)),
        Case("zip_not_xlsx.xlsx", "error", _zip_not_xlsx),
        Case("zip_named_csv.csv", "error", _zip_not_xlsx),
        Case("encrypted.xlsx", "error", _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)),
        Case("truncated.xlsx", "error", _truncated_xlsx),
        Case(  # no sheet named: the one sheet with recipients, past a cover and notes
            "third_sheet.xlsx",
            "rows",
            _xlsx(
                {
                    "Cover": [["About"], ["read me"]],
                    "Notes": [["x"], ["y"]],
                    "Recipients": [["Q4 rewards"], [], HEADER, GOOD],
                }
            ),
            rejected=0,
        ),
        Case(  # which one to send is not guessed
            "two_recipient_sheets.xlsx",
            "error",
            _xlsx({"Notes": [["x"]], "March": [HEADER, GOOD], "April": [HEADER, GOOD]}),
        ),
        Case(
            "title_above_header.csv",
            "rows",
            _bytes(b"Q4 Rewards - Sales\n\n" + _csv([HEADER, GOOD])),
            rejected=0,
        ),
        Case(  # 25 EUR is not 25 USD: every amount is refused, naming the header
            "amount_header_in_another_currency.csv",
            "rows",
            _bytes(_csv([["Reward Amount (EUR)" if h == "Amount" else h for h in HEADER], GOOD])),
            rejected=1,
        ),
        Case(
            "xlsx_numbers_and_dates.xlsx",
            "rows",
            _xlsx(
                {
                    "Sheet1": [
                        [
                            "Email",
                            "UTID",
                            "Amount",
                            "Delivery Method",
                            "Mobile Number",
                            "Delivery Date",
                        ],
                        ["a@example.com", "U100001", 25.5, "email", None, None],
                        [None, "U100007", 20, "sms", 14155550100, None],
                        ["b@example.com", "U100008", 30, "email", None, pd.Timestamp("2030-01-01")],
                    ]
                }
            ),
        ),
        Case(
            "formulas.csv",
            "rows",
            _bytes(
                _csv(
                    _rows(
                        [
                            '=HYPERLINK("http://evil.example","x")',
                            "Formula",
                            "f@example.com",
                            "U100001",
                            "5",
                            "email",
                        ]
                    )
                )
            ),
        ),
        # openpyxl saves no formula's value: refused, naming the cells (read, they were empty)
        Case("formulas.xlsx", "error", _formula_xlsx),
        Case("amount_dollar_thousands.csv", "rows", _amount("$1,000.50")),
        Case("amount_european.csv", "rows", _amount("1.000,50")),
        Case("amount_exponent.csv", "rows", _amount("1e3")),
        Case("amount_negative.csv", "rows", _amount("-5")),
        Case("amount_nan.csv", "rows", _amount("NaN")),
        Case("amount_nbsp.csv", "rows", _amount("10\u00a0")),
        Case(
            "phone_excel_number.csv",
            "rows",
            _bytes(
                _csv(
                    [
                        [*HEADER, "Mobile"],
                        ["Sam", "Sms", "", "U100007", "20", "sms", "1.4155550100E10"],
                        [*GOOD, ""],
                    ]
                )
            ),
        ),
        Case(
            "date_excel_serial.csv",
            "rows",
            _bytes(
                _csv(
                    [
                        [*HEADER, "Delivery Date"],
                        [*GOOD[:3], "U100008", "30", "email", "46000"],
                        [*GOOD, ""],
                    ]
                )
            ),
        ),
        Case(
            "emoji_rtl_names.csv",
            "rows",
            _bytes(_csv(_rows(["🎉 Zoë", "محمد", "emoji@example.com", "U100001", "5", "email"]))),
        ),
        Case(
            "nul_in_cell.csv", "error", _bytes(text.encode() + b"A\x00B,x,y@x.com,U1,5,email\r\n")
        ),
        Case(
            "html_named_csv.csv",
            "error",
            _bytes(b"<!DOCTYPE html><html><body><table><tr><td>x</td></tr></table></body></html>"),
        ),
        Case("json_named_csv.csv", "error", _bytes(b'[{"email": "a@x.com", "amount": 5}]')),
        Case("wrong_extension.pdf", "error", _bytes(b"%PDF-1.4\n")),
        Case(
            "many_columns.csv",
            "rows",
            _bytes(_csv([[*HEADER, *[f"extra{i}" for i in range(1000)]], [*GOOD, *["v"] * 1000]])),
        ),
        Case(f"big_{big_rows}_last_row_bad.csv", "rows", _big(big_rows), send=big_rows <= 20_000),
        *hostile_cases(big_rows),
    ]


def _zip_not_xlsx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a workbook")


def _truncated_xlsx(path: Path) -> None:
    _xlsx({"Sheet1": [HEADER, GOOD]})(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# --- issue 13: hostile files and values ---------------------------------------------------

SECRET = "canary-7d31c0"


def hostile_cases(big_rows: int) -> list[Case]:
    formulas = [
        ["+cmd|' /C calc'!A0", "Plus", "f1@example.com"],
        ["Minus", "-2+3+cmd|' /C calc'!A0", "f2@example.com"],
        ["@SUM(1+1)*cmd|' /C calc'!A0", "At", "f3@example.com"],
        ["@cmd", "At", "f4@example.com"],
        ["\uff1d1+1", "Fullwidth", "f5@example.com"],
        ["\t=1+1", "Tab", "f6@example.com"],
        ["\r=1+1", "Return", "f7@example.com"],
        ["Eq", "Mail", "=1+1@example.com"],
        ["Plus", "Mail", "+cmd|x@example.com"],
    ]
    emails = [
        "bel\x07@example.com",
        "zero\u200bwidth@example.com",
        "\u202eevil@example.com",
        "p\u0430ypal@example.com",  # a Cyrillic a among Latin letters
        "\uff46\uff55\uff4c\uff4c@example.com",  # fullwidth letters
        "x" * 65 + "@example.com",
    ]
    return [
        Case("far_cell.xlsx", "error", hostile.far_cell),
        Case("zip_bomb.xlsx", "error", hostile.zip_bomb),
        Case("one_600mb_cell.xlsx", "error", hostile.one_huge_cell),
        Case("shared_string_bomb.xlsx", "error", hostile.shared_string_bomb),
        Case("zip_lying_sizes.xlsx", "error", hostile.lying_sizes),
        Case("zip_60000_parts.xlsx", "error", hostile.many_parts),
        Case("cells_without_references.xlsx", "error", hostile.far_cells_without_references),
        Case("lying_dimension.xlsx", "rows", hostile.lying_dimension, rejected=0),
        Case("fifo.csv", "error", lambda p: os.mkfifo(p)),
        Case("over_size_limit.csv", "error", _sparse(257 << 20)),
        Case("fifty_million_blank_lines.csv", "error", _blank_lines(50_000_000)),
        Case("two_thousand_columns.csv", "error", _bytes(_csv([[*HEADER, *["x"] * 2000], GOOD]))),
        Case(".env", "error", _bytes(f"TANGO_PLATFORM_KEY={SECRET}\n".encode()), secret=SECRET),
        Case(
            "shadow",
            "error",
            _bytes(f"root:$6${SECRET}$x:19000:0:99999:7:::\n".encode()),
            secret=SECRET,
        ),
        Case("link_out_of_the_folder.csv", "error", _link_out, secret=SECRET),
        Case("inbox_link_to_passwd.csv", "error", _link_to_passwd, via="inbox"),
        Case("mixed_utf8_cp1252.csv", "error", _mixed_encodings),
        Case(
            "lossy_names.csv",
            "rows",
            _bytes(
                _csv(_rows(["Jos?", "M\ufffdller", "lossy@example.com", "U100001", "5", "email"]))
            ),
            rejected=0,
            warnings=2,
        ),
        Case(
            "garbled_names.csv",
            "rows",
            _bytes(
                _csv(_rows(["Jos\u00c3\u00a9", "M\u00c3\u00bcller", "g@example.com", *GOOD[3:]]))
            ),
            rejected=1,
        ),
        Case(
            "formulas_everywhere.csv",
            "rows",
            _bytes(_wide(*[[*f, "U100001", "5", "email"] for f in formulas], *LEGIT_SIGNS)),
            rejected=len(formulas),
        ),
        Case(
            "formulas_in_message.xlsx",
            "rows",
            _xlsx({"Sheet1": [[*HEADER, "Message"], [*GOOD, "@SUM(1+1)*cmd|' /C calc'!A0"]]}),
            rejected=1,
        ),
        Case(
            "bad_emails.csv",
            "rows",
            _bytes(
                _csv(_rows(*[["Bad", "Email", e, "U100001", "5", "email"] for e in emails], _IDN))
            ),
            rejected=len(emails),
        ),
        Case(
            "email_1mb_local_part.csv",
            "error",
            _bytes(_csv(_rows(["Big", "Local", "x" * (1 << 20) + "@example.com", *GOOD[3:]]))),
        ),
        Case(
            "message_1mb.csv",
            "error",
            _bytes(_csv([[*HEADER, "Message"], [*GOOD, "m" * (1 << 20)]])),
        ),
        Case(
            "text_over_tangos_limits.csv",
            "rows",
            _bytes(
                _csv(
                    [
                        [*HEADER, "Message"],
                        [*GOOD, "m" * 1025],
                        ["n" * 101, *GOOD[1:], ""],
                        ["<b>Ann</b>", *GOOD[1:], ""],
                        [*GOOD, "fine"],
                    ]
                )
            ),
            rejected=3,
        ),
        Case(
            f"bad_{big_rows}_rows_every_one.csv",
            "rows",
            _all_bad(big_rows),
            send=False,
            rejected=big_rows,
        ),
    ]


# rows a sign starts legitimately: a phone number, a row key (hashed, never sent)
LEGIT_SIGNS = [
    ["Sam", "Sms", "", "U100007", "20", "sms", "+14155550100", ""],
    ["Kim", "Key", "kim@example.com", "U100001", "5", "email", "", "-17"],
]
_IDN = ["Zo\u00eb", "Idn", "zo\u00eb@ex\u00e4mple.com", "U100001", "5", "email"]


WIDE = [*HEADER, "Mobile", "Client Row Key"]


def _wide(*extra: list[str]) -> bytes:
    """Good rows and ``extra`` under a header with a mobile and a row key column."""
    rows = [*_rows()[1:], *extra]
    return _csv([WIDE, *[r + [""] * (len(WIDE) - len(r)) for r in rows]])


def _sparse(size: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as fh:
            fh.truncate(size)  # a hole: nothing written, size as stated

    return write


def _blank_lines(count: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as fh:
            fh.write(_csv([HEADER, GOOD]))
            block = b"\n" * (1 << 20)
            for _ in range(count >> 20):
                fh.write(block)

    return write


def _link_out(path: Path) -> None:
    """A link to a recipient sheet outside the corpus folder: valid, and never to be read."""
    outside = path.parent.parent / f"{path.parent.name}-outside"
    outside.mkdir(exist_ok=True)
    target = outside / "secret.csv"
    target.write_bytes(_csv(_rows(["Out", "Side", f"{SECRET}@example.com", *GOOD[3:]])))
    path.symlink_to(target)


def _link_to_passwd(path: Path) -> None:
    path.symlink_to("/etc/passwd")


def _mixed_encodings(path: Path) -> None:
    good = _csv(_rows()).decode()
    path.write_bytes(
        good.encode()
        + "José,Müller,jm@example.com,U100001,5,email\r\n".encode()
        + "Renée,Lévy,rl@example.com,U100001,5,email\r\n".encode("cp1252")
    )


def _all_bad(rows: int) -> Callable[[Path], None]:
    """Every row wrong several ways (reward, amount, method, email, name): the most a file
    within the limits can ask of validation's memory."""

    def write(path: Path) -> None:
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*HEADER, "Message"])
            for i in range(rows):
                w.writerow([f"=N{i}", "x" * 101, f"bad{i}@", "X1", "ten", "pigeon", "@m"])

    return write
