"""Files a person opens: report and rejected rows as CSV and XLSX, formulas neutralised; and
the same rows as tables on the run's page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from raas import rules

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


def report_folder(root: Path, batch: str, *, dry_run: bool = False) -> Path:
    """A new folder for a run's report: the batch's own for its first report; for a dry run
    or a later run of the same batch (a retry, or the same rewards from another file, with
    its own rows and row numbers) a folder of its own, so no report replaces another."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    if dry_run:
        folder = root / f"dry-run-{batch}-{stamp}"
    else:
        try:
            (root / batch).mkdir(parents=True)  # atomic: one run gets the batch's own
            return root / batch
        except FileExistsError:
            folder = root / f"{batch}-{stamp}"
    folder.mkdir(parents=True)
    return folder


def latest_report(root: Path, batch: str) -> Path | None:
    """The batch's newest report folder (see :func:`report_folder`), or the folder of that
    name; None when there is none."""
    later = sorted(p for p in root.glob(f"{batch}-[0-9]*T*") if p.is_dir())
    found = [p for p in (root / batch, *later) if p.is_dir()]
    return found[-1] if found else None


def table_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as the rows of a table on the run's page: text shown as text. A web page
    executes nothing, so no apostrophe in front of ``+1 415...`` (only files get
    :func:`neutralise`); missing values are blank."""
    rows: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), "").to_dict("records")
    return rows


def write_table(
    frame: pd.DataFrame, folder: Path, stem: str, xlsx_max_rows: int = XLSX_MAX_ROWS
) -> list[Path]:
    """``stem.csv`` always, ``stem.xlsx`` too up to ``xlsx_max_rows`` rows (a workbook is
    for reading; beyond that the CSV is the file to use). The CSV's formula-like cells are
    neutralised (the reader undoes it, so a fixed file can come back); the workbook's are
    text cells, which no spreadsheet runs, and stay as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"{stem}.csv"
    neutralise(frame).to_csv(csv_path, index=False)
    written = [csv_path]
    if len(frame) <= min(xlsx_max_rows, EXCEL_MAX_ROWS):
        written.append(_write_xlsx(frame, folder / f"{stem}.xlsx"))
    else:
        (folder / f"{stem}.xlsx").unlink(missing_ok=True)  # an earlier run's, out of date
    return written


def write_if_any(frame: pd.DataFrame, folder: Path, stem: str) -> list[Path]:
    """:func:`write_table` for a table that may be empty: none written, and an earlier run's
    removed (a failed_deliveries.csv left from before its lines were fixed would resend them
    to the addresses that bounced)."""
    if len(frame):
        return write_table(frame, folder, stem)
    for suffix in (".csv", ".xlsx"):
        (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    return []


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
        sheet = book.add_worksheet(path.stem.replace("_", " ")[:31])  # "failed deliveries"

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


def mask_phone(number: object) -> str:
    """``+447700900123`` -> ``+44*******23``: enough to recognise, not to dial."""
    text = "" if number is None or number != number else str(number)
    return text[:3] + "*" * max(len(text) - 5, 0) + text[-2:] if len(text) > 5 else text


def masked_contact(method: str | None, email: object, phone: object) -> str:
    """The contact a reward went to by ``method``, masked: the number for a text or a
    WhatsApp message (the email beside it was not used), else the email."""
    if (method or "").upper() in ("PHONE", "WHATSAPP") and phone:
        return mask_phone(phone)
    if email:
        return mask_email(email)
    return mask_phone(phone) if phone else "no contact"


RESULT_COLUMNS = [
    "row_number",
    "outcome",
    "name",
    "delivery_method",
    "contact",
    "utid",
    "amount_requested",
    "amount_charged",
    "currency",
    "line_item_status",
    "delivery_status",
    "scheduled_delivery_date",
    "after_sending",
    "external_ref_id",
    "reference_line_item_id",
    "reason",
]


def who_got_what(report: pd.DataFrame) -> pd.DataFrame:
    """The report as a person reads it on the run's page: the recipient's name and masked
    contact beside the reward, its status, the order and line ids and the delivery date."""
    view = report.copy()
    first = view["first_name"].fillna("").astype("str")
    view["name"] = (first + " " + view["last_name"].fillna("").astype("str")).str.strip()
    method = view["delivery_method"].fillna("").astype("str").str.upper()
    by_email = rules.methods_needing("recipient.email")
    by_phone = rules.methods_needing("recipient.mobileNumber")
    view["contact"] = [
        mask_email(email) if m in by_email else mask_phone(phone) if m in by_phone else ""
        for m, email, phone in zip(method, view["email"], view["mobile_number"], strict=True)
    ]
    return view[RESULT_COLUMNS]


FAILED_DELIVERY_OUTCOMES = ("failed",)  # at Tango, its delivery failed: a resend can fix it
RESEND_REASON = "DELIVERY_INFO"  # Tango's resend reason for "the contact was wrong"


def failed_deliveries(report: pd.DataFrame) -> pd.DataFrame:
    """The rows whose delivery failed at Tango, as an actions file (:mod:`rewards.actions`):
    ``resend`` of the line, the old contact beside a blank ``new_email`` /
    ``new_mobile_number`` to type the right one in (left blank, the reward goes to the old
    contact again), the reason code filled in. Uploaded back, it starts manage-rewards. Rows
    Tango refused when the order was placed never became lines: the original file fixes them."""
    failed = report[
        report["outcome"].isin(FAILED_DELIVERY_OUTCOMES)
        & report["reference_line_item_id"].fillna("").astype("str").ne("")
    ]
    return pd.DataFrame(
        {
            "action": "resend",
            "line_id": failed["reference_line_item_id"],
            "external_ref_line_item_id": failed["external_ref_line_item_id"],
            "first_name": failed["first_name"],
            "last_name": failed["last_name"],
            "delivery_method": failed["delivery_method"],
            "email": failed["email"],
            "new_email": "",
            "mobile_number": failed["mobile_number"],
            "new_mobile_number": "",
            "reason_code": RESEND_REASON,
            "other_reason": "",
            "why_it_failed": failed["reason"],
            "recipients_row": failed["row_number"],
        }
    )
