"""What reading an XLSX sheet would cost, found before the workbook reader runs.

calamine builds a dense grid over every cell that holds a value (32 bytes a cell: cells at
A1 and XFD1048576 ask for 512 GiB and abort the process) and copies each shared string into
every cell that uses it (one long string used a million times). Neither can be stopped once
it runs, so first: the ZIP's directory is sized, every part is inflated with its bytes
counted as they come (a directory that lies about sizes fails zipfile's CRC check), the
chosen sheet's extent is found from its cell references, and the text its shared strings
expand to is added up. Each check refuses with one line (:func:`limits.too_much`).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree import ElementTree

import numpy as np

from .errors import InputError
from .limits import ReadLimits, too_much

WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
SHARED_STRINGS = "xl/sharedStrings.xml"
MAX_DIRECTORY_BYTES = 1 << 20  # ~10,000 parts: a workbook's directory is a few KB
MAX_PART_BYTES = 8 << 20  # workbook.xml and its relationships, parsed as trees
INFLATE_BLOCK = 1 << 20
FIND_BLOCK = 1 << 24  # 16-bit words compared at a time (bounded scratch memory)
NAME_BYTE = np.zeros(256, dtype=bool)  # bytes that continue an element's name
NAME_BYTE[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")] = True
HUGE = 10**12  # a reference with more letters or digits than any sheet has


@dataclass(frozen=True)
class Extent:
    """The grid the reader will build, from A1: the last row and column holding a cell."""

    rows: int
    columns: int
    cells: int  # cells written (with a value or not)


def check_workbook(fh: BinaryIO, name: str, sheet_name: str | None, limits: ReadLimits) -> None:
    """Refuse the workbook if reading ``sheet_name`` (default: the first sheet) would exceed
    a limit. A file that is not a ZIP is left to the reader, which says what it is."""
    _check_directory(fh, name)
    fh.seek(0)
    try:
        book = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        return
    with book:
        budget = limits.max_xlsx_uncompressed_bytes
        declared = sum(info.file_size for info in book.infolist())
        if declared > budget:
            raise _unpacks(name, f"the workbook unpacks to {declared:,} bytes", budget)
        parts = sheet_parts(book, name, sheet_name)
        kept = _inflate_all(book, name, budget, keep={*parts, SHARED_STRINGS})
    shared = _string_spans(kept.get(SHARED_STRINGS, b""))
    for part in parts:
        xml = kept.get(part, b"")
        extent = _extent(xml, name)
        _check_extent(extent, name, limits)
        text = len(xml) + _shared_text(xml, extent.cells, shared, budget - len(xml))
        if text > budget:
            raise _unpacks(
                name,
                f"the sheet's text comes to {text:,} bytes (shared strings counted in every "
                "cell that uses them)",
                budget,
            )


def _unpacks(name: str, found: str, budget: int) -> InputError:
    return too_much(name, found, budget, "bytes", "max_xlsx_uncompressed_bytes")


def _check_extent(extent: Extent, name: str, limits: ReadLimits) -> None:
    span = f"the sheet spans {extent.rows:,} rows x {extent.columns:,} columns from A1"
    if extent.rows - 1 > limits.max_rows:
        raise too_much(name, span, limits.max_rows, "rows", "max_rows")
    if extent.columns > limits.max_columns:
        raise too_much(name, span, limits.max_columns, "columns", "max_columns")
    if extent.rows * extent.columns > limits.max_xlsx_cells:
        raise too_much(
            name,
            f"{span} ({extent.rows * extent.columns:,} cells; a stray cell far from the data "
            "counts too)",
            limits.max_xlsx_cells,
            "cells",
            "max_xlsx_cells",
        )


# --- the ZIP --------------------------------------------------------------------------------


def _check_directory(fh: BinaryIO, name: str) -> None:
    """The central directory's size, from the end record, before zipfile builds an object
    per entry (millions of empty entries fit in a file within the size limit)."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - (1 << 16) - 22))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 16:
        return
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    if directory > MAX_DIRECTORY_BYTES:
        raise InputError(
            f"{name}: the workbook's directory is {directory:,} bytes (thousands of parts); "
            "this is not a workbook Excel writes: save it again from Excel or as CSV"
        )


