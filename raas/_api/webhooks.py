"""Webhook subscriptions, their events and test deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._accounts import EventTypes, UpdateWebhookCriteria
from .._models import SubscriptionHeader, WebhookEventsPage, WebhookSubscription
from .._transport import Transport


class WebhooksAPI(Transport):
    def create_webhook(
        self,
        url: str,
        *,
        event_types: list[str] | None = None,
        categories: list[str] | None = None,
        headers: dict[str, str] | None = None,
        verification: str = "HMAC",
        hmac_shared_secret_key: str | None = None,
        signing_certificate: str | None = None,
    ) -> WebhookSubscription:
        body: dict[str, Any] = {
            "url": url,
            "eventTypes": event_types or ["AsyncOrderStatus"],
            "payloadVerificationMethod": verification,
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
        }
        if categories:
            body["categories"] = categories
        if hmac_shared_secret_key:
            body["hmacSharedSecretKey"] = hmac_shared_secret_key
        if signing_certificate:
            body["signingCertificate"] = signing_certificate
        created = self._json("POST", "/webhooks", body=body)
        return self.get_webhook(created["webhookId"])

    def list_webhooks(self) -> list[WebhookSubscription]:
        data = self._json("GET", "/webhooks")
        return [WebhookSubscription.model_validate(w) for w in data.get("items", [])]

    def get_webhook(self, webhook_id: str) -> WebhookSubscription:
        return WebhookSubscription.model_validate(self._json("GET", f"/webhooks/{webhook_id}"))

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        event_types: list[str] | None = None,
        categories: list[str] | None = None,
        headers: dict[str, str] | None = None,
        verification: str | None = None,
        hmac_shared_secret_key: str | None = None,
        signing_certificate: str | None = None,
    ) -> WebhookSubscription:
        """What is given replaces the subscription's (a PATCH: retried like a read)."""
        change = UpdateWebhookCriteria(
            url=url,
            eventTypes=event_types,
            categories=categories,
            headers=None
            if headers is None
            else [SubscriptionHeader(name=k, value=v) for k, v in headers.items()],
            payloadVerificationMethod=verification,
            hmacSharedSecretKey=hmac_shared_secret_key,
            signingCertificate=signing_certificate,
        )
        body = change.model_dump(mode="json", exclude_none=True)
        data = self._json("PATCH", f"/webhooks/{webhook_id}", body=body)
        return WebhookSubscription.model_validate(data)

    def get_event_types(self) -> list[EventTypes]:
        """The event types a subscription can ask for, by category."""
        data = self._json("GET", "/webhooks/eventtypes")
        return [EventTypes.model_validate(i) for i in data.get("items", [])]

    def delete_webhook(self, webhook_id: str) -> None:
        self._send("DELETE", f"/webhooks/{webhook_id}")

    def renew_webhook(self, webhook_id: str) -> str:
        """Extend the subscription; returns the new ``expiresAt``."""
        return str(
            self._json("POST", f"/webhooks/{webhook_id}/renew", repeatable=True)["expiresAt"]
        )

    def iter_webhook_events(
        self,
        webhook_id: str,
        *,
        from_revision: int | None = None,
        to_revision: int | None = None,
        max_results: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Past events of a subscription (raw dicts; parse with :func:`raas.parse_async_order_event`)."""
        cursor: str | None = None
        while True:
            params = {
                "fromRevision": from_revision,
                "toRevision": to_revision,
                "maxResults": max_results,
                "nextCursor": cursor,
            }
            page = WebhookEventsPage.model_validate(
                self._json("GET", f"/webhooks/{webhook_id}/events", params=params)
            )
            yield from page.items
            if not page.nextPageAvailable or not page.nextCursor:
                return
            cursor = page.nextCursor

    def replay_webhook_events(
        self, webhook_id: str, from_revision: int, to_revision: int | None = None
    ) -> None:
        params = {"fromRevision": from_revision, "toRevision": to_revision}
        self._send("POST", f"/webhooks/{webhook_id}/replay", params=params, repeatable=True)

    def test_webhook(self, webhook_id: str, test_name: str | None = None) -> None:
        path = f"/webhooks/{webhook_id}/tests" + (f"/{test_name}" if test_name else "")
        self._send("POST", path)
