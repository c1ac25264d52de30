"""Read a recipient spreadsheet (CSV or XLSX) into a DataFrame of trimmed text.

Every cell is text (leading zeros survive), canonical column names replace the headers it
recognises (unknown columns are kept), fully blank rows are dropped, and ``row_number`` holds
the spreadsheet row (header = row 1). Anything that makes the file unusable raises
:class:`InputError` with the file's name and what to do. What is read is bounded before it
is parsed (:mod:`rewards.limits`, :mod:`rewards.xlsx_guard`): one regular file, opened once
and read through that one descriptor.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import mmap
import os
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_text import buffers
from .columns import RECIPIENTS, ROW, Columns, is_actions_sheet, normalise_header
from .errors import InputError
from .export import FORMULA_START
from .limits import ReadLimits, check_cell_length, check_csv_shape, open_regular
from .xlsx_formats import (
    Unseen,
    as_shown,
    refuse_unsaved_formulas,
    unseen,
    with_errors,
    with_merged_down,
)
from .xlsx_guard import check_workbook

if TYPE_CHECKING:
    from python_calamine import CalamineSheet

SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str": Arrow large_string inside
BLOCK_BYTES = 4 << 20  # fewer, larger chunks: every later kernel pays per chunk
SHEET_BLOCK_ROWS = 1 << 16  # workbook rows turned into Arrow at a time
WORKBOOKS = (".xlsx", ".xlsm")
TEXTS = (".csv", ".txt", ".tsv", "")
WHERE_A_SHEET_IS_NAMED = "(--sheet, or Sheet name in the run form)"


@dataclass
class Sheet:
    """What was read: the rows, and how the file was understood."""

    frame: pd.DataFrame
    source: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet_name: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    header_map: dict[str, str] = field(default_factory=dict)  # original header -> column

    def read_as(self) -> str:
        """Which header was read as which column, and the columns kept as written: said
        before anything is sent (a "Note" read as the gift message reached recipients)."""
        read = ", ".join(
            f"{_quoted(h)} as {c}" if normalise_header(h) != normalise_header(c) else c
            for h, c in self.header_map.items()
        )
        kept = f"; kept as written: {_listed(self.unknown_columns)}" if self.unknown_columns else ""
        return f"columns read: {read}{kept}"

    def for_report(self) -> Sheet:
        """The sheet once validated: its row numbers and the columns the file added (the
        report shows them as written). Its other cells live on in the valid and rejected
        rows: a million rows' cells are not held twice through a run."""
        return replace(self, frame=self.frame[[ROW, *self.unknown_columns]])


def read_recipients(
    path: str | Path, sheet_name: str | None = None, limits: ReadLimits | None = None
) -> Sheet:
    try:
        sheet = read_sheet(path, RECIPIENTS, sheet_name, limits)
    except InputError:
        refuse_actions_file(path, limits)  # an actions file: say which command takes it
        raise
    _refuse_unread_delivery_dates(sheet)
    return sheet


# words of a header that may be meant as the delivery date ("Deliver On", "Send Out")
DELIVERY_WORDS = ("deliver", "send", "schedul", "dispatch")
DATE_LIKE = r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$"


def _refuse_unread_delivery_dates(sheet: Sheet) -> None:
    """A column of dates whose header speaks of delivering or sending, not read as the
    delivery date, is refused: read as it is, each reward would go at once, and a reward sent
    cannot be unsent ("Deliver On" was kept as written and its reward link sent that day)."""
    if "delivery_date" in sheet.header_map.values():
        return
    for name in sheet.unknown_columns:
        if not any(w in normalise_header(name) for w in DELIVERY_WORDS):
            continue
        cells = pa.array(sheet.frame[name].array)
        if pc.any(pc.match_substring_regex(cells, DATE_LIKE)).as_py():
            raise InputError(
                f"{Path(sheet.source).name}: column {_quoted(name)} holds dates but is not read: "
                "if it is the day to deliver the rewards on, name it delivery_date (unread, "
                "each reward would go at once); else rename it; nothing was sent"
            )


def refuse_actions_file(path: str | Path, limits: ReadLimits | None = None) -> None:
    """An actions file (its header: ``action`` and a line column, as the inbox tells them,
    :func:`rewards.columns.is_actions_sheet`) where recipients are expected: an error naming
    the command that takes it. A header that also has every required recipients column is
    left to be read as recipients; a file that cannot be read is left to the reader."""
    try:
        found = headers(path, limits)
    except (InputError, OSError):
        return
    mapping, _ = RECIPIENTS.match_headers(found)
    if is_actions_sheet(found) and not set(RECIPIENTS.required) <= set(mapping.values()):
        raise InputError(
            f"{Path(path).name}: an actions file (resend, reissue, cancel...), not recipients: "
            f"run it with `rewards manage {path}` (the manage-rewards flow); nothing was sent"
        )


