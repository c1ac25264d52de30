"""What a workbook's cells show, where the reader's bare number is not it.

A cell holding 25 formatted as ``€#,##0.00`` shows "€25.00" in Excel, and the reader gets the
bare number 25: sent from a USD account it would pay 25 dollars for what the office meant as
25 euros. So the currency a cell's format shows is put back in front of its text ("€25"), as
the person sees it, and validation judges it as it judges a sign typed into the cell
(:mod:`rewards.currency`): the account's own currency passes, any other is refused. A
percentage format is put back the same way: "25%" typed into Excel is 0.25 shown as 25%, and
25 formatted ``0.00%`` shows 2500.00%; validation refuses an amount written as a percentage.

Only formats that name their currency are read: a sign or code in the format code
(``"£"#,##0``, ``[$€-407]``, ``[$EUR] #,##0``). Excel's built-in currency formats show the
computer's own currency, which the file does not say.

A formula's value is what Excel saved beside it. A program that writes workbooks without
working formulas out saves none (openpyxl) or 0 and asks Excel to work them out on opening
(XlsxWriter): the reader would get an empty cell or 0 for what Excel shows filled in, so
such a sheet is refused, naming its cells (:func:`refuse_unsaved_formulas`).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, BinaryIO
from xml.etree import ElementTree

import pandas as pd

from .errors import InputError
from .xlsx_guard import WORKBOOK, sheet_parts, small_part

STYLES = "xl/styles.xml"
# "[$€-407]", "[$EUR]", "[$US$-409]": the currency Excel's dialog writes into a format
BRACKETED = re.compile(r"\[\$([^\]-]+)(?:-[0-9A-Fa-f]+)?\]")
SIGNS = re.compile(r"[$£€¥₹₩]")
BRACKETS = re.compile(r"\[[^\]]*\]")
LITERAL = re.compile(r'"[^"]*"|\\.')  # quoted text, an escaped character
QUOTED = re.compile(r'"([^"]*)"')


# Excel's built-in number formats (never written in the file): numbers, currencies (in the
# computer's own currency, which the file does not say: their decimals only), percentages
BUILT_IN = {
    **dict.fromkeys(("1", "3", "5", "6", "37", "38"), "#,##0"),
    **dict.fromkeys(("2", "4", "7", "8", "39", "40"), "#,##0.00"),
    "9": "0%",
    "10": "0.00%",
}
CELL = rb'<(?:\w+:)?c\s+r="([A-Z]{1,3})([0-9]{1,7})"'  # a cell and its reference
NUMBER = re.compile(r"-?[0-9][0-9.]*(?:E[-+]?[0-9]+)?")
# a cell with a formula, and the value saved beside it if any (group 2)
FORMULA_CELL = re.compile(
    rb"<(?:\w+:)?c\s([^>]*)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>)\s*"
    rb"(<(?:\w+:)?v\s*/>|<(?:\w+:)?v>[^<]*</(?:\w+:)?v>)?"
)
EMPTY_VALUE = re.compile(rb"<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>")
PLACEHOLDER = re.compile(rb"<(?:\w+:)?v>0</(?:\w+:)?v>")  # XlsxWriter's, when given no value
RECALCULATE = re.compile(rb'fullCalcOnLoad="(?:1|true)"')  # "work every formula out on opening"
REFERENCE = re.compile(rb'\br="(([A-Z]{1,3})([0-9]{1,7}))"')

# a row or column element, and its attributes; hidden="1" on it (also what a filter sets)
LINE = re.compile(rb"<(?:\w+:)?(row|col)\s([^>]*)>")
HIDDEN = re.compile(rb'\bhidden="(?:1|true)"|\b(?:ht|width)="0(?:\.0+)?"')  # or shut to nothing
ROW_NUMBER = re.compile(rb'\br="([0-9]{1,7})"')
COL_MIN, COL_MAX = re.compile(rb'\bmin="([0-9]{1,5})"'), re.compile(rb'\bmax="([0-9]{1,5})"')
MAX_COLUMNS = 16384  # XFD
ERROR_CELL = re.compile(rb'<(?:\w+:)?c\s([^>]*\bt="e"[^>]*)>(.*?)</(?:\w+:)?c>', re.DOTALL)
VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
MERGED = re.compile(
    rb'<(?:\w+:)?mergeCell\s[^>]*?\bref="([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"'
)
PART_BLOCK = 4 << 20
QUOTED_CELLS = 5


@dataclass(frozen=True)
class Shown:
    """What a number format shows around a cell's number."""

    mark: str | None = None  # the currency or text shown beside it: "€", "EUR", "US$", "pts"
    percent: bool = False  # the number is shown followed by "%"
    scaled: bool = False  # ... and 100 times itself (a "%" the format does not quote)
    decimals: int | None = None  # the decimals it shows ("#,##0": 0), when it fixes them
    width: int = 0  # the digits it shows before the point, zeros first ("00000": a ZIP code)

    def text(self, number: str) -> str:
        """The cell as shown; a number the format rounds is written with what it shows
        ("25.5 (shown as 26)"): which of the two was meant is not guessed."""
        value = Decimal(number)
        if self.percent:
            return f"{(value.scaleb(2) if self.scaled else value).normalize():f}%"
        whole, point, fraction = number.partition(".")
        if self.width > len(whole) and whole.isdigit():  # 2134 formatted 00000 shows 02134
            number = whole.zfill(self.width) + point + fraction
        written = self._marked(number)
        if self.decimals is not None and -int(value.as_tuple().exponent) > self.decimals:
            rounded = value.quantize(Decimal(1).scaleb(-self.decimals), ROUND_HALF_UP)
            return f"{written} (shown as {self._marked(f'{rounded:f}')})"
        return written

    def _marked(self, number: str) -> str:
        mark = self.mark
        if not mark:
            return number
        return f"{mark}{number}" if SIGNS.search(mark) else f"{mark} {number}"