def _inflate_all(book: zipfile.ZipFile, name: str, budget: int, keep: set[str]) -> dict[str, bytes]:
    """Inflate every part (the reader may open any of them), counting bytes as they come
    out; return the parts in ``keep``."""
    kept: dict[str, bytes] = {}
    total = 0
    for info in book.infolist():
        blocks: list[bytes] = []
        try:
            with book.open(info) as part:
                while block := part.read(INFLATE_BLOCK):
                    total += len(block)
                    if total > budget:
                        raise _unpacks(
                            name, f"the workbook unpacks to more than {budget:,} bytes", budget
                        )
                    if info.filename in keep:
                        blocks.append(block)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
            raise InputError(
                f"{name}: the workbook is damaged ({type(exc).__name__}); save it again from "
                "Excel, or export it as CSV"
            ) from None
        if info.filename in keep:
            kept[info.filename] = b"".join(blocks)
    return kept


def sheet_parts(book: zipfile.ZipFile, name: str, sheet_name: str | None) -> list[str]:
    """The part holding the sheet the reader will open; every worksheet when that cannot be
    told (the reader then fails on its own, or reads one of them)."""
    everything = [n for n in book.namelist() if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
    try:
        workbook = ElementTree.fromstring(small_part(book, WORKBOOK, name))
        rels = ElementTree.fromstring(small_part(book, WORKBOOK_RELS, name))
    except (KeyError, ElementTree.ParseError):
        return everything
    sheets = [
        (el.get("name"), next((v for k, v in el.attrib.items() if k.endswith("}id")), None))
        for el in workbook.iter()
        if el.tag.rpartition("}")[2] == "sheet"
    ]
    chosen = next((s for s in sheets if s[0] == sheet_name), None) if sheet_name else None
    if not sheet_name and sheets:
        chosen = sheets[0]
    targets = {
        el.get("Id"): el.get("Target", "")
        for el in rels.iter()
        if el.tag.rpartition("}")[2] == "Relationship"
    }
    target = targets.get(chosen[1]) if chosen else None
    if not target:
        return everything
    if target.startswith("/"):
        return [target.lstrip("/")]
    return [posixpath.normpath(posixpath.join("xl", target))]


def small_part(book: zipfile.ZipFile, part: str, name: str) -> bytes:
    if book.getinfo(part).file_size > MAX_PART_BYTES:
        raise InputError(f"{name}: the workbook's {part} is too large to be a workbook's")
    with book.open(part) as fh:
        data = fh.read(MAX_PART_BYTES + 1)
    if len(data) > MAX_PART_BYTES:
        raise InputError(f"{name}: the workbook's {part} is too large to be a workbook's")
    return data


# --- the sheet's extent -----------------------------------------------------------------------


def _extent(xml: bytes, name: str) -> Extent:
    """From each cell's reference (``<c r="B7" ...>``), read as calamine reads it. Sheets
    whose cells are written otherwise (no ``r``, other attribute order or quotes) are parsed
    element by element instead."""
    tag = b"<" + _prefix(xml) + b"c"
    starts = _find(xml, tag)
    at = starts + len(tag)
    at = at[~NAME_BYTE[_windows(xml, at, 4)[:, 0]]]  # cells, not <col, <cfRule...
    if not len(at):
        return Extent(0, 0, 0)
    if not (_windows(xml, at, 4) == np.frombuffer(b' r="', np.uint8)).all():
        return _extent_by_parsing(xml, name)
    rows, columns = _references(xml, at + 4)
    return Extent(int(rows.max()), int(columns.max()), len(at))


def _references(data: bytes, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column), 1-based, of the references starting at offsets ``at`` (``XFD1048576"``),
    parsed all at once: letters in either case (as calamine takes them), then digits. More
    letters or digits than any sheet has make HUGE."""
    column, letters, too_long = _run(_windows(data, at, 4) | 0x20, ord("a"), 26)
    column[too_long] = HUGE
    row, _, too_long = _run(_windows(data, at + letters, 8), ord("0"), 10)
    row[too_long] = HUGE
    return row, column


def _run(chars: np.ndarray, first: int, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's leading run of ``base`` symbols from byte ``first`` read as a number
    (bijective base 26 for column letters: A=1, Z=26, AA=27), the run's length, and whether
    the run fills the whole row (longer than a sheet allows)."""
    offset = 1 if base == 26 else 0
    value = np.zeros(len(chars), dtype=np.int32)  # eight digits or four letters fit
    length = np.zeros(len(chars), dtype=np.int32)
    live = np.ones(len(chars), dtype=bool)
    for position in np.ascontiguousarray(chars.T):
        symbol = position.astype(np.int32) - first
        live &= (symbol >= 0) & (symbol < base)
        value = np.where(live, value * base + symbol + offset, value)
        length += live
    return value.astype(np.int64), length, live


def _extent_by_parsing(xml: bytes, name: str) -> Extent:
    """calamine's rule element by element: a cell's ``r`` places it and moves the column;
    a cell without one takes the next column; a row's ``r`` sets the row."""
    row = column = last_row = last_column = cells = 0
    try:
        for event, el in ElementTree.iterparse(io.BytesIO(xml), events=("start", "end")):
            local = el.tag.rpartition("}")[2]
            if local == "row" and event == "start" and (r := el.get("r", "")).isdigit():
                row = int(r) - 1
            elif local == "row" and event == "end":
                row, column = row + 1, 0
                el.clear()
            elif local == "c" and event == "start":
                here = row
                if ref := el.get("r"):
                    rows, columns = _references(ref.encode(), np.zeros(1, dtype=np.int64))
                    here, column = int(rows[0]) - 1, int(columns[0]) - 1
                last_row, last_column = max(last_row, here + 1), max(last_column, column + 1)
                column, cells = column + 1, cells + 1
    except ElementTree.ParseError:
        raise InputError(
            f"{name}: the sheet's XML is malformed; save it again from Excel, or as CSV"
        ) from None
    return Extent(last_row, last_column, cells)


# --- shared strings ---------------------------------------------------------------------------


def _string_spans(shared: bytes) -> np.ndarray:
    """Each shared string's stretch of XML, in bytes: more than its text takes."""
    if not shared:
        return np.zeros(0, dtype=np.int64)
    tag = b"<" + _prefix(shared, b"sst") + b"si"
    starts = _find(shared, tag)
    starts = starts[~NAME_BYTE[_windows(shared, starts + len(tag), 1)[:, 0]]]
    return np.diff(np.append(starts, len(shared))).astype(np.int64)


def _shared_text(xml: bytes, cells: int, spans: np.ndarray, budget: int) -> int:
    """Bytes the shared strings add when copied into the cells that use them: at most every
    cell times the longest string; counted exactly when that bound is over the budget."""
    if not len(spans):
        return 0
    bound = cells * int(spans.max())
    if bound <= budget:
        return bound
    prefix = _prefix(xml)
    v = re.escape(prefix) + rb"v"
    used = re.findall(rb'\st="s"><' + v + rb">(\d{1,10})</" + v + rb">", xml)
    marked = len(re.findall(rb"""\st\s*=\s*["']s["']""", xml))
    if marked != len(used):  # written some other way: the bound stands
        return bound
    index = np.array(used, dtype="S10").astype(np.int64)
    return int(spans[index[index < len(spans)]].sum())


# --- bytes --------------------------------------------------------------------------------------


def _prefix(xml: bytes, root: bytes = b"worksheet") -> bytes:
    """The namespace prefix the part's elements carry (``x:`` in ``<x:worksheet>``), if any."""
    found = re.search(rb"<([A-Za-z_][\w.-]*:)?" + root + rb"[\s>]", xml[: 1 << 16])
    return found.group(1) or b"" if found else b""


def _find(data: bytes, needle: bytes) -> np.ndarray:
    """Every offset of ``needle`` in ``data``: its first two bytes compared as 16-bit words at
    both alignments, block by block; the rest checked at those offsets only."""
    head = np.frombuffer(needle[:2], dtype="<u2")[0]
    found = []
    for align in (0, 1):
        words = np.frombuffer(data, dtype="<u2", count=(len(data) - align) // 2, offset=align)
        for start in range(0, len(words), FIND_BLOCK):
            hits = np.flatnonzero(words[start : start + FIND_BLOCK] == head)
            found.append((hits + start) * 2 + align)
    at = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if len(needle) > 2:
        rest = np.frombuffer(needle[2:], np.uint8)
        at = at[(_windows(data, at + 2, len(rest)) == rest).all(axis=1)]
    return at


def _windows(data: bytes, at: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each offset in ``at`` (zeros past the end), one row each."""
    raw = np.frombuffer(data, np.uint8)
    if not len(at) or at.max() <= len(raw) - width:  # the usual case: none near the end
        windows: np.ndarray = np.lib.stride_tricks.sliding_window_view(raw, width)[at]
        return windows

    out = np.zeros((len(at), width), dtype=np.uint8)
    inside = at <= len(raw) - width
    if inside.any():
        out[inside] = np.lib.stride_tricks.sliding_window_view(raw, width)[at[inside]]
    if not inside.all():  # the last few offsets: from a padded copy of the end
        base = max(len(raw) - width, 0)
        tail = np.concatenate([raw[base:], np.zeros(width, dtype=np.uint8)])
        out[~inside] = np.lib.stride_tricks.sliding_window_view(tail, width)[at[~inside] - base]
    return out
