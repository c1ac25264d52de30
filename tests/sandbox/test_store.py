"""The sandbox's SQLite file: a file written before columns were added still opens, gains
them, and keeps its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sandbox.store import ADDED_COLUMNS, Store


def test_a_file_from_before_gains_the_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE accounts (account_identifier TEXT PRIMARY KEY, customer_identifier TEXT "
            "NOT NULL, account_number TEXT NOT NULL, display_name TEXT NOT NULL, currency_code "
            "TEXT NOT NULL, balance TEXT NOT NULL, contact_email TEXT, status TEXT NOT NULL, "
            "created_at TEXT NOT NULL)"
        )
        old.execute(
            "INSERT INTO accounts VALUES ('old-usd', 'old-cust', 'A1', 'Old', 'USD', '12.50', "
            "NULL, 'ACTIVE', '2026-01-01T00:00:00Z')"
        )
    store = Store(path)
    with store.tx() as c:
        for table, columns in ADDED_COLUMNS.items():
            have = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
            assert set(columns) <= have, table
        assert c.execute("SELECT balance FROM accounts").fetchone()[0] == "12.50"
    store.close()