def read_sheet(
    path: str | Path,
    columns: Columns,
    sheet_name: str | None = None,
    limits: ReadLimits | None = None,
) -> Sheet:
    """A spreadsheet whose headers are matched to ``columns`` (recipients, actions)."""
    path, limits = Path(path), limits or ReadLimits()
    suffix = path.suffix.lower()
    if suffix in (".xls", ".ods"):  # their readers cannot be bounded before they run
        raise InputError(f"{path.name}: {suffix} workbooks are not read; save it as .xlsx or CSV")
    if suffix not in WORKBOOKS + TEXTS:
        raise InputError(f"{path.name}: unsupported file type {suffix!r}; use .csv or .xlsx")
    if sheet_name and suffix not in WORKBOOKS:
        raise InputError(
            f"{path.name}: a CSV has no sheets; leave the sheet name empty (it names a sheet of "
            "an .xlsx workbook)"
        )
    with open_regular(path, limits) as fh:
        if suffix in WORKBOOKS:
            raw, sheet = _read_book(fh, path.name, sheet_name, limits, columns)
            found = unseen(fh, path.name, sheet)
            raw = with_merged_down(with_errors(as_shown(raw, found), found), found)

            return _finish(raw, path, limits, columns, unseen=found, sheet_name=sheet)

        raw, encoding, delimiter, skipped, trimmed = _read_csv(fh, path.name, limits)
    return _finish(
        raw, path, limits, columns, skipped + 1, trimmed, encoding=encoding, delimiter=delimiter
    )


def headers(path: str | Path, limits: ReadLimits | None = None) -> list[str]:
    """The header row of a spreadsheet, read as the sheet would be and within the same
    limits; enough to tell recipients from actions: among its first rows that are not blank
    (a title may stand above the header), the first that heads an actions file, else the
    first of them."""
    path, limits = Path(path), limits or ReadLimits()
    suffix = path.suffix.lower()
    if suffix not in WORKBOOKS + TEXTS:
        raise InputError(f"{path.name}: unsupported file type {suffix!r}; use .csv or .xlsx")
    rows: list[list[str]]
    with open_regular(path, limits) as fh:
        if suffix in WORKBOOKS:
            raw, _ = _read_workbook(fh, path.name, None, limits)
            rows = raw.head(1000).fillna("").astype(str).values.tolist()
        else:
            data = fh.read(SNIFF_BYTES)
            text = data.decode(_detect_encoding(data, path.name), errors="replace")
            lines = text.splitlines()[:-1] or text.splitlines()  # the last may be cut short
            rows = list(csv.reader(lines, delimiter=_sniff_delimiter(text)))
    filled = [[str(c).strip() for c in r] for r in rows if any(str(c).strip() for c in r)]
    top = filled[:TITLE_ROWS]
    return next((r for r in top if is_actions_sheet(r)), top[0] if top else [])


# --- CSV ------------------------------------------------------------------------------------


