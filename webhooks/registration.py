"""Register the receiver with Tango as an ``AsyncOrderStatus`` subscription and renew it
before it expires (Tango's subscriptions expire)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from raas import RaasClient, RaasError, TangoSettings

from .config import ReceiverSettings

log = logging.getLogger("webhooks")


def ensure_subscription(client: RaasClient, settings: ReceiverSettings) -> str:
    """The id of a subscription for ``register_url``: an existing one, or a new one."""
    assert settings.register_url
    for sub in client.list_webhooks():
        if sub.url == settings.register_url:
            return sub.webhookId
    key = settings.hmac_key.get_secret_value() if settings.hmac_key else None
    sub = client.create_webhook(
        settings.register_url,
        event_types=["AsyncOrderStatus"],
        verification="HMAC" if key else "NONE",
        hmac_shared_secret_key=key,
    )
    log.info("registered %s with Tango as webhook %s", settings.register_url, sub.webhookId)
    return sub.webhookId


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
    settings: ReceiverSettings, stop: threading.Event, check_every_s: float = 3600
) -> None:
    before = timedelta(days=settings.renew_before_days)
    while not stop.is_set():
        try:
            with RaasClient(TangoSettings()) as client:
                webhook_id = ensure_subscription(client, settings)
                if renew_if_due(client, webhook_id, before):
                    log.info("renewed webhook %s", webhook_id)
        except (RaasError, ValueError) as exc:
            log.warning("webhook registration failed: %s (will retry)", exc)
        stop.wait(check_every_s)
