"""Files a person opens: report and rejected rows as CSV and XLSX, formulas neutralised."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# what a spreadsheet runs as a formula: these first (fullwidth forms too), or a tab or line
# break before them
FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r", "\n")
EXCEL_MAX_ROWS = 1_048_575
XLSX_MAX_ROWS = 50_000  # ~10 s to write on a small machine; larger reports get the CSV only


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text a spreadsheet would execute (FORMULA_START at the start)."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if (
            values.dtype == object
            or pd.api.types.is_string_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)
        ):
            text = values.astype("str").where(values.notna(), "")
            risky = text.str.startswith(FORMULA_START)
            out[col] = text.where(~risky, "'" + text)
    return out


def write_table(
    frame: pd.DataFrame, folder: Path, stem: str, xlsx_max_rows: int = XLSX_MAX_ROWS
) -> list[Path]:
    """``stem.csv`` always, ``stem.xlsx`` too up to ``xlsx_max_rows`` rows (a workbook is
    for reading; beyond that the CSV is the file to use)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = neutralise(frame)
    csv_path = folder / f"{stem}.csv"
    safe.to_csv(csv_path, index=False)
    written = [csv_path]
    if len(safe) <= min(xlsx_max_rows, EXCEL_MAX_ROWS):
        written.append(_write_xlsx(safe, folder / f"{stem}.xlsx"))
    return written


def _write_xlsx(frame: pd.DataFrame, path: Path) -> Path:
    """Straight through xlsxwriter, row by row in constant memory: about three times as fast
    as ``DataFrame.to_excel``; text stays text (no formulas, links or numbers guessed)."""
    import xlsxwriter

    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(str(path), options) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, [str(c) for c in frame.columns])
        numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
        for r, row in enumerate(frame.itertuples(index=False, name=None), start=1):
            for c, value in enumerate(row):
                if value is None or value is pd.NA or value != value:  # None / NaN / NA
                    continue
                if numeric[c]:
                    sheet.write_number(r, c, float(value))
                else:
                    sheet.write_string(r, c, str(value))
    return path


def mask_email(email: object) -> str:
    text = "" if email is None or email != email else str(email)
    if "@" not in text:
        return text
    local, _, domain = text.partition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain
