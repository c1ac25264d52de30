"""Files a person opens: report and rejected rows as CSV and XLSX, formulas neutralised."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_ROWS = 1_048_575


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text a spreadsheet would execute (=, +, -, @ at the start)."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.astype("str").where(values.notna(), "")
            risky = text.str.startswith(FORMULA_START)
            out[col] = text.where(~risky, "'" + text)
    return out


def write_table(frame: pd.DataFrame, folder: Path, stem: str) -> list[Path]:
    """``stem.csv`` always, ``stem.xlsx`` while it fits in a sheet."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = neutralise(frame)
    csv_path = folder / f"{stem}.csv"
    safe.to_csv(csv_path, index=False)
    written = [csv_path]
    if len(safe) <= EXCEL_MAX_ROWS:
        xlsx_path = folder / f"{stem}.xlsx"
        safe.to_excel(xlsx_path, index=False, engine="openpyxl")
        written.append(xlsx_path)
    return written


def mask_email(email: object) -> str:
    text = "" if email is None or email != email else str(email)
    if "@" not in text:
        return text
    local, _, domain = text.partition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain
