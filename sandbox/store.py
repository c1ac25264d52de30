"""The sandbox's state in SQLite (WAL), so a restart loses nothing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_identifier TEXT PRIMARY KEY, display_name TEXT NOT NULL,
    status TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    account_identifier TEXT PRIMARY KEY, customer_identifier TEXT NOT NULL,
    account_number TEXT NOT NULL, display_name TEXT NOT NULL, currency_code TEXT NOT NULL,
    balance TEXT NOT NULL, contact_email TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
    funding_notification_json TEXT);
CREATE TABLE IF NOT EXISTS orders (
    reference_order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL,
    customer_identifier TEXT NOT NULL, account_identifier TEXT NOT NULL,
    external_ref_id TEXT NOT NULL, status TEXT NOT NULL, currency_code TEXT NOT NULL,
    campaign TEXT, notes TEXT, purchase_order_number TEXT, sender_json TEXT,
    entity_json TEXT NOT NULL, created_at TEXT NOT NULL, completed_at TEXT,
    UNIQUE (account_identifier, external_ref_id));
CREATE TABLE IF NOT EXISTS line_items (
    reference_line_item_id TEXT PRIMARY KEY, reference_order_id TEXT NOT NULL,
    seq INTEGER NOT NULL, external_ref_line_item_id TEXT, utid TEXT, reward_name TEXT,
    quantity INTEGER NOT NULL, amount TEXT NOT NULL, fee TEXT NOT NULL,
    charged TEXT NOT NULL, currency_code TEXT NOT NULL,
    delivery_method TEXT, recipient_json TEXT NOT NULL, shipping_method TEXT,
    status TEXT NOT NULL, delivery_status TEXT NOT NULL, scheduled_delivery_date TEXT,
    ready_at REAL, date_issued TEXT, credentials_json TEXT, errors_json TEXT,
    email_subject TEXT, message TEXT, line_item_note TEXT,
    reward_status TEXT, sender_json TEXT, campaign TEXT, purchase_order_number TEXT,
    order_notes TEXT, reissued_from TEXT, reissued_to TEXT, action_reason TEXT);
CREATE INDEX IF NOT EXISTS li_order ON line_items (reference_order_id, seq);
-- the lines fulfilment moves next. A scheduled line waits for its date: left out, or every
-- tick read each waiting line again. (An index on (status, ready_at) also led SQLite to
-- count an order's pending lines by reading every pending line: a big run's sandbox spent
-- its time on these two.)
DROP INDEX IF EXISTS li_ready;
CREATE INDEX IF NOT EXISTS li_due ON line_items (ready_at)
    WHERE status='PENDING' AND scheduled_delivery_date IS NULL;


CREATE TABLE IF NOT EXISTS webhooks (
    webhook_id TEXT PRIMARY KEY, url TEXT NOT NULL, headers_json TEXT NOT NULL,
    categories_json TEXT NOT NULL, event_types_json TEXT NOT NULL,
    verification TEXT NOT NULL, hmac_key TEXT, certificate TEXT, signing_key TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    revision INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL, event_type TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, state TEXT NOT NULL,
    last_status INTEGER);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS line_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, reference_line_item_id TEXT NOT NULL,
    action TEXT NOT NULL, reason_code TEXT NOT NULL, other_reason TEXT, at TEXT NOT NULL,
    new_reference_line_item_id TEXT);
CREATE INDEX IF NOT EXISTS actions_line ON line_actions (reference_line_item_id, id);
CREATE TABLE IF NOT EXISTS resends (
    id INTEGER PRIMARY KEY AUTOINCREMENT, reference_line_item_id TEXT NOT NULL,
    created_at TEXT NOT NULL, delivery_method TEXT NOT NULL, email TEXT, mobile_number TEXT,
    delivery_status TEXT NOT NULL, reason_code TEXT NOT NULL, other_reason TEXT);
CREATE INDEX IF NOT EXISTS resends_line ON resends (reference_line_item_id, id);
CREATE TABLE IF NOT EXISTS balance_alerts (
    alert_id TEXT PRIMARY KEY, customer_identifier TEXT NOT NULL,
    account_identifier TEXT NOT NULL, display_name TEXT NOT NULL, threshold TEXT NOT NULL,
    notification_json TEXT NOT NULL, created_at TEXT NOT NULL);
"""

# Columns added after a file may have been created: added to such a file when it is opened.
ADDED_COLUMNS = {
    "line_items": (
        "reward_status",
        "sender_json",
        "campaign",
        "purchase_order_number",
        "order_notes",
        "reissued_from",
        "reissued_to",
        "action_reason",
    ),
    "accounts": ("funding_notification_json",),
}


def insert(c: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    """Insert one row by column name; returns its rowid."""
    names = ", ".join(row)
    marks = ", ".join("?" * len(row))
    cur = c.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
    return int(cur.lastrowid or 0)


def update_given(
    c: sqlite3.Connection, table: str, key: str, ident: str, values: dict[str, Any]
) -> None:
    """Set the given columns of one row; ``None`` leaves a column as it is (a PATCH)."""
    given = {k: v for k, v in values.items() if v is not None}
    if given:
        sets = ", ".join(f"{k}=?" for k in given)
        c.execute(f"UPDATE {table} SET {sets} WHERE {key}=?", [*given.values(), ident])


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")


class Store:
    """One SQLite connection shared by the API threads and the workers, behind a lock.

    ``tx()`` is the only way in: it serialises writers, so the check for an existing
    ``externalRefID`` and the insert of a new order can never race.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        _add_missing_columns(self._conn)
        self._lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
