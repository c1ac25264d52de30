"""Register the receiver with Tango as an ``AsyncOrderStatus`` subscription and renew it
before it expires (Tango's subscriptions expire).

Tango has no create-if-absent, so receivers starting together could each list, find nothing
and create. Each one therefore lists again after creating and keeps the oldest subscription
for its URL, deleting the others: whoever looks last sees them all, and all keep the same one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from raas import NotFoundError, RaasClient, RaasError, TangoSettings, WebhookSubscription

from .config import ReceiverSettings

log = logging.getLogger("webhooks")


def subscriptions_for(client: RaasClient, url: str) -> list[WebhookSubscription]:
    """The subscriptions for ``url``, oldest first (the one every receiver keeps)."""
    mine = [sub for sub in client.list_webhooks() if sub.url == url]
    return sorted(mine, key=lambda sub: (sub.createdAt or "", sub.webhookId))


def ensure_subscription(client: RaasClient, settings: ReceiverSettings) -> str:
    """The id of the one subscription for ``register_url``: an existing one, or a new one;
    duplicates (two receivers registering at once) are deleted."""
    url = settings.register_url
    assert url
    found = subscriptions_for(client, url)
    if not found:
        key = settings.hmac_key.get_secret_value() if settings.hmac_key else None
        created = client.create_webhook(
            url,
            event_types=["AsyncOrderStatus"],
            verification="HMAC" if key else "NONE",
            hmac_shared_secret_key=key,
        )
        log.info("registered %s with Tango as webhook %s", url, created.webhookId)
        found = subscriptions_for(client, url) or [created]
    keep, *extra = found
    for sub in extra:
        with contextlib.suppress(NotFoundError):  # another receiver deleted it first
            client.delete_webhook(sub.webhookId)
        log.info(
            "deleted webhook %s: %s is already subscribed as %s", sub.webhookId, url, keep.webhookId
        )
    return keep.webhookId


def renew_if_due(client: RaasClient, webhook_id: str, before: timedelta) -> bool:
    sub = client.get_webhook(webhook_id)
    if not sub.expiresAt:
        return False
    expires = datetime.fromisoformat(sub.expiresAt.replace("Z", "+00:00"))
    if expires - datetime.now(UTC) > before:
        return False
    client.renew_webhook(webhook_id)
    return True


def keep_registered(
    settings: ReceiverSettings,
    stop: threading.Event,
    registered: Callable[[str], None] = lambda webhook_id: None,
    check_every_s: float = 3600,
) -> None:
    """Until ``stop``: make sure of the subscription (``registered`` is told its id), renew
    it when due, and look again every ``check_every_s``."""
    before = timedelta(days=settings.renew_before_days)
    while not stop.is_set():
        try:
            with RaasClient(TangoSettings()) as client:
                webhook_id = ensure_subscription(client, settings)
                registered(webhook_id)
                if renew_if_due(client, webhook_id, before):
                    log.info("renewed webhook %s", webhook_id)
        except (RaasError, ValueError) as exc:
            log.warning("webhook registration failed: %s (will retry)", exc)
        stop.wait(check_every_s)
