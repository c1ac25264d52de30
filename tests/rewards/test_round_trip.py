"""Fix-and-reupload: the rejected rows a run writes come back, once fixed, exactly as they
left, whatever the column (``rewards validate --out`` as a person uses it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deployments.cli import main

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "data/sandbox/catalog.json"
ROW = {  # every column, several starting as a formula would: kept, and valid, once fixed
    "First Name": "Ada",
    "Last Name": "Lovelace",
    "Email": "ada@example.com",
    "Mobile": "+44 7911 123456",
    "UTID": "U100001",
    "Amount": "abc",  # the one problem
    "Quantity": "1",
    "Delivery Method": "sms",
    "Delivery Date": "",
    "Message": "Thanks - from the team",
    "Email Subject": "Your reward",
    "Campaign": "q4",
    "Client Row Key": "-17",
    "Street Line 1": "",
    "City": "",
    "Postal Code": "",
    "Country": "GB",
    "Team": "+ops",
}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_fixed_rejected_row_comes_back_valid(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    for name in ("TANGO_BASE_URL", "TANGO_PLATFORM_NAME", "TANGO_PLATFORM_KEY"):
        monkeypatch.delenv(name, raising=False)
    source = tmp_path / "in.csv"
    pd.DataFrame([ROW]).to_csv(source, index=False)
    code = main(["validate", str(source), "--catalog", str(CATALOG), "--out", str(tmp_path / "o")])
    assert code == 1 and "amount" in capsys.readouterr().out
    rejected = tmp_path / "o" / f"rejected_rows.{kind}"
    if kind == "csv":
        frame = pd.read_csv(rejected, dtype=str, keep_default_na=False)
    else:
        frame = pd.read_excel(rejected, dtype=str, keep_default_na=False, engine="calamine")
    frame.loc[0, "amount"] = "25"  # the fix, in a spreadsheet program or pandas
    fixed = tmp_path / f"fixed.{kind}"
    frame.drop(columns=["row_number", "problems"]).pipe(
        lambda f: f.to_csv(fixed, index=False) if kind == "csv" else f.to_excel(fixed, index=False)
    )
    code = main(["validate", str(fixed), "--catalog", str(CATALOG), "--currency", "USD"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 rows, 1 valid, 0 rejected" in out