def shown_formats(fh: BinaryIO, name: str) -> tuple[dict[int, Shown], set[int]]:
    """Style index -> what its number format shows around a number, for the styles whose
    format names a currency or is a percentage (empty for most workbooks); and the styles
    whose font is struck through (a row an office crossed out)."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as book:
        if STYLES not in book.namelist():
            return {}, set()
        try:
            styles = ElementTree.fromstring(small_part(book, STYLES, name))
        except (ElementTree.ParseError, InputError):  # damaged, or bloated past 8 MiB
            return {}, set()
    return _number_formats(styles), _struck(styles)


def _struck(styles: ElementTree.Element) -> set[int]:
    fonts = next((el for el in styles.iter() if _tag(el) == "fonts"), None)
    xfs = next((el for el in styles.iter() if _tag(el) == "cellXfs"), None)
    if fonts is None or xfs is None:
        return set()
    struck = {
        str(i)
        for i, font in enumerate(el for el in fonts if _tag(el) == "font")
        if any(_tag(p) == "strike" and p.get("val", "1") not in ("0", "false") for p in font)
    }
    cells = (el for el in xfs if _tag(el) == "xf")
    return {i for i, xf in enumerate(cells) if (xf.get("fontId") or "0") in struck}


def _tag(el: ElementTree.Element) -> str:
    return el.tag.rpartition("}")[2]


def _number_formats(styles: ElementTree.Element) -> dict[int, Shown]:
    codes = dict(BUILT_IN)
    codes.update(
        (el.get("numFmtId") or "", el.get("formatCode", ""))
        for el in styles.iter()
        if el.tag.rpartition("}")[2] == "numFmt"
    )
    formats = {fid: s for fid, code in codes.items() if (s := _shown(code))}
    xfs = next((el for el in styles.iter() if el.tag.rpartition("}")[2] == "cellXfs"), None)
    if xfs is None:
        return {}
    shown: dict[int, Shown] = {}
    for i, xf in enumerate(el for el in xfs if el.tag.rpartition("}")[2] == "xf"):
        if (found := formats.get(xf.get("numFmtId") or "")) is not None:
            shown[i] = found
    return shown


def as_shown(frame: pd.DataFrame, found: Unseen) -> pd.DataFrame:
    """``frame`` (the sheet's cells from A1, as text) with each number whose format shows a
    currency, a percentage, rounding or leading zeros written as it is shown: "€25",
    "EUR 25", "25%", "25.5 (shown as 26)", "02134"."""
    return _rewritten(
        frame, found.formatted, lambda text: bool(text) and bool(NUMBER.fullmatch(text))
    )


def with_errors(frame: pd.DataFrame, found: Unseen) -> pd.DataFrame:
    """``frame`` with each cell whose formula failed showing its error ("#N/A"), as Excel
    shows it (the reader read it empty: "utid is empty" for a VLOOKUP's #N/A)."""
    cells = [(col, row, lambda _, shown=error: shown) for col, row, error in found.errors]
    return _rewritten(frame, cells, lambda text: not text)


def with_merged_down(frame: pd.DataFrame, found: Unseen) -> pd.DataFrame:
    """``frame`` with the value of cells merged down several rows in each of those rows, as
    Excel shows it: a two-row header whose "First Name" is merged over both rows was read
    without it (the names were dropped). A value merged down recipient rows is refused
    after (:func:`rewards.reading._refuse_unseen`): which rows it was meant for is not
    guessed."""
    cells = []
    for _, left, _, top, bottom in found.merged:
        if bottom > top and left < frame.shape[1] and top <= len(frame):
            value = frame.iat[top - 1, left]
            if isinstance(value, str) and value:
                cells += [(left, row, lambda _, v=value: v) for row in range(top + 1, bottom + 1)]
    return _rewritten(frame, cells, lambda text: not text)


def _rewritten(
    frame: pd.DataFrame,
    cells: Sequence[tuple[int, int, Callable[[str], str]]],
    applies: Callable[[str], bool],
) -> pd.DataFrame:
    """``frame`` (the sheet's cells from A1) with the cells at (column, spreadsheet row)
    written anew from their text, where ``applies`` to it."""
    if not cells:
        return frame
    by_column: dict[int, list[tuple[int, Callable[[str], str]]]] = {}
    for col, row, write in cells:
        by_column.setdefault(col, []).append((row - 1, write))
    out = frame.copy(deep=False)  # the columns changed are replaced, not written into
    for col, written in by_column.items():
        if col >= len(out.columns):
            continue
        values = out.iloc[:, col].to_numpy(dtype=object, copy=True)
        for row, write in written:
            text = values[row] if row < len(values) else ""
            text = "" if text is None or text != text else text  # NaN: an empty cell
            if row < len(values) and applies(text):
                values[row] = write(text)
        out[out.columns[col]] = pd.array(values, dtype=frame.dtypes.iloc[col])
    return out


@dataclass
class Unseen:
    """What a sheet holds that a person looking at it in Excel does not see as the reader
    would read it: formulas whose value was not saved, hidden (or filtered out) rows and
    columns, merged cells, failed formulas, numbers shown otherwise by their format."""

    unsaved: list[tuple[str, int, int]] = field(default_factory=list)  # "C2", column, row
    hidden_rows: set[int] = field(default_factory=set)  # spreadsheet rows, from 1
    hidden_columns: set[int] = field(default_factory=set)  # from 0 (A)
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # column, row, "#N/A"
    # merged cells: "F2:F4" and its first and last column (from 0) and row (from 1)
    merged: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    # column, row and how it is shown, for the numbers whose cell format shows them otherwise
    formatted: list[tuple[int, int, Callable[[str], str]]] = field(default_factory=list)
    struck: list[tuple[int, int]] = field(default_factory=list)  # column, row: crossed out

    def hides_rows_or_columns(self) -> bool:
        """Whether anything here may leave a recipient's value unseen or crossed out (the
        rest is read as shown)."""
        return bool(
            self.unsaved or self.merged or self.hidden_rows or self.hidden_columns or self.struck
        )


def unseen(fh: BinaryIO, name: str, sheet: str) -> Unseen:
    """One pass over the sheet's XML, block by block (it can be hundreds of MiB)."""
    found = Unseen()
    shown, struck = shown_formats(fh, name)
    styled = None
    if shown or struck:  # a cell naming one of these styles: <c r="B2" ... s="7"
        ids = b"|".join(str(i).encode() for i in {*shown, *struck})
        styled = re.compile(CELL + rb'(?:\s[\w:]+="[^"]*")*?\ss="(' + ids + rb')"')
    fh.seek(0)
    with zipfile.ZipFile(fh) as book:
        parts = sheet_parts(book, name, sheet)
        if len(parts) != 1:
            return found
        try:
            recalculate = bool(RECALCULATE.search(small_part(book, WORKBOOK, name)))
        except (KeyError, InputError):
            recalculate = False
        with book.open(parts[0]) as part:
            for block in _blocks(part):
                _look(block, recalculate, found)
                for letters, row, style in styled.findall(block) if styled else ():
                    at = (_column(letters), int(row))
                    if int(style) in shown:
                        found.formatted.append((*at, shown[int(style)].text))
                    if int(style) in struck:
                        found.struck.append(at)
    return found


def refuse_unsaved_formulas(cells: list[str], where: str) -> None:
    """Cells (references) with formulas whose value was not saved are refused, named: the
    reader would read them empty (or 0) where Excel shows their result."""
    if not cells:
        return
    quoted = ", ".join(cells[:QUOTED_CELLS])
    more = f" and {len(cells) - QUOTED_CELLS} more" if len(cells) > QUOTED_CELLS else ""
    which = f"cells {quoted}{more} hold" if len(cells) > 1 else f"cell {quoted} holds"
    raise InputError(
        f"{where}: {which} a formula with no saved value (the program that "
        "wrote the file did not work it out, so the cell would be read empty or 0): open it in "
        "Excel or LibreOffice and save it, then run it again; nothing was sent"
    )


def _blocks(part: IO[bytes]) -> Iterator[bytes]:
    """The part's XML in blocks, each cut after a row's end (never inside a cell)."""
    rest = b""
    while block := part.read(PART_BLOCK):
        data = rest + block
        cut = data.rfind(b"row>") + 4  # "</row>" (or a prefixed one): between two cells
        if cut < 4:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]
    yield rest


def _look(data: bytes, recalculate: bool, found: Unseen) -> None:
    if b"<f" in data or b":f" in data:  # most sheets have no formula: one scan says so
        for cell in FORMULA_CELL.finditer(data):
            attributes, value = cell.group(1), cell.group(2)
            ref = REFERENCE.search(attributes)
            if ref and _unsaved(attributes, value, recalculate):
                column, row_number = _column(ref.group(2)), int(ref.group(3))
                found.unsaved.append((ref.group(1).decode(), column, row_number))

    if b't="e"' in data:  # a formula's error ("#N/A"), which the reader reads empty
        for cell in ERROR_CELL.finditer(data):
            ref, value = REFERENCE.search(cell.group(1)), VALUE.search(cell.group(2))
            if ref and value:
                error = value.group(1).decode("utf-8", errors="replace")
                found.errors.append((_column(ref.group(2)), int(ref.group(3)), error))
    if b"mergeCell" in data:  # the value is in the first cell only: the others read empty
        for merge in MERGED.finditer(data):
            a, first, b, last = merge.groups()
            span = f"{a.decode()}{int(first)}:{b.decode()}{int(last)}"
            found.merged.append((span, _column(a), _column(b), int(first), int(last)))

    if HIDDEN.search(data):  # most sheets hide nothing
        for tag in LINE.finditer(data):
            attributes = tag.group(2)
            if not HIDDEN.search(attributes):
                continue
            if tag.group(1) == b"row":
                if row := ROW_NUMBER.search(attributes):
                    found.hidden_rows.add(int(row.group(1)))
            elif (low := COL_MIN.search(attributes)) and (high := COL_MAX.search(attributes)):
                last = min(int(high.group(1)), MAX_COLUMNS)
                found.hidden_columns.update(range(int(low.group(1)) - 1, last))


def _unsaved(attributes: bytes, value: bytes | None, recalculate: bool) -> bool:
    """No value, or an empty one that is not a saved empty text (t="str"); in a workbook
    that asks to be worked out on opening, a 0 too (what XlsxWriter saves when the program
    gave no value; a value it gave is kept)."""
    if value is None:
        return True
    if recalculate and PLACEHOLDER.fullmatch(value):
        return True
    return bool(EMPTY_VALUE.fullmatch(value)) and b't="str"' not in attributes


def _shown(code: str) -> Shown | None:
    """What a format code shows around its number: a currency, a percentage, or a fixed
    number of decimals (None for General, dates, text)."""
    if (found := BRACKETED.search(code)) and (mark := found.group(1).strip()):
        return Shown(mark=mark, decimals=_decimals(code))
    shown = BRACKETS.sub("", code)  # [$-409] (a locale), [Red], [>=100] show no sign
    sign = SIGNS.search(shown)  # quoted ("€") or escaped (\€) or bare
    if "%" in LITERAL.sub("", shown):
        return Shown(percent=True, scaled=True)
    if "%" in shown and not sign:  # 0.0"%": shown followed by %, not scaled
        return Shown(percent=True)
    decimals = _decimals(code)
    # text the format writes beside the number ("GBP", "C$", "pts"): shown with it, so the
    # amount is judged as typed text would be (25.00 "GBP" was charged as 25 USD)
    words = (w.strip() for w in QUOTED.findall(shown.split(";")[0]))
    mark = next((w for w in words if re.search(r"[^\W\d_]", w) or SIGNS.search(w)), None)
    mark = mark or (sign.group(0) if sign else None)
    if mark or decimals is not None:
        return Shown(mark=mark, decimals=decimals, width=_width(code))
    return None


def _first_section(code: str) -> str:
    """A format code's section for positive numbers, without its quoted text and brackets."""
    return LITERAL.sub("", BRACKETS.sub("", code)).split(";")[0]


def _width(code: str) -> int:
    """The digits a number format shows before its point, zeros first ("00000": 5); 0 when
    it pads none ("#,##0", "0")."""
    first = _first_section(code).partition(".")[0]
    zeros = first.count("0")
    return zeros if zeros > 1 and "#" not in first and "," not in first else 0


def _decimals(code: str) -> int | None:
    """The decimals a number format shows, from its first section; None when it is not a
    plain number's (General, a date or time, scientific, text)."""
    first = _first_section(code)
    if re.search(r"[A-Za-z@]", first) or not re.search(r"[0#?]", first):
        return None
    _, point, fraction = first.partition(".")
    return len(re.findall(r"[0#?]", fraction)) if point else 0


def _column(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ch - 64
    return index - 1
