"""What a workbook's number formats show beside its amounts.

A cell holding 25 formatted as ``€#,##0.00`` shows "€25.00" in Excel, and the reader gets the
bare number 25: sent from a USD account it would pay 25 dollars for what the office meant as
25 euros. So the currency a cell's format shows is put back in front of its text ("€25"), as
the person sees it, and validation judges it as it judges a sign typed into the cell
(:mod:`rewards.currency`): the account's own currency passes, any other is refused.

Only formats that name their currency are read: a sign or code in the format code
(``"£"#,##0``, ``[$€-407]``, ``[$EUR] #,##0``). Excel's built-in currency formats show the
computer's own currency, which the file does not say.
"""

from __future__ import annotations

import re
import zipfile
from typing import BinaryIO
from xml.etree import ElementTree

import pandas as pd

from .errors import InputError
from .xlsx_guard import sheet_parts, small_part

STYLES = "xl/styles.xml"
# "[$€-407]", "[$EUR]", "[$US$-409]": the currency Excel's dialog writes into a format
BRACKETED = re.compile(r"\[\$([^\]-]+)(?:-[0-9A-Fa-f]+)?\]")
SIGNS = re.compile(r"[$£€¥₹₩]")
CELL = rb'<(?:\w+:)?c\s+r="([A-Z]{1,3})([0-9]{1,7})"'  # a cell and its reference
NUMBER = re.compile(r"-?[0-9][0-9.]*(?:E[-+]?[0-9]+)?")


def shown_currencies(fh: BinaryIO, name: str, sheet: str | None) -> dict[int, str]:
    """Style index -> the currency mark its number format shows ("€", "EUR", "US$"), for
    the styles whose format names one; empty for most workbooks."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as book:
        if STYLES not in book.namelist():
            return {}
        try:
            styles = ElementTree.fromstring(small_part(book, STYLES, name))
        except (ElementTree.ParseError, InputError):  # damaged, or bloated past 8 MiB
            return {}
    codes = {
        el.get("numFmtId"): el.get("formatCode", "")
        for el in styles.iter()
        if el.tag.rpartition("}")[2] == "numFmt"
    }
    marks = {fid: m for fid, code in codes.items() if (m := _mark(code))}
    if not marks:
        return {}
    xfs = next((el for el in styles.iter() if el.tag.rpartition("}")[2] == "cellXfs"), None)
    if xfs is None:
        return {}
    shown: dict[int, str] = {}
    for i, xf in enumerate(el for el in xfs if el.tag.rpartition("}")[2] == "xf"):
        if (mark := marks.get(xf.get("numFmtId"))) is not None:
            shown[i] = mark
    return shown


def with_shown_currency(
    frame: pd.DataFrame, fh: BinaryIO, name: str, sheet: str | None
) -> pd.DataFrame:
    """``frame`` (the sheet's cells from A1, as text) with each number whose format shows a
    currency written as it is shown: "€25", "EUR 25"."""
    shown = shown_currencies(fh, name, sheet)
    if not shown:
        return frame
    fh.seek(0)
    with zipfile.ZipFile(fh) as book:
        parts = sheet_parts(book, name, sheet)
        if len(parts) != 1:
            return frame
        with book.open(parts[0]) as part:
            xml = part.read()  # its size was checked by xlsx_guard before the reader ran
    ids = b"|".join(str(i).encode() for i in shown)
    cell = re.compile(CELL + rb'(?:\s[\w:]+="[^"]*")*?\ss="(' + ids + rb')"')
    by_column: dict[int, list[tuple[int, str]]] = {}
    for letters, row, style in cell.findall(xml):  # only the cells with such a format
        by_column.setdefault(_column(letters), []).append((int(row) - 1, shown[int(style)]))
    out = frame.copy(deep=False)  # the columns changed are replaced, not written into
    for col, cells in by_column.items():
        if col >= len(out.columns):
            continue
        values = out.iloc[:, col].to_numpy(dtype=object, copy=True)
        for row, mark in cells:
            text = values[row] if row < len(values) else ""
            if text and NUMBER.fullmatch(text):
                values[row] = f"{mark}{text}" if SIGNS.search(mark) else f"{mark} {text}"
        out[out.columns[col]] = pd.array(values, dtype=frame.dtypes.iloc[col])
    return out


def _mark(code: str) -> str | None:
    """The currency a format code shows, if it names one."""
    if found := BRACKETED.search(code):
        return found.group(1).strip() or None
    if found := SIGNS.search(code):  # quoted ("€") or escaped (\€) or bare
        return found.group(0)
    return None


def _column(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ch - 64
    return index - 1
