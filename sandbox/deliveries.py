"""Delivering queued events: POST each to its subscriber, signed as the subscription says,
retried with backoff on anything but 2xx; the webhook faults (drop, duplicate) are applied here."""

from __future__ import annotations

import json
import time
from sqlite3 import Row

import httpx

from raas.webhooks import SIGNATURE_HEADER, sign_hmac, sign_x509

from .config import SandboxConfig
from .faults import FaultInjector
from .store import Store


def signed_headers(row: Row, body: bytes) -> dict[str, str]:
    """The subscription's own headers, the content type and ``X-Signed-Payload``."""
    headers = {h["name"]: h["value"] for h in json.loads(row["headers_json"])}
    headers["Content-Type"] = "application/json"
    if row["verification"] == "HMAC" and row["hmac_key"]:
        headers[SIGNATURE_HEADER] = sign_hmac(body, row["hmac_key"])
    elif row["verification"] == "X509" and row["signing_key"]:
        headers[SIGNATURE_HEADER] = sign_x509(body, row["signing_key"].encode())
    return headers


class Deliveries:
    def __init__(self, config: SandboxConfig, store: Store, dice: FaultInjector) -> None:
        self.config = config
        self.store = store
        self.dice = dice

    def deliver_due(self, http: httpx.Client, limit: int = 100) -> int:
        """POST due events to their subscribers, signed; retry non-2xx with backoff."""
        now = time.time()
        with self.store.tx() as c:
            due = c.execute(
                "SELECT d.id, d.attempts, e.body, w.* FROM deliveries d "
                "JOIN events e ON e.revision=d.revision JOIN webhooks w ON w.webhook_id=e.webhook_id "
                "WHERE d.state='pending' AND d.next_at <= ? ORDER BY d.next_at LIMIT ?",
                (now, limit),
            ).fetchall()
        for row in due:
            self._deliver(http, row)
        return len(due)

    def _deliver(self, http: httpx.Client, row: Row) -> None:
        faults = self.dice.faults
        if row["attempts"] == 0 and self.dice.chance(faults.webhook_drop_rate):
            self._mark(row["id"], "dropped", None)
            return
        copies = 2 if self.dice.chance(faults.webhook_duplicate_rate) else 1
        body = row["body"].encode()
        headers = signed_headers(row, body)
        status: int | None = None
        for _ in range(copies):
            try:
                status = http.post(row["url"], content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
        if status is not None and 200 <= status < 300:
            self._mark(row["id"], "delivered", status)
            return
        attempts = row["attempts"] + 1
        if attempts >= self.config.webhook_max_attempts:
            self._mark(row["id"], "failed", status, attempts)
            return
        with self.store.tx() as c:
            c.execute(
                "UPDATE deliveries SET attempts=?, next_at=?, last_status=? WHERE id=?",
                (
                    attempts,
                    time.time() + self.config.webhook_backoff_s * 2 ** (attempts - 1),
                    status,
                    row["id"],
                ),
            )

    def _mark(
        self, delivery_id: int, state: str, status: int | None, attempts: int | None = None
    ) -> None:
        with self.store.tx() as c:
            c.execute(
                "UPDATE deliveries SET state=?, last_status=?, attempts=COALESCE(?, attempts+1) "
                "WHERE id=?",
                (state, status, attempts, delivery_id),
            )
