"""The background work on orders: each due line is delivered (credentials generated) or fails
(refunded); an order with nothing left to do becomes final and is announced."""

from __future__ import annotations

import json
import random
import secrets
import time
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._models import Catalog, CatalogItem

from .config import SandboxConfig
from .events import Events
from .money import credit
from .store import Store
from .wire import now_iso


class Fulfilment:
    def __init__(self, config: SandboxConfig, store: Store, catalog: Catalog, events: Events):
        self.config = config
        self.store = store
        self.catalog = catalog
        self.events = events

    def process_due(self, limit: int = 2000) -> int:
        """Move due line items to a final state; finish orders with nothing left to do."""
        now = time.time()
        with self.store.tx() as c:
            rows = c.execute(
                "SELECT * FROM line_items WHERE status='PENDING' AND scheduled_delivery_date IS NULL "
                "AND ready_at <= ? LIMIT ?",
                (now, limit),
            ).fetchall()
            if not rows:
                return 0
            issued = now_iso()
            resent = _resent(c)
            changes = []
            for row in rows:
                ref = row["reference_line_item_id"]
                if reason := self.fails(row, first_attempt=ref not in resent):
                    self._fail(c, row, reason)
                    changes.append((ref, "FAILED"))
                else:
                    changes.append((ref, self._deliver(c, row, issued)))
            for ref, delivery in changes:
                if ref in resent:
                    c.execute(
                        "UPDATE resends SET delivery_status=? WHERE reference_line_item_id=? "
                        "AND delivery_status='PENDING'",
                        (delivery, ref),
                    )
            self.events.delivery_status(c, changes)
            for ref_order in {row["reference_order_id"] for row in rows}:
                self.maybe_finish(c, ref_order)
            return len(rows)

    def fails(self, row: Row | dict[str, Any], first_attempt: bool = True) -> str | None:
        """Why delivering this line fails, if it does: the failing domain (by email) or number
        (by text or WhatsApp), or (on a first attempt only, so a resend can succeed) the
        seeded dice. A contact the method does not use fails nothing."""
        recipient = json.loads(row["recipient_json"])
        method = row["delivery_method"]
        email = (recipient.get("email") or "").lower()
        if method == "EMAIL" and email.endswith("@" + self.config.fail_email_domain):
            return f"delivery to {self.config.fail_email_domain} is refused by the sandbox"
        number = self.config.fail_mobile_number
        if method in ("PHONE", "WHATSAPP") and recipient.get("mobileNumber") == number:
            return f"delivery to {number} is refused by the sandbox"
        if first_attempt and self.config.failure_rate > 0:
            rng = random.Random(f"{self.config.failure_seed}:{row['external_ref_line_item_id']}")
            if rng.random() < self.config.failure_rate:
                return "simulated delivery failure (sandbox failure_rate)"
        return None

    def _fail(self, c: Connection, row: Row, reason: str) -> None:
        order = c.execute(
            "SELECT account_identifier FROM orders WHERE reference_order_id=?",
            (row["reference_order_id"],),
        ).fetchone()
        credit(c, order["account_identifier"], Decimal(row["charged"]))  # refund
        c.execute(
            "UPDATE line_items SET status='FAILED', delivery_status='FAILED', charged='0', "
            "errors_json=? WHERE reference_line_item_id=?",
            (
                json.dumps([{"errorCode": "DELIVERY_FAILED", "errorMessage": reason}]),
                row["reference_line_item_id"],
            ),
        )

    def _deliver(self, c: Connection, row: Row, issued: str) -> str:
        item = self.catalog.item(row["utid"] or "")
        delivery = "DISPATCHED" if row["delivery_method"] == "ADDRESS" else "DELIVERED"
        c.execute(
            "UPDATE line_items SET status='COMPLETE', delivery_status=?, date_issued=?, "
            "credentials_json=?, reward_status='ACTIVE' WHERE reference_line_item_id=?",
            (
                delivery,
                issued,
                json.dumps(self.credentials(row["reference_line_item_id"], item)),
                row["reference_line_item_id"],
            ),
        )
        return delivery

    def credentials(self, ref_li: str, item: CatalogItem | None) -> list[dict[str, str]]:
        """A fresh reward's credentials, each carrying the canary so a leak is findable."""
        types = item.credentialTypes if item else ["cardNumber"]
        canary = self.config.credential_canary
        out = []
        for t in types or ["cardNumber"]:
            token = f"{canary}-{ref_li}-{secrets.token_hex(6).upper()}"
            if t == "redemptionUrl":
                out.append(
                    {
                        "label": "Redemption URL",
                        "value": f"https://rewards.sandbox.invalid/r/{token}",
                        "type": "url",
                        "credentialType": t,
                    }
                )
            elif t == "cardPin":
                out.append(
                    {
                        "label": "PIN",
                        "value": f"{canary}-PIN-{secrets.randbelow(10**6):06d}",
                        "type": "text",
                        "credentialType": t,
                    }
                )
            else:
                out.append(
                    {"label": "Card Number", "value": token, "type": "text", "credentialType": t}
                )
        return out

    def maybe_finish(self, c: Connection, ref_order: str) -> None:
        """Make the order final (and announce it) once only scheduled lines are left."""
        finish_if_done(c, self.events, ref_order)


def _resent(c: Connection) -> set[str]:
    """Lines whose resend is waiting for the worker."""
    rows = c.execute(
        "SELECT DISTINCT reference_line_item_id FROM resends WHERE delivery_status='PENDING'"
    ).fetchall()
    return {r[0] for r in rows}


def finish_if_done(c: Connection, events: Events, ref_order: str) -> None:
    """Make the order final (and announce it) once only scheduled lines are left: when its
    last due line is done, or when it is placed with none due (reward links all scheduled
    for later: an order waited for without end)."""
    left = c.execute(
        "SELECT COUNT(*) FROM line_items WHERE reference_order_id=? AND status='PENDING' "
        "AND scheduled_delivery_date IS NULL",
        (ref_order,),
    ).fetchone()[0]
    if left:
        return
    counts = dict(
        c.execute(
            "SELECT status, COUNT(*) FROM line_items WHERE reference_order_id=? GROUP BY status",
            (ref_order,),
        ).fetchall()
    )
    failed = counts.get("FAILED", 0)
    total = sum(counts.values())
    status = "FAILED" if failed == total else ("PARTIAL" if failed else "COMPLETE")
    c.execute(
        "UPDATE orders SET status=?, completed_at=? WHERE reference_order_id=?",
        (status, now_iso(), ref_order),
    )
    events.order_status(c, ref_order)
