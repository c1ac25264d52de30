"""From the store to Prefect: POST pending events to the server's ``/events`` endpoint and
mark them emitted only when Prefect answered 2xx. The Prefect event id is derived from
Tango's ``eventId``, so emitting twice after a crash is harmless."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from raas import parse_async_order_event

from .config import EVENT_NAME, RESOURCE_PREFIX
from .store import EventStore

log = logging.getLogger("webhooks")
NAMESPACE = uuid.UUID("5b0f3a57-7c3e-4a2e-9a49-6f1f2b7d2c10")


def prefect_event(body: dict[str, Any]) -> dict[str, Any]:
    event = parse_async_order_event(body)
    occurred = event.eventOccurredAt or datetime.now(UTC)
    resource = {
        "prefect.resource.id": RESOURCE_PREFIX + event.externalRefID,
        "prefect.resource.name": event.externalRefID,
        "tango.status": event.status,
    }
    if event.accountIdentifier:
        resource["tango.account"] = event.accountIdentifier
    if event.customerIdentifier:
        resource["tango.customer"] = event.customerIdentifier
    return {
        "id": str(uuid.uuid5(NAMESPACE, event.eventId)),
        "occurred": occurred.isoformat(),
        "event": EVENT_NAME,
        "resource": resource,
        "related": [],
        "payload": body,
    }


def api_url(explicit: str | None) -> str | None:
    if explicit:
        return explicit.rstrip("/")
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return url.rstrip("/") if url else None


class Emitter:
    def __init__(self, store: EventStore, prefect_api_url: str | None, interval_s: float) -> None:
        self.store = store
        self.explicit_url = prefect_api_url
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks-emitter", daemon=True)
        self.wake = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=10)

    def emit_pending(self, http: httpx.Client) -> int:
        url = api_url(self.explicit_url)
        pending = self.store.pending()
        if not pending or not url:
            return 0
        try:
            response = http.post(url + "/events", json=[prefect_event(p["body"]) for p in pending])
        except httpx.HTTPError as exc:
            log.warning("Prefect unreachable (%s); %d events kept for later", exc, len(pending))
            return 0
        if response.status_code >= 300:
            log.warning(
                "Prefect answered %s; %d events kept for later", response.status_code, len(pending)
            )
            return 0
        self.store.mark_emitted([p["event_id"] for p in pending])
        return len(pending)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                try:
                    sent = self.emit_pending(http)
                except Exception:  # keep emitting; the error is in the log
                    log.exception("emitting events failed")
                    sent = 0
                if not sent:
                    self.wake.wait(self.interval_s)
                    self.wake.clear()
