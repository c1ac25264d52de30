"""Flow tests: one Prefect test harness for the session, the session's sandbox over HTTP,
and a fresh ledger and report folder per test."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "UTID",
    "Amount",
    "Delivery Method",
    "Campaign",
    "Team",
]


def recipients(campaign: str, n: int, *, start: int = 0, **over: str) -> list[dict[str, str]]:
    rows = []
    for i in range(start, start + n):
        row = {
            "First Name": f"Person{i}",
            "Last Name": "Test",
            "Email": f"p{i}@example.com",
            "Phone": "",
            "UTID": "U100001",
            "Amount": "5.00",
            "Delivery Method": "email",
            "Campaign": campaign,
            "Team": f"team-{i % 3}",
        }
        row.update(over)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header or HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path