def _detect_encoding(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = data[:SNIFF_BYTES]
    # UTF-16 without a BOM: ASCII text leaves a NUL in every other byte
    if len(sample) >= 4 and sample.count(b"\x00") > len(sample) // 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        return "utf-16-be" if even > odd else "utf-16-le"
    if b"\x00" in sample:
        raise InputError(
            f"{name}: this is not a text CSV file (it contains binary data); "
            "export the spreadsheet as CSV or upload the .xlsx itself"
        )
    return "utf-8" if _is_utf8(data) else "cp1252"


def _is_utf8(data: bytes) -> bool:
    """Arrow's validator over the bytes in place: seven times as fast as ``bytes.decode``
    (which builds the whole text only to throw it away)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    try:
        pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data)).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _refuse_mixed_encodings(data: bytes, name: str) -> None:
    """A file that is not UTF-8 as a whole but has UTF-8 lines (rows pasted from two
    sources): read as Windows-1252, those lines would turn "José" into "JosÃ©" and be sent
    so. Refused, naming the lines of each kind (lines are rows unless a cell spans lines)."""
    utf8, other = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    if utf8 and other:
        raise InputError(
            f"{name}: the file mixes encodings: line(s) {_numbers(utf8)} are UTF-8 and "
            f"line(s) {_numbers(other)} are not (Windows-1252?), so names would be garbled; "
            "save the file again as CSV UTF-8"
        )


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:QUOTE_COUNT])
    return shown + (f" and {len(numbers) - QUOTE_COUNT} more" if len(numbers) > QUOTE_COUNT else "")


def _sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _read_fast(
    data: bytes | pa.Buffer, delimiter: str, sample: str, name: str, limits: ReadLimits
) -> pd.DataFrame | None:
    """pyarrow's reader, every column as text, keeping empty lines (they would shift row
    numbers): an empty line breaks the column count and sends the file to pandas' careful
    parser instead. None when pyarrow cannot read the file. Rows and columns are bounded
    first, for both parsers."""
    from pyarrow import csv as pacsv

    columns = _header_width(data, delimiter)
    check_csv_shape(data, columns, name, limits)
    try:
        width = len(next(csv.reader(io.StringIO(sample), delimiter=delimiter)))
    except (StopIteration, csv.Error):
        return None
    width = max(width, columns)  # a header longer than the sample

    def read(newlines_in_values: bool) -> pa.Table:
        return pacsv.read_csv(
            data if isinstance(data, pa.Buffer) else pa.py_buffer(data),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=newlines_in_values,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                # large_string: what pandas' "str" dtype holds, so it takes the columns as they are
                column_types={f"f{i}": pa.large_string() for i in range(width)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    # Quoted line breaks are rare and slow the parallel reader down, so read without them
    # first: a line break inside a quoted cell then splits its row into two short rows,
    # which fails the column count (every file has 3+ columns), and we read again with them.
    try:
        try:
            table = read(newlines_in_values=False)
        except pa.ArrowException:
            table = read(newlines_in_values=True)
    except pa.ArrowException:
        return None
    # trimmed here, column by column in Arrow: four times as fast as pandas' str.strip; each
    # untrimmed column is let go as soon as its trimmed copy exists (peak memory)
    columns = table.columns
    del table

    def trim(i: int) -> None:
        if _may_be_padded(columns[i]):  # most columns are not: their bytes say so at once
            columns[i] = pc.utf8_trim_whitespace(columns[i])

    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow kernels run without the GIL
        list(pool.map(trim, range(len(columns))))
    return pd.DataFrame(
        {i: pd.arrays.ArrowStringArray(c, dtype=STR) for i, c in enumerate(columns)}, copy=False
    )


def _edge_bytes_in(values: pa.ChunkedArray, first: np.ndarray, last: np.ndarray | None) -> bool:
    """Whether a cell that is not empty starts with a byte flagged in the table ``first`` or
    ends with one flagged in ``last`` (256 flags each): read in place, no copy of the text."""
    for chunk in values.chunks:
        offsets, data = buffers(chunk)
        if not len(data):
            continue  # no text at all: every cell empty
        flagged = first.take(np.take(data, offsets[:-1], mode="clip"))
        if last is not None:
            flagged |= last.take(np.take(data, offsets[1:] - 1, mode="clip"))
        seen = np.flatnonzero(flagged)
        if len(seen) and (offsets[seen + 1] > offsets[seen]).any():  # empty cells say nothing
            return True
    return False


# Bytes that can begin or end a character Arrow trims as white space: ASCII's, and the lead
# and last bytes of Unicode's (U+0085, U+00A0, U+1680, U+2000-U+205F, U+3000); a superset
# only sends a column to the trim that leaves it as it was.
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[*range(0x09, 0x0E), *range(0x1C, 0x21)]] = True
_PADDED_START, _PADDED_END = _SPACE.copy(), _SPACE.copy()
_PADDED_START[[0xC2, 0xE1, 0xE2, 0xE3]] = True
_PADDED_END[0x80:0xC0] = True  # any last byte of a character of two or more bytes
_APOSTROPHE = np.zeros(256, dtype=bool)
_APOSTROPHE[ord("'")] = True


def _may_be_padded(values: pa.ChunkedArray) -> bool:
    return _edge_bytes_in(values, _PADDED_START, _PADDED_END)


SEP_LINE = re.compile(rb"sep=([,;\t|])[ \t]*\r?\n", re.IGNORECASE)


def _separator_line(data: bytes) -> tuple[bytes, str | None]:
    """Excel's "sep=;" first line, which names the delimiter (a parser took it for a header
    of one column): the data after it, and the delimiter it names. Excel does not show the
    line, so rows are numbered as if it were not there (the header is row 1)."""

    found = SEP_LINE.match(data)
    if found is None:
        return data, None
    return data[found.end() :], found.group(1).decode()


def _skip_blank_head(data: bytes) -> tuple[bytes, int]:
    """Drop the blank lines above the header (a parser would take the first as the header),
    and a title or note of one cell above it ("Q4 rewards - Sales"), which a parser would
    take as the width of every row; returns how many, so row numbers still match the
    spreadsheet."""
    skipped, at, titles = 0, 0, 0
    while at < len(data) and titles <= TITLE_ROWS:
        end = data.find(b"\n", at)
        line = data[at:] if end < 0 else data[at : end + 1]
        if line.strip(b" \t\r\n,;|"):
            if any(d in line for d in DELIMITERS.encode()):  # the header, or a table's row
                return data[at:], skipped
            titles += 1
        at += len(line)
        skipped += 1
    # no line with a delimiter near the top: a one-column file, or not a CSV; only blanks go
    return _skip_blanks(data)


def _skip_blanks(data: bytes) -> tuple[bytes, int]:
    skipped = 0
    while data:
        end = data.find(b"\n")
        line = data if end < 0 else data[: end + 1]
        if line.strip(b" \t\r\n,;|"):
            break
        data = data[len(line) :]
        skipped += 1
    return data, skipped


def _header_width(data: bytes | pa.Buffer, delimiter: str) -> int:
    """Columns of the first line, by its delimiters (quoted ones too: an upper bound), found
    block by block so a header of any length is counted whole."""
    view = np.frombuffer(data, dtype=np.uint8)
    count, mark = 1, ord(delimiter)
    for start in range(0, len(view), SNIFF_BYTES):
        block = view[start : start + SNIFF_BYTES]
        ends = np.flatnonzero((block == 10) | (block == 13))
        line = block[: ends[0]] if len(ends) else block
        count += int(np.count_nonzero(line == mark))
        if len(ends):
            break
    return count


def _read_csv(
    fh: BinaryIO, name: str, limits: ReadLimits
) -> tuple[pd.DataFrame, str, str, int, bool]:
    """The raw cells, the encoding and delimiter, the blank lines skipped above the header,
    and whether the cells are already trimmed."""
    return _read_mapped(fh, name, limits) or _read_csv_bytes(fh, name, limits)


def _read_mapped(
    fh: BinaryIO, name: str, limits: ReadLimits
) -> tuple[pd.DataFrame, str, str, int, bool] | None:
    """The common case straight from a memory map, with no copy of the file: UTF-8 (BOM or
    not) that pyarrow parses in one go (it checks the UTF-8 itself). None sends the file to
    the careful path, which reads it whole and finds what is wrong or unusual."""
    if not os.fstat(fh.fileno()).st_size:
        return None
    fh.seek(0)
    head = fh.read(SNIFF_BYTES)
    bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    if head[:4] == b"PK\x03\x04" or b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        head[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not a character cut at the end of the sample
            return None
    rest, named = _separator_line(head[bom:])
    body, skipped = _skip_blank_head(rest)
    if not body.strip(b" \t\r\n,;|"):
        return None  # empty, or blank beyond the sample
    sample = body.decode("utf-8", errors="ignore")
    delimiter = named or _sniff_delimiter(sample)
    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        data = pa.py_buffer(mapped).slice(len(head) - len(body))
        frame = _read_fast(data, delimiter, sample, name, limits)
    finally:
        data = None
        # still referenced (a traceback): unmapped when the last reference goes
        with contextlib.suppress(BufferError):
            mapped.close()
    if frame is None:
        return None
    return frame, "utf-8-sig" if bom else "utf-8", delimiter, skipped, True


def _read_csv_bytes(
    fh: BinaryIO, name: str, limits: ReadLimits
) -> tuple[pd.DataFrame, str, str, int, bool]:
    """The raw cells, the encoding and delimiter, the blank lines skipped above the header,
    and whether the cells are already trimmed."""
    fh.seek(0)
    data = fh.read(limits.max_file_bytes + 1)  # the file may have grown since it was sized
    if len(data) > limits.max_file_bytes:
        raise InputError(f"{name}: the file grew while it was read; upload it again")
    if not data or (len(data) < 1 << 16 and not data.strip()):
        raise InputError(
            f"{name}: the file is empty; it needs a header row and at least one row under it"
        )
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            f"{name}: this is a ZIP or Excel file named like a CSV; "
            "rename it to .xlsx or export it as CSV"
        )
    encoding = _detect_encoding(data, name)
    if encoding == "cp1252":
        _refuse_mixed_encodings(data, name)
    if encoding != "utf-8":
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # cp1252 leaves 5 bytes undefined
            encoding = "latin-1"
        data = text.lstrip("\ufeff").encode("utf-8")
        if "\x00" in text:
            raise InputError(
                f"{name}: this is not a text CSV file (it contains binary "
                "data); export the spreadsheet as CSV"
            )
    data, named = _separator_line(data)
    data, skipped = _skip_blank_head(data)
    sample = data[:SNIFF_BYTES].decode("utf-8", errors="ignore")
    delimiter = named or _sniff_delimiter(sample)

    options = dict(sep=delimiter, header=None, dtype=str, keep_default_na=False)
    frame = _read_fast(data, delimiter, sample, name, limits)
    trimmed = frame is not None
    if frame is None:
        try:
            frame = pd.read_csv(io.BytesIO(data), engine="c", skip_blank_lines=False, **options)
        except pd.errors.ParserError as exc:
            detail = " ".join(str(exc).replace("Error tokenizing data. C error: ", "").split())
            raise InputError(
                f"{name}: the CSV is malformed ({detail}); check for a "
                "stray delimiter or an unclosed quote on that line"
            ) from exc
        except (ValueError, MemoryError) as exc:
            raise InputError(f"{name}: the CSV cannot be read ({exc})") from exc
    return frame, encoding, delimiter, skipped, trimmed


# --- XLSX -----------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # as Excel shows and computes it, to 15 significant digits: a formula's 25 * 1.1 is
        # saved as 27.500000000000004 and shown 27.5 (its noise was "at most 2 decimals")
        return format(value, ".15g")

    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _read_workbook(
    fh: BinaryIO, name: str, sheet_name: str | None, limits: ReadLimits
) -> tuple[pd.DataFrame, str]:
    from python_calamine import CalamineWorkbook

    if not zipfile.is_zipfile(fh):
        fh.seek(0)
        head = fh.read(SNIFF_BYTES)
        first = head.split(b"\n", 1)[0]
        if b"\x00" not in head and any(d in first for d in DELIMITERS.encode()):
            raise InputError(f"{name}: this is a CSV (text) file named .xlsx; rename it .csv")
        raise InputError(
            f"{name}: this is not an Excel .xlsx file (it may be encrypted "
            "with a password or damaged); save it again from Excel without a "
            "password, or export it as CSV"
        )

    check_workbook(fh, name, sheet_name, limits)  # before calamine: it cannot be bounded
    fh.seek(0)
    try:
        book = CalamineWorkbook.from_filelike(fh)
    except Exception as exc:
        raise InputError(
            f"{name}: the workbook cannot be opened ({type(exc).__name__}: "
            f"{_quoted(str(exc))}); it may be damaged or password-protected"
        ) from exc
    names = list(book.sheet_names)
    if not names:
        raise InputError(f"{name}: the workbook has no sheets")
    chosen = sheet_name or names[0]
    if chosen not in names:  # "rewards" for "Rewards", when only one sheet is so named
        alike = [n for n in names if n.casefold() == chosen.casefold()]
        chosen = alike[0] if len(alike) == 1 else chosen
    if chosen not in names:
        raise InputError(
            f"{name}: there is no sheet {_quoted(chosen)}; the workbook has {_listed(names)}"
        )
    try:
        frame = _sheet_frame(book.get_sheet_by_name(chosen))
    except Exception as exc:
        raise InputError(
            f"{name}: sheet {_quoted(chosen)} cannot be read ({_quoted(str(exc))})"
        ) from exc
    finally:
        book.close()  # calamine's copy of the cells goes now, before the rest of the work
    _refuse_empty(frame, name, chosen, names)
    return frame, chosen


class _EmptySheetError(InputError):
    def __init__(self, message: str, sheet: str) -> None:
        super().__init__(message)
        self.sheet = sheet


def _read_book(
    fh: BinaryIO, name: str, sheet_name: str | None, limits: ReadLimits, columns: Columns
) -> tuple[pd.DataFrame, str]:
    """The named sheet (hidden or not). None named: the one visible sheet with a header of
    ``columns`` (past a "Notes" or "Cover" sheet); two such sheets are refused, since which
    rows to send is not guessed and none may be dropped unsaid; a hidden sheet is never
    read unnamed (it holds what someone put out of sight: an old list, last year's amounts).
    No sheet with such a header: the first visible one, whose reading says what is missing."""
    if sheet_name is not None:
        return _read_workbook(fh, name, sheet_name, limits)
    if not zipfile.is_zipfile(fh):
        return _read_workbook(fh, name, None, limits)  # which says what the file is
    check_workbook(fh, name, None, limits)  # before calamine opens it: it cannot be bounded
    visible, hidden = _sheet_names(fh, name)

    holding: list[tuple[pd.DataFrame, str]] = []
    read: list[tuple[pd.DataFrame, str]] = []  # the visible sheets with data
    first: tuple[pd.DataFrame, str] | InputError | None = None
    for sheet in visible[:MAX_SHEETS_TRIED]:
        try:
            raw, _ = _read_workbook(fh, name, sheet, limits)
        except _EmptySheetError as exc:
            first = first or exc
            continue
        first = first or (raw, sheet)
        read.append((raw, sheet))
        if _has_header(raw, columns):
            holding.append((raw, sheet))
    if len(holding) > 1:
        raise InputError(
            f"{name}: sheets {_listed([s for _, s in holding])} each hold {columns.kind} rows; "
            f"name the sheet to read {WHERE_A_SHEET_IS_NAMED}, or put the rows in one sheet"
        )
    if holding:
        return holding[0]
    hidden_holding = [s for s in hidden[:MAX_SHEETS_TRIED] if _holds(fh, name, s, limits, columns)]
    if hidden_holding:  # never read unnamed, but said: the person may not know it is hidden
        raise InputError(
            f"{name}: no visible sheet holds {columns.kind} rows; the hidden sheet(s) "
            f"{_listed(hidden_holding)} do: name the sheet to read it {WHERE_A_SHEET_IS_NAMED}, "
            "or unhide it"
        )
    if len(read) > 1:  # which sheet was meant is not known: each is said, and what it lacks
        said = " ".join(f"Sheet {_quoted(s)}: {_sheet_lacks(raw, columns)}" for raw, s in read)
        raise InputError(
            f"{name}: no sheet has every required column ({', '.join(columns.required)}). "
            f"{said} Rename the headers of the sheet that holds the rows (its header may have "
            "a title above it), or start from " + columns.template
        )
    if isinstance(first, InputError):
        raise first
    if first is None:
        hint = f" (hidden: {_listed(hidden)}; name one to read it)" if hidden else ""
        raise InputError(f"{name}: the workbook has no visible sheet with data{hint}")
    return first


def _sheet_lacks(raw: pd.DataFrame, columns: Columns) -> str:
    """What the sheet's likeliest header row lacks (:func:`_header_row`), for a message."""
    at = _header_row(raw, columns)
    if at is None:
        return "no rows."
    headers = [str(h).strip() for h in raw.loc[at].fillna("").tolist()]
    mapping = columns.match_headers(headers)[0]
    if not mapping:  # a notes or cover sheet: what it lacks is everything
        return f"{_found(headers, mapping, columns.kind, int(at) + 1)}."
    return _lacking(headers, mapping, columns, int(at) + 1)


def _holds(fh: BinaryIO, name: str, sheet: str, limits: ReadLimits, columns: Columns) -> bool:
    """Whether ``sheet`` has a header of ``columns``."""
    try:
        return _has_header(_read_workbook(fh, name, sheet, limits)[0], columns)
    except _EmptySheetError:
        return False


def _sheet_names(fh: BinaryIO, name: str) -> tuple[list[str], list[str]]:
    """The workbook's worksheets, visible and hidden, in order."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    fh.seek(0)
    try:
        with contextlib.closing(CalamineWorkbook.from_filelike(fh)) as book:
            sheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    except Exception as exc:
        raise InputError(
            f"{name}: the workbook cannot be opened ({type(exc).__name__}: "
            f"{_quoted(str(exc))}); it may be damaged or password-protected"
        ) from exc
    shown = [m.name for m in sheets if m.visible == SheetVisibleEnum.Visible]
    return shown, [m.name for m in sheets if m.visible != SheetVisibleEnum.Visible]


MAX_SHEETS_TRIED = 20  # a workbook's visible sheets looked at for recipients when none is named


def _refuse_empty(frame: pd.DataFrame, name: str, chosen: str, names: list[str]) -> None:
    head = frame.head(1000).map(str.strip)
    if not len(frame.columns) or not _filled([head.iloc[:, i] for i in range(head.shape[1])]).any():
        others = [n for n in names if n != chosen]
        hint = (
            f"; the workbook also has {_listed(others)}: choose one with the sheet name option"
            if others
            else ""
        )
        raise _EmptySheetError(f"{name}: sheet {_quoted(chosen)} is empty{hint}", chosen)


def _sheet_frame(sheet: CalamineSheet) -> pd.DataFrame:
    """The sheet's cells from A1 as text columns, made block by block: Python holds one
    block's cells at a time (a whole sheet of Python objects took more memory than calamine
    itself). Most cells are text already; only the others go through :func:`_cell_text`."""
    left = sheet.start[1] if sheet.start else 0  # rows start at row 1; columns at the first used
    width = left + sheet.width
    chunks: list[list[pa.Array]] = [[] for _ in range(width)]
    rows = sheet.iter_rows()
    while block := list(itertools.islice(rows, SHEET_BLOCK_ROWS)):
        blank = pa.array([""] * len(block), pa.large_string())
        for i in range(left):
            chunks[i].append(blank)
        for i, cells in enumerate(zip(*block, strict=True), start=left):
            text = [c if type(c) is str else _cell_text(c) for c in cells]
            chunks[i].append(pa.array(text, pa.large_string()))
    return pd.DataFrame(
        {
            i: pd.arrays.ArrowStringArray(pa.chunked_array(c, pa.large_string()), dtype=STR)
            for i, c in enumerate(chunks)
        },
        copy=False,
    )


# --- shared -----------------------------------------------------------------------------------


def _finish(
    raw: pd.DataFrame,
    path: Path,
    limits: ReadLimits,
    columns: Columns,
    first_row: int = 1,
    trimmed: bool = False,
    unseen: Unseen | None = None,
    **how: str | None,
) -> Sheet:
    check_cell_length(raw, first_row, path.name, limits)
    sheet = how.get("sheet_name")
    where = f"{path.name}, sheet {_quoted(sheet)}" if sheet else path.name  # for messages
    raw = raw.fillna("")
    header_at = _header_row(raw, columns)
    if header_at is None:
        raise InputError(f"{where}: the file has no header row and no data")
    headers = [str(h).strip() for h in raw.iloc[header_at].tolist()]
    body = raw.iloc[header_at + 1 :]
    body.columns = pd.RangeIndex(len(headers))
    mapping, clashes = columns.match_headers(headers)
    if clashes:
        detail = "; ".join(
            f"{_quoted(a)} and {_quoted(b)} both mean {col}" for col, a, b in clashes[:QUOTE_COUNT]
        )
        raise InputError(f"{where}: duplicated columns ({detail}); keep one of each")
    seen: dict[str, int] = {ROW: -1}
    names: list[str] = []
    ours = ROW in headers and "problems" in headers  # our rejected_rows, fixed and sent again
    for i, header in enumerate(headers):
        name = mapping.get(header) or (EARLIER.get(header, header) if ours else header)
        name = name or f"column_{i + 1}"
        if name in seen and name not in mapping.values():
            name = f"{name} ({i + 1})"
        seen[name] = i
        names.append(name)
    lacking = _lacking(headers, mapping, columns, header_at + first_row)
    if lacking:
        raise InputError(f"{where}: {lacking} Rename the headers or start from {columns.template}")
    cells = [body.iloc[:, i] for i in range(len(names))]
    if not trimmed:  # in Arrow, as the CSV reader does: four times as fast as str.strip
        cells = [_trimmed(c) for c in cells]
    if how.get("delimiter"):  # a CSV: a fixed copy of our own export comes back as it left
        cells = [_unneutralised(c) for c in cells]
    # 0-based position -> spreadsheet row (``first_row`` is the row the parsed data starts on)
    rows = body.index.to_numpy() + first_row
    keep = np.flatnonzero(_filled(cells))
    if len(keep) < len(body):
        cells, rows = [c.take(keep) for c in cells], rows[keep]
    # a spacer (no header, nothing in it) is no column of the file's: not carried, not listed
    spacer = {
        n for h, n, c in zip(headers, names, cells, strict=True) if not h and not _filled([c]).any()
    }
    frame = pd.DataFrame(
        {
            ROW: rows,
            **{n: c.array for n, c in zip(names, cells, strict=True) if n not in spacer},
        },
        copy=False,
    )  # a new frame around the same columns: no copy
    if frame.empty:
        raise InputError(f"{where}: the file has a header row but no {columns.kind} rows")
    if unseen is not None:
        _refuse_unseen(unseen, headers, mapping, columns, cells, rows, where)

    unknown = [n for h, n in zip(headers, names, strict=True) if h not in mapping]
    unknown = [n for n in unknown if n not in spacer]
    return Sheet(
        frame=frame,
        source=str(path),
        unknown_columns=unknown,
        header_map={h: mapping[h] for h in headers if h in mapping},
        **how,
    )


# the columns of our own rejected_rows file, when it comes back fixed: kept, named for what
# they now are (the row this one had in the earlier file, what was wrong with it then)
EARLIER = {ROW: "earlier_row_number", "problems": "earlier_problems"}

TITLE_ROWS = 10
# rows that are not blank looked at for the header (titles, notes above it)


def _header_row(raw: pd.DataFrame, columns: Columns) -> int | None:
    """The header: the first row, among the first few that are not blank, that names every
    required column (a title or a note may stand above it); else the one of them most like a
    header (no cell that looks like a value, an email or a number: a data row's "email" in its
    method column named a column and won; then the most columns named; then the most cells
    filled: not a one-cell title), whose message then says what is missing. None if the top
    of the file is blank."""
    head = raw.head(1000).fillna("")
    cells = head.apply(lambda col: col.str.strip() != "")
    filled = np.flatnonzero(cells.any(axis=1))
    best: tuple[bool, int, int] | None = None
    best_at = None
    for at in filled[:TITLE_ROWS]:
        texts = [str(h).strip() for h in head.iloc[at].tolist()]
        named = columns.match_headers(texts)[0]
        if set(columns.required) <= set(named.values()):
            return int(head.index[at])
        score = (not any(map(_looks_like_a_value, texts)), len(named), int(cells.iloc[at].sum()))
        if best is None or score > best:
            best, best_at = score, at
    return int(head.index[best_at]) if best_at is not None else None


_VALUE = re.compile(r"\S+@\S+\.\S+|[-+$€£(]?\s*\d[\d\s.,:/()-]*")  # an email, a number, a date


def _looks_like_a_value(text: str) -> bool:
    """A cell no header holds: an email address, or a number, amount, phone or date."""
    return bool(_VALUE.fullmatch(text))


def _has_header(raw: pd.DataFrame, columns: Columns) -> bool:
    at = _header_row(raw, columns)
    if at is None:
        return False
    named = columns.match_headers([str(h).strip() for h in raw.loc[at].fillna("").tolist()])[0]
    return set(columns.required) <= set(named.values())


def _filled(columns: list[pd.Series]) -> np.ndarray:
    """Rows with at least one non-empty cell (Arrow-backed columns by their lengths)."""
    filled = np.zeros(len(columns[0]) if columns else 0, dtype=bool)
    for values in columns:
        if isinstance(values.array, pd.arrays.ArrowStringArray):
            filled |= pc.binary_length(pa.array(values.array)).to_numpy(zero_copy_only=False) > 0
        else:
            filled |= (values != "").to_numpy(dtype=bool)
    return filled


# what export.neutralise put in front of formula-like text: an apostrophe before one of these
_NEUTRALISED = "^'([" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_START) + "])"


def _unneutralised(values: pd.Series) -> pd.Series:
    """Undo :func:`rewards.export.neutralise` (a CSV has no other way to keep ``+44 ...`` from
    running as a formula): what it protected is validated as typed (the formula check still
    refuses ``=cmd`` in a name, and a phone keeps its ``+``)."""
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return values.str.replace(_NEUTRALISED, r"\1", regex=True)
    cells = pa.array(values.array)
    cells = cells if isinstance(cells, pa.ChunkedArray) else pa.chunked_array([cells])
    if not _edge_bytes_in(cells, _APOSTROPHE, None):  # the usual file: nothing to undo
        return values
    undone = pc.replace_substring_regex(cells, _NEUTRALISED, r"\1")
    return pd.Series(pd.arrays.ArrowStringArray(undone, dtype=STR), index=values.index)


def _trimmed(values: pd.Series) -> pd.Series:
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return values.str.strip()
    trimmed = pc.utf8_trim_whitespace(pa.array(values.array))
    return pd.Series(pd.arrays.ArrowStringArray(trimmed, dtype=STR), index=values.index)


QUOTE_CHARS = 40  # longest text quoted from a file in a message
QUOTE_COUNT = 10  # most texts listed


def _lacking(headers: list[str], mapping: dict[str, str], columns: Columns, row: int) -> str:
    """What the header row (spreadsheet row ``row``) lacks of ``columns``' required ones,
    what it holds and the headers that may be the missing ones, for a message ('' when it
    lacks nothing)."""
    missing = [c for c in columns.required if c not in mapping.values()]
    if not missing:
        return ""
    wanted = ", ".join(f"{c} ({columns.by_name[c].description})" for c in missing)
    return (
        f"missing required column(s) {wanted}. {_found(headers, mapping, columns.kind, row)}."
        f"{_closest(missing, headers, mapping, columns)}"
    )


def _found(headers: list[str], mapping: dict[str, str], kind: str, row: int) -> str:
    """What the header row held, for a message: its headers only when some are a recipient
    sheet's (anything else, a .env or a password file, is not quoted: messages land in logs
    and run states that others read; a cell that looks like a value, an email or a number, is
    not quoted either: a header holds none, a recipient's row does)."""
    filled = [h for h in headers if h]
    if not mapping:
        cells = f"{len(filled)} cell" + ("s" if len(filled) != 1 else "")
        article = "an" if kind[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"No column has {article} {kind} sheet's name (row {row} has {cells})"
    shown = [h for h in filled if not _looks_like_a_value(h)]
    values = len(filled) - len(shown)
    also = f" and {values} cell(s) that look like values, not headers" if values else ""
    return f"Columns found (row {row}): {_listed(shown)}{also}"


def _closest(
    missing: list[str], headers: list[str], mapping: dict[str, str], columns: Columns
) -> str:
    """' Did you mean ...?' for the missing columns a header of the file resembles (only in a
    recipient sheet: see :func:`_found`)."""
    if not mapping:
        return ""
    free = [h for h in headers if h and h not in mapping]
    told, said = "", []
    for c in missing:
        if len(both := columns.holding(c, free)) > 1:  # a guess between them is not made
            told += f" {' and '.join(map(_quoted, both[:3]))} could each be {c}: name one {c}."
        elif (h := columns.closest(c, free)) is not None:
            said.append(f"{_quoted(h)} for {c}")
    return told + (f" Did you mean {', '.join(said)}?" if said else "")


def _quoted(text: str) -> str:
    """Text from a file as a message shows it: repr'd (control characters escaped) and cut."""
    return repr(text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…")


def _listed(texts: list[str]) -> str:
    shown = ", ".join(_quoted(t) for t in texts[:QUOTE_COUNT])
    return shown + (f" and {len(texts) - QUOTE_COUNT} more" if len(texts) > QUOTE_COUNT else "")


def _refuse_unseen(
    unseen: Unseen,
    headers: list[str],
    mapping: dict[str, str],
    columns: Columns,
    cells: list[pd.Series],
    rows: np.ndarray,
    where: str,
) -> None:
    """A formula with no saved value in a column that is read, a hidden column that would be
    read, or a hidden row of recipients, is refused: what is sent is what a person looking at
    the sheet sees (a hidden "Amount" beside a visible "Revised Amount" was sent, and a row
    hidden to leave it out was paid). A column kept as written may hold such formulas: the
    report carries it as read."""
    if not unseen.hides_rows_or_columns():  # most workbooks
        return
    read = {i for i, h in enumerate(headers) if h in mapping}
    data = set(rows.tolist())
    refuse_unsaved_formulas(
        [ref for ref, col, row in unseen.unsaved if col in read and row in data], where
    )
    # merged over recipient rows: Excel shows the value across them, the file holds it in the
    # first cell only (the others were "delivery method is empty"); which rows it was meant
    # for is not guessed
    merged = [
        ref
        for ref, left, right, top, bottom in unseen.merged
        if read & set(range(left, right + 1)) and len(data & set(range(top, bottom + 1))) > 1
    ]
    if merged:
        raise InputError(
            f"{where}: merged cells {', '.join(merged[:QUOTE_COUNT])} span recipient rows, and "
            "only the first of them holds the value: unmerge them and fill in each row, then "
            "run it again; nothing was sent"
        )

    # hidden, and holding something that would be read: an empty hidden column (a template's
    # unused "Mobile") or a hidden note with no reward in it is no one's reward
    filled = [(c != "").to_numpy(dtype=bool) for c in cells]
    unseen_columns = [
        f"{_letters(i)} {_quoted(h)}"
        for i, h in enumerate(headers)
        if h in mapping and i in unseen.hidden_columns and filled[i].any()
    ]
    if unseen_columns:
        raise InputError(
            f"{where}: column(s) {', '.join(unseen_columns)} are hidden, and would be read "
            "unseen: unhide "
            "them, or delete them if another column holds what is meant, then run it again; "
            "nothing was sent"
        )
    required = [i for i, h in enumerate(headers) if mapping.get(h) in columns.required]
    rewarded = np.logical_or.reduce([filled[i] for i in required]) if required else filled[0]
    hidden = sorted(set(rows[rewarded].tolist()) & unseen.hidden_rows)

    if hidden:
        quoted = ", ".join(str(r) for r in hidden[:QUOTE_COUNT])
        more = f" and {len(hidden) - QUOTE_COUNT} more" if len(hidden) > QUOTE_COUNT else ""
        raise InputError(
            f"{where}: row(s) {quoted}{more} are hidden (or filtered out), and would be sent "
            "unseen: unhide them to send them, or delete them, then run it again; nothing was "
            "sent"
        )
    # struck through: an office's way of crossing a row out ("left the company"); which it
    # means, a row kept or a row dropped, is not guessed
    struck = set()
    for col, row in unseen.struck:
        at = int(np.searchsorted(rows, row))
        if col in read and at < len(rows) and rows[at] == row and filled[col][at]:
            struck.add(row)
    if struck:
        shown = sorted(struck)
        quoted = ", ".join(str(r) for r in shown[:QUOTE_COUNT])
        more = f" and {len(shown) - QUOTE_COUNT} more" if len(shown) > QUOTE_COUNT else ""
        raise InputError(
            f"{where}: row(s) {quoted}{more} are struck through: delete them if they are not "
            "meant, or clear the strikethrough to send them, then run it again; nothing was sent"
        )


def _letters(index: int) -> str:
    """A column's letters from its position (0: A, 26: AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
