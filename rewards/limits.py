"""How much a spreadsheet may hold, checked before the expensive work.

Every limit is a setting (``REWARDS_MAX_*``); every refusal is one :class:`InputError` line
that names the file, what was found and the setting that raises the limit, and quotes
nothing from the file. The defaults take the 1,000,000-row file of the benchmarks and keep
any input under about 2 GiB of memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import InputError

COUNT_BLOCK = 1 << 24  # bytes compared at a time when counting lines (bounded scratch memory)


class ReadLimits(BaseSettings):
    """Per installation, from the environment (``REWARDS_MAX_*``)."""

    model_config = SettingsConfigDict(env_prefix="REWARDS_", extra="ignore")

    max_file_bytes: int = Field(
        256 << 20, ge=1, description="largest spreadsheet file read, in bytes"
    )
    max_rows: int = Field(
        1_048_576, ge=1, description="most recipient rows (lines, for a CSV) in one file"
    )
    max_columns: int = Field(1_024, ge=1, description="most columns in one file")
    max_cells: int = Field(
        25_000_000, ge=1, description="most cells (rows x columns) in one CSV file"
    )
    max_cell_chars: int = Field(
        32_767, ge=1, description="longest cell, in characters (Excel's own limit)"
    )
    max_xlsx_uncompressed_bytes: int = Field(
        256 << 20,
        ge=1,
        description="most bytes an XLSX unpacks to, each shared string counted in every "
        "cell that uses it",
    )
    max_xlsx_cells: int = Field(
        6_000_000,
        ge=1,
        description="largest used range (rows x columns, from A1) of an XLSX sheet; the "
        "workbook reader holds it densely",
    )


def too_much(name: str, found: str, limit: int, unit: str, setting: str) -> InputError:
    """The one-line refusal every limit gives."""
    return InputError(
        f"{name}: {found}, more than the {limit:,} {unit} allowed; split the file, or raise "
        f"REWARDS_{setting.upper()} if it is meant"
    )


# --- the file itself ----------------------------------------------------------------------


def open_regular(path: Path, limits: ReadLimits) -> BinaryIO:
    """The file opened for reading, once it is known to be a regular file within the size
    limit. Opened non-blocking, so a FIFO does not wait for a writer; what was opened is then
    checked with fstat (a device, FIFO or socket never gets read)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path.name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path.name}: cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path}: is a folder, not a spreadsheet")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{path.name}: not a regular file (a device, pipe or socket); "
                "save the spreadsheet as a file"
            )
        if info.st_size > limits.max_file_bytes:
            raise too_much(
                path.name,
                f"the file is {info.st_size:,} bytes",
                limits.max_file_bytes,
                "bytes",
                "max_file_bytes",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# --- CSV, before parsing ------------------------------------------------------------------


def count_lines(data: pa.Buffer | bytes | memoryview) -> int:
    """Lines in the text (LF, or CR for old Mac files), counted in blocks: a quoted line
    break counts too, so this bounds the rows from above."""
    view = np.frombuffer(data, dtype=np.uint8)
    newline = 10 if view[: 1 << 16].tobytes().find(b"\n") >= 0 or not len(view) else 13
    lines = sum(
        int(np.count_nonzero(view[i : i + COUNT_BLOCK] == newline))
        for i in range(0, len(view), COUNT_BLOCK)
    )
    return lines + int(bool(len(view)) and view[-1] != newline)


def check_csv_shape(data: pa.Buffer | bytes, columns: int, name: str, limits: ReadLimits) -> None:
    """Rows, columns and cells of a CSV about to be parsed (``data`` from its header on)."""
    if columns > limits.max_columns:
        raise too_much(
            name,
            f"the header has {columns:,} columns",
            limits.max_columns,
            "columns",
            "max_columns",
        )
    rows = count_lines(data) - 1
    if rows > limits.max_rows:
        raise too_much(name, f"it has {rows:,} lines", limits.max_rows, "rows", "max_rows")
    if rows * columns > limits.max_cells:
        raise too_much(
            name,
            f"{rows:,} lines x {columns:,} columns make {rows * columns:,} cells",
            limits.max_cells,
            "cells",
            "max_cells",
        )


# --- any sheet, once read -------------------------------------------------------------------


def check_cell_length(raw: pd.DataFrame, first_row: int, name: str, limits: ReadLimits) -> None:
    """No cell longer than ``max_cell_chars``; its row and column are named, not its text.
    Byte lengths first (a byte count bounds the characters): only a column that has a long
    cell has its characters counted."""
    limit = limits.max_cell_chars
    for position, (_, values) in enumerate(raw.items()):
        text = _arrow_text(values)
        if not len(text) or (pc.max(pc.binary_length(text)).as_py() or 0) <= limit:
            continue
        chars = pc.utf8_length(text)
        longest = pc.max(chars).as_py() or 0
        if longest > limit:
            at = int(pc.index(chars, longest).as_py())
            raise too_much(
                name,
                f"the cell in row {first_row + at}, column {position + 1} has "
                f"{longest:,} characters",
                limit,
                "characters",
                "max_cell_chars",
            )


def _arrow_text(values: pd.Series) -> pa.ChunkedArray:
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        values = values.astype(str)
    text = pa.array(values.array)
    return text if isinstance(text, pa.ChunkedArray) else pa.chunked_array([text])
