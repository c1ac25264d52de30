"""Files a person opens keep text a spreadsheet would run from running: a quote first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rewards.export import neutralise, write_table


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1)",
        "\uff1d1+1",
        "\uff20cmd",
        "\t=1",
        "\r=1",
        "\n=1",
    ],
)
def test_formula_looking_text_is_quoted(value: str) -> None:
    assert neutralise(pd.DataFrame({"x": [value]})).loc[0, "x"] == "'" + value


def test_other_text_numbers_and_categoricals(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": ["Ann", "=bad"],
            "n": [1, -2],
            "reason": pd.Categorical(["ok", "@risky"]),
        }
    )
    safe = neutralise(frame)
    assert safe["name"].tolist() == ["Ann", "'=bad"] and safe["n"].tolist() == [1, -2]
    assert safe["reason"].tolist() == ["ok", "'@risky"]
    csv_path, xlsx_path = write_table(frame, tmp_path, "t")
    assert "'=bad" in csv_path.read_text() and xlsx_path.exists()
