"""Webhook subscriptions: create, read, renew, delete; their past events, listed and replayed;
test events on demand."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from sqlite3 import Connection, Row
from typing import Any

from raas._accounts import UpdateWebhookCriteria
from raas.webhooks import new_x509_pair

from .config import SandboxConfig
from .errors import ApiError
from .events import Events
from .store import Store, insert
from .wire import (
    clean,
    cursor_page,
    decode_cursor,
    field_error,
    now_iso,
    page_bounds,
    parse,
    require,
)

TEST_ORDER_EVENT = {
    "externalRefID": "TEST-ORDER",
    "status": "SUCCESSFUL",
    "totalLineItems": 1,
    "failedLineItems": 0,
    "successfulLineItems": 1,
    "referenceOrderId": "RA000000-000000-00",
    "accountIdentifier": "test-account",
    "customerIdentifier": "test-customer",
}


def subscription_view(row: Row) -> dict[str, Any]:
    return clean(
        {
            "webhookId": row["webhook_id"],
            "url": row["url"],
            "headers": json.loads(row["headers_json"]),
            "categories": json.loads(row["categories_json"]),
            "eventTypes": json.loads(row["event_types_json"]),
            "signingCertificate": row["certificate"],
            "hmacSharedSecretKey": row["hmac_key"],
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "expiresAt": row["expires_at"],
            "payloadVerificationMethod": row["verification"],
        }
    )


def subscription_problems(body: Any, signing_key_pem: str | None) -> list[dict[str, Any]]:
    """What is wrong with a subscription request (``url``, the verification and its key)."""
    errors = require(body, ("url",))
    if not isinstance(body, dict):
        return errors
    method = body.get("payloadVerificationMethod", "NONE")
    if method not in ("HMAC", "X509", "NONE"):
        errors.append(field_error("payloadVerificationMethod", "Enum", "one of HMAC, X509, NONE"))
    if method == "HMAC" and not body.get("hmacSharedSecretKey"):
        errors.append(field_error("hmacSharedSecretKey", "NotBlank", "required for HMAC"))
    if method == "HMAC" and body.get("hmacSharedSecretKey"):
        try:
            base64.b64decode(body["hmacSharedSecretKey"], validate=True)
        except ValueError:
            errors.append(field_error("hmacSharedSecretKey", "Base64", "must be base64"))
    if method == "X509" and not (body.get("signingCertificate") and signing_key_pem):
        errors.append(
            field_error(
                "signingCertificate",
                "NotBlank",
                "required for X509 (the sandbox issues one: POST /sandbox/x509 returns a key pair)",
            )
        )
    for h in body.get("headers") or []:
        if not isinstance(h, dict) or not h.get("name") or not h.get("value"):
            errors.append(
                field_error("headers", "NotBlank", "each header needs a name and a value")
            )
    return errors


class Subscriptions:
    def __init__(self, config: SandboxConfig, store: Store, events: Events) -> None:
        self.config = config
        self.store = store
        self.events = events
        self._x509_keys: dict[str, str] = {}  # certificate PEM -> its private key PEM

    def issue_x509(self) -> str:
        """A certificate to register with ``payloadVerificationMethod=X509``; the sandbox keeps
        its private key and signs deliveries with it, as Tango does with its own."""
        key_pem, cert_pem = new_x509_pair()
        self._x509_keys[cert_pem] = key_pem.decode()
        return cert_pem

    def _expiry(self) -> str:
        return (
            (datetime.now(UTC) + timedelta(days=self.config.webhook_ttl_days))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def _row(self, c: Connection, webhook_id: str, missing: int = 404) -> Row:
        """``missing``: 404 where the operation's document lists it, else 400."""
        row = c.execute("SELECT * FROM webhooks WHERE webhook_id=?", (webhook_id,)).fetchone()
        if not row:
            raise ApiError(
                missing,
                f"Webhook subscription {webhook_id} not found",
                [field_error("webhookId", "NotFound", f"no subscription {webhook_id}")],
            )
        return row

    def create(self, body: Any) -> dict[str, Any]:
        signing_key_pem = None
        if isinstance(body, dict) and body.get("payloadVerificationMethod") == "X509":
            signing_key_pem = self._x509_keys.get(body.get("signingCertificate") or "")
        if errors := subscription_problems(body, signing_key_pem):
            raise ApiError(400, "Invalid webhook subscription", errors)
        webhook_id = str(uuid.uuid4())
        created = now_iso()
        expires = self._expiry()
        with self.store.tx() as c:
            insert(
                c,
                "webhooks",
                {
                    "webhook_id": webhook_id,
                    "url": body["url"],
                    "headers_json": json.dumps(body.get("headers") or []),
                    "categories_json": json.dumps(body.get("categories") or []),
                    "event_types_json": json.dumps(body.get("eventTypes") or []),
                    "verification": body.get("payloadVerificationMethod", "NONE"),
                    "hmac_key": body.get("hmacSharedSecretKey"),
                    "certificate": body.get("signingCertificate"),
                    "signing_key": signing_key_pem,
                    "created_at": created,
                    "updated_at": created,
                    "expires_at": expires,
                },
            )
        return {"webhookId": webhook_id, "expiresAt": expires}

    def update(self, webhook_id: str, body: Any) -> dict[str, Any]:
        """What is given replaces the subscription's; the result is checked as a new
        subscription would be (400; also for an unknown id: the document lists no 404)."""
        change = parse(UpdateWebhookCriteria, body)
        with self.store.tx() as c:
            row = self._row(c, webhook_id, 400)  # no 404 in the document
            merged = {**subscription_view(row), **change.model_dump(mode="json", exclude_none=True)}
            key = self._signing_key(merged, row)
            if errors := subscription_problems(merged, key):
                raise ApiError(400, "Invalid webhook subscription", errors)
            c.execute(
                "UPDATE webhooks SET url=?, headers_json=?, categories_json=?, "
                "event_types_json=?, verification=?, hmac_key=?, certificate=?, signing_key=?, "
                "updated_at=? WHERE webhook_id=?",
                (
                    merged["url"],
                    json.dumps(merged.get("headers") or []),
                    json.dumps(merged.get("categories") or []),
                    json.dumps(merged.get("eventTypes") or []),
                    merged.get("payloadVerificationMethod", "NONE"),
                    merged.get("hmacSharedSecretKey"),
                    merged.get("signingCertificate"),
                    key,
                    now_iso(),
                    webhook_id,
                ),
            )
            return subscription_view(self._row(c, webhook_id))

    def _signing_key(self, merged: dict[str, Any], row: Row) -> str | None:
        """The private key that signs for the subscription's certificate, if X509."""
        if merged.get("payloadVerificationMethod") != "X509":
            return None
        cert = merged.get("signingCertificate") or ""
        return self._x509_keys.get(cert) or (
            row["signing_key"] if cert == row["certificate"] else None
        )

    def list(self) -> dict[str, Any]:
        with self.store.tx() as c:
            rows = c.execute("SELECT * FROM webhooks ORDER BY created_at").fetchall()
        items = [subscription_view(r) for r in rows]
        return {
            "numberOfElements": len(items),
            "maxResults": max(len(items), 1),
            "items": items,
            "prevPageAvailable": False,
            "nextPageAvailable": False,
        }

    def get(self, webhook_id: str) -> dict[str, Any]:
        with self.store.tx() as c:
            return subscription_view(self._row(c, webhook_id, 400))  # no 404 in the document

    def delete(self, webhook_id: str) -> None:
        with self.store.tx() as c:
            self._row(c, webhook_id)
            c.execute("DELETE FROM webhooks WHERE webhook_id=?", (webhook_id,))
            c.execute(
                "UPDATE deliveries SET state='cancelled' WHERE state='pending' AND revision IN "
                "(SELECT revision FROM events WHERE webhook_id=?)",
                (webhook_id,),
            )

    def renew(self, webhook_id: str) -> dict[str, Any]:
        expires = self._expiry()
        with self.store.tx() as c:
            self._row(c, webhook_id, 400)  # no 404 in the document
            c.execute(
                "UPDATE webhooks SET expires_at=?, updated_at=? WHERE webhook_id=?",
                (expires, now_iso(), webhook_id),
            )
        return {"webhookId": webhook_id, "expiresAt": expires}

    def list_events(self, webhook_id: str, params: dict[str, Any]) -> dict[str, Any]:
        size = page_bounds(params.get("maxResults"), 50, 500)
        offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
        lo = int(params.get("fromRevision") or 0)
        hi = int(params.get("toRevision") or 2**62)
        with self.store.tx() as c:
            self._row(c, webhook_id)
            args = (webhook_id, lo, hi)
            total = c.execute(
                "SELECT COUNT(*) FROM events WHERE webhook_id=? AND revision BETWEEN ? AND ?", args
            ).fetchone()[0]
            rows = c.execute(
                "SELECT body FROM events WHERE webhook_id=? AND revision BETWEEN ? "
                "AND ? ORDER BY revision LIMIT ? OFFSET ?",
                (*args, size, offset),
            ).fetchall()
        return clean(
            {
                "numberOfElements": len(rows),
                "maxResults": size,
                "items": [json.loads(r["body"]) for r in rows],
                **cursor_page(offset, size, len(rows), total),
            }
        )

    def replay(self, webhook_id: str, from_revision: int, to_revision: int | None) -> None:
        with self.store.tx() as c:
            self._row(c, webhook_id)
            rows = c.execute(
                "SELECT revision FROM events WHERE webhook_id=? AND revision BETWEEN ? AND ?",
                (webhook_id, from_revision, to_revision or 2**62),
            ).fetchall()
            for r in rows:
                c.execute(
                    "INSERT INTO deliveries (revision, next_at, state) VALUES (?,?,'pending')",
                    (r["revision"], time.time()),
                )

    def test(self, webhook_id: str, test_name: str | None) -> None:
        with self.store.tx() as c:
            row = self._row(c, webhook_id)
            event_type = test_name or "ConnectivityTest"
            data: dict[str, Any] = {"message": "Test event from the Tango sandbox"}
            if event_type == "AsyncOrderStatus":
                data = dict(TEST_ORDER_EVENT)
            self.events.insert(c, row["webhook_id"], event_type, data)
