"""Webhook events: which subscriptions hear an event, and how one is recorded (with a revision)
and queued for delivery. Everything here runs inside the caller's transaction, so an event
exists exactly when the change it announces was committed."""

from __future__ import annotations

import json
import time
import uuid
from sqlite3 import Connection, Row
from typing import Any

from .faults import FaultInjector
from .wire import now_iso

EVENT_CATEGORIES: dict[str, list[str]] = {
    "orders": ["AsyncOrderStatus", "LineItemDeliveryStatus"],
    "rewards": ["RewardStatus", "CredentialStatus"],
    "accounts": ["AccountStatus", "LowBalance", "Transaction"],
    "catalog": ["ItemAvailability", "ExchangeRatesStatus"],
    "connectivity": ["ConnectivityTest"],
}
CATEGORY_OF = {t: c for c, types in EVENT_CATEGORIES.items() for t in types}
ORDER_EVENT_STATUS = {"COMPLETE": "SUCCESSFUL", "PARTIAL": "PARTIALFAILED", "FAILED": "FAILED"}


class Events:
    def __init__(self, dice: FaultInjector) -> None:
        self.dice = dice

    def subscribers(self, c: Connection, event_type: str) -> list[Row]:
        now = now_iso()
        out = []
        for row in c.execute("SELECT * FROM webhooks WHERE expires_at > ?", (now,)).fetchall():
            types = json.loads(row["event_types_json"])
            cats = json.loads(row["categories_json"])
            if event_type in types or CATEGORY_OF.get(event_type) in cats:
                out.append(row)
        return out

    def insert(self, c: Connection, webhook_id: str, event_type: str, data: dict[str, Any]) -> None:
        """Record one event for one subscription and queue its delivery (after a random delay
        when the reorder fault is on)."""
        event_id = str(uuid.uuid4())
        cur = c.execute(
            "INSERT INTO events (event_id, webhook_id, event_type, body) VALUES (?,?,?,'{}')",
            (event_id, webhook_id, event_type),
        )
        revision = cur.lastrowid
        body = {
            "eventId": event_id,
            "revision": revision,
            "eventType": event_type,
            "categories": [CATEGORY_OF.get(event_type, "connectivity")],
            "eventOccurredAt": now_iso(),
            "eventData": data,
        }
        c.execute("UPDATE events SET body=? WHERE revision=?", (json.dumps(body), revision))
        delay = self.dice.uniform(self.dice.faults.webhook_reorder_window_s)
        c.execute(
            "INSERT INTO deliveries (revision, next_at, state) VALUES (?,?,'pending')",
            (revision, time.time() + delay),
        )

    def order_status(self, c: Connection, ref_order: str) -> None:
        """``AsyncOrderStatus`` for the order as it stands, to every subscriber."""
        row = c.execute("SELECT * FROM orders WHERE reference_order_id=?", (ref_order,)).fetchone()
        counts = dict(
            c.execute(
                "SELECT status, COUNT(*) FROM line_items WHERE reference_order_id=? "
                "GROUP BY status",
                (ref_order,),
            ).fetchall()
        )
        total = sum(counts.values())
        failed = counts.get("FAILED", 0) + counts.get("CANCELLED", 0)
        data = {
            "externalRefID": row["external_ref_id"],
            "status": ORDER_EVENT_STATUS.get(row["status"], "SUCCESSFUL"),
            "totalLineItems": total,
            "failedLineItems": failed,
            "successfulLineItems": total - failed,
            "referenceOrderId": ref_order,
            "accountIdentifier": row["account_identifier"],
            "customerIdentifier": row["customer_identifier"],
        }
        for sub in self.subscribers(c, "AsyncOrderStatus"):
            self.insert(c, sub["webhook_id"], "AsyncOrderStatus", data)

    def to_subscribers(self, c: Connection, event_type: str, items: list[dict[str, Any]]) -> None:
        """One event per item for every subscriber of ``event_type`` (subscribers looked up
        once for the batch)."""
        subs = self.subscribers(c, event_type) if items else []
        for sub in subs:
            for data in items:
                self.insert(c, sub["webhook_id"], event_type, data)

    def delivery_status(self, c: Connection, changes: list[tuple[str, str]]) -> None:
        """``LineItemDeliveryStatus`` for each (referenceLineItemId, new delivery status)."""
        items = [{"referenceLineItemId": ref, "status": status} for ref, status in changes]
        self.to_subscribers(c, "LineItemDeliveryStatus", items)

    def reward_status(self, c: Connection, change: dict[str, Any]) -> None:
        """``RewardStatus`` after an action on a line's reward (cancel, freeze, reissue...)."""
        self.to_subscribers(c, "RewardStatus", [change])
