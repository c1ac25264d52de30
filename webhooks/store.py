"""Append-only record of every accepted webhook, kept before Tango hears 200.

``events`` holds each event once (by ``eventId``); ``orders`` the highest revision seen per
order. An event is marked to emit only when it moves its order forward, and stays unemitted
until Prefect has taken it, so an outage of Prefect loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from raas.webhooks import AsyncOrderStatusEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, external_ref_id TEXT NOT NULL,
    status TEXT NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL,
    to_emit INTEGER NOT NULL, emitted_at TEXT);
CREATE INDEX IF NOT EXISTS events_pending ON events (to_emit, emitted_at);
CREATE TABLE IF NOT EXISTS orders (
    external_ref_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, status TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Accepted:
    duplicate: bool  # this eventId was stored before
    advanced: bool  # it moved its order to a higher revision (and will be emitted)


class EventStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def accept(self, event: AsyncOrderStatusEvent, body: dict[str, Any]) -> Accepted:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                if c.execute("SELECT 1 FROM events WHERE event_id=?", (event.eventId,)).fetchone():
                    c.execute("COMMIT")
                    return Accepted(duplicate=True, advanced=False)
                row = c.execute(
                    "SELECT revision FROM orders WHERE external_ref_id=?", (event.externalRefID,)
                ).fetchone()
                advanced = row is None or event.revision > row["revision"]
                if advanced:
                    c.execute(
                        "INSERT INTO orders VALUES (?,?,?) ON CONFLICT(external_ref_id) DO "
                        "UPDATE SET revision=excluded.revision, status=excluded.status",
                        (event.externalRefID, event.revision, event.status),
                    )
                c.execute(
                    "INSERT INTO events VALUES (?,?,?,?,?,?,?,NULL)",
                    (
                        event.eventId,
                        event.revision,
                        event.externalRefID,
                        event.status,
                        json.dumps(body),
                        datetime.now(UTC).isoformat(),
                        int(advanced),
                    ),
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return Accepted(duplicate=False, advanced=advanced)

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, body FROM events WHERE to_emit=1 AND emitted_at IS NULL "
                "ORDER BY received_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [{"event_id": r["event_id"], "body": json.loads(r["body"])} for r in rows]

    def mark_emitted(self, event_ids: list[str]) -> None:
        stamp = datetime.now(UTC).isoformat()
        with self._lock:
            self._conn.executemany(
                "UPDATE events SET emitted_at=? WHERE event_id=?", [(stamp, e) for e in event_ids]
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) AS stored, SUM(to_emit) AS to_emit, "
                "SUM(emitted_at IS NOT NULL) AS emitted FROM events"
            ).fetchone()
        return {k: int(row[k] or 0) for k in ("stored", "to_emit", "emitted")}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
